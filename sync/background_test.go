package sync

import (
	"context"
	"fmt"
	stdsync "sync"
	"sync/atomic"
	"testing"
	"time"
)

// fakeRuns counts runs, can block them and fail them.
type fakeRuns struct {
	mu      stdsync.Mutex
	reasons []string
	active  atomic.Int32
	maxSeen atomic.Int32
	fail    atomic.Bool
	gate    chan struct{}
}

func (f *fakeRuns) run(ctx context.Context) (Summary, error) {
	n := f.active.Add(1)
	defer f.active.Add(-1)
	if n > f.maxSeen.Load() {
		f.maxSeen.Store(n)
	}
	if f.gate != nil {
		select {
		case <-f.gate:
		case <-ctx.Done():
			return Summary{}, ctx.Err()
		}
	}
	if f.fail.Load() {
		return Summary{}, fmt.Errorf("%w: test", ErrPortalUnreachable)
	}
	return Summary{Pushed: 1}, nil
}

func (f *fakeRuns) result(reason string, _ Summary, _ error) {
	f.mu.Lock()
	f.reasons = append(f.reasons, reason)
	f.mu.Unlock()
}

func (f *fakeRuns) waitFor(t *testing.T, n int) []string {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		f.mu.Lock()
		got := append([]string(nil), f.reasons...)
		f.mu.Unlock()
		if len(got) >= n {
			return got
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("waited for %d runs", n)
	return nil
}

func TestBackgroundTriggersAndEdits(t *testing.T) {
	f := &fakeRuns{}
	b := &Background{Run: f.run, OnResult: f.result, EditDelay: 50 * time.Millisecond}
	b.Start(context.Background())
	t.Cleanup(b.Stop)
	b.Trigger(ReasonUnlock)
	if got := f.waitFor(t, 1); got[0] != ReasonUnlock {
		t.Fatalf("first run: %v", got)
	}
	// Edits in quick succession make one run.
	for range 5 {
		b.Edited()
		time.Sleep(5 * time.Millisecond)
	}
	got := f.waitFor(t, 2)
	time.Sleep(150 * time.Millisecond)
	f.mu.Lock()
	n := len(f.reasons)
	f.mu.Unlock()
	if got[1] != ReasonEdit || n != 2 {
		t.Fatalf("after five edits: %v (%d runs)", got, n)
	}
}

func TestBackgroundOneRunAtATime(t *testing.T) {
	f := &fakeRuns{gate: make(chan struct{})}
	b := &Background{Run: f.run, OnResult: f.result}
	b.Start(context.Background())
	t.Cleanup(b.Stop)
	b.Trigger(ReasonNow)
	for f.active.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	for range 10 {
		b.Trigger(ReasonNow) // while one runs: at most one more afterwards
	}
	close(f.gate)
	f.waitFor(t, 2)
	time.Sleep(50 * time.Millisecond)
	f.mu.Lock()
	n := len(f.reasons)
	f.mu.Unlock()
	if f.maxSeen.Load() != 1 || n != 2 {
		t.Fatalf("max concurrent runs %d, runs %d", f.maxSeen.Load(), n)
	}
}

func TestBackgroundNetworkReturns(t *testing.T) {
	f := &fakeRuns{}
	f.fail.Store(true)
	var up atomic.Bool
	b := &Background{Run: f.run, OnResult: f.result, ProbeEvery: 20 * time.Millisecond,
		Probe: func(context.Context) bool { return up.Load() }}
	b.Start(context.Background())
	t.Cleanup(b.Stop)
	b.Trigger(ReasonNow)
	f.waitFor(t, 1)
	time.Sleep(100 * time.Millisecond) // probes fail: no run
	f.fail.Store(false)
	up.Store(true)
	if got := f.waitFor(t, 2); got[1] != ReasonNetwork {
		t.Fatalf("runs: %v", got)
	}
}

func TestBackgroundInterval(t *testing.T) {
	f := &fakeRuns{}
	b := &Background{Run: f.run, OnResult: f.result, Interval: 30 * time.Millisecond}
	b.Start(context.Background())
	if got := f.waitFor(t, 2); got[0] != ReasonInterval {
		t.Fatalf("runs: %v", got)
	}
	b.Stop()
	b.Stop() // twice is fine
	b.Trigger(ReasonNow)
}

func TestProbeAddrOf(t *testing.T) {
	for in, want := range map[string]string{"https://portal.example:8443": "portal.example:8443", "https://portal.example": "portal.example:443", "::": ""} {
		if got := ProbeAddrOf(in); got != want {
			t.Errorf("ProbeAddrOf(%q) = %q, want %q", in, got, want)
		}
	}
}
