package storage

import (
	"fmt"
	"sync"

	"fieldoffice/platform"
)

// nvFakeTPM is a fakeTPM whose NV counters behave like a real TPM's that persist
// (Info().PersistentNV): a counter must be defined before it is read or incremented,
// and it outlives the vaults that use it (it lives as long as the test's value).
// Tests use it for anti-rollback without swtpm.
type nvFakeTPM struct {
	*fakeTPM
	nvMu       sync.Mutex
	nv         map[uint32]uint64 // defined counters
	reads      int
	increments int
	failIncr   int // the next failIncr increments fail without counting
}

func newNVFakeTPM() *nvFakeTPM { return wrapNVFake(newFakeTPM()) }

// wrapNVFake gives f persistent NV counters (sealed slots of f keep working).
func wrapNVFake(f *fakeTPM) *nvFakeTPM { return &nvFakeTPM{fakeTPM: f, nv: map[uint32]uint64{}} }

func (f *nvFakeTPM) Info() platform.Info {
	return platform.Info{Spec: platform.Spec{Kind: platform.KindMSSim, Addr: "fake:1"}, PersistentNV: true, Warning: "fake TPM with NV"}
}

func (f *nvFakeTPM) CounterCreate(index uint32) (uint64, error) {
	f.nvMu.Lock()
	defer f.nvMu.Unlock()
	if n, ok := f.nv[index]; ok {
		return n, nil
	}
	// Like a TPM: a new counter starts at the highest value any counter had, then is
	// incremented once.
	var hi uint64
	for _, n := range f.nv {
		hi = max(hi, n)
	}
	f.nv[index] = hi + 1
	return hi + 1, nil
}

func (f *nvFakeTPM) CounterIncrement(index uint32) (uint64, error) {
	f.nvMu.Lock()
	defer f.nvMu.Unlock()
	n, ok := f.nv[index]
	if !ok {
		return 0, fmt.Errorf("fake: %w", platform.ErrNoCounter)
	}
	if f.failIncr > 0 {
		f.failIncr--
		return 0, fmt.Errorf("fake: NV_Increment failed (simulated)")
	}
	f.increments++
	f.nv[index] = n + 1
	return n + 1, nil
}

func (f *nvFakeTPM) CounterRead(index uint32) (uint64, error) {
	f.nvMu.Lock()
	defer f.nvMu.Unlock()
	n, ok := f.nv[index]
	if !ok {
		return 0, fmt.Errorf("fake: %w", platform.ErrNoCounter)
	}
	f.reads++
	return n, nil
}

// counter returns the counter's value (test inspection).
func (f *nvFakeTPM) counter(index uint32) uint64 {
	f.nvMu.Lock()
	defer f.nvMu.Unlock()
	return f.nv[index]
}

// set forces a counter's value (tests only: a real counter never goes back).
func (f *nvFakeTPM) set(index uint32, n uint64) {
	f.nvMu.Lock()
	defer f.nvMu.Unlock()
	f.nv[index] = n
}

// undefine removes a counter (TPM2_NV_UndefineSpace with owner auth).
func (f *nvFakeTPM) undefine(index uint32) {
	f.nvMu.Lock()
	defer f.nvMu.Unlock()
	delete(f.nv, index)
}

// calls returns the number of counter reads and increments so far.
func (f *nvFakeTPM) calls() (reads, increments int) {
	f.nvMu.Lock()
	defer f.nvMu.Unlock()
	return f.reads, f.increments
}
