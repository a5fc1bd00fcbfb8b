package storage

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"fmt"
	"slices"
	"sync"

	"fieldoffice/platform"
)

// fakeTPM is an in-memory platform.TPM for tests: "sealing" is AES-GCM under a key of
// this fake only, so another fakeTPM is another TPM (ErrWrongTPM). It checks the auth
// value (ErrAuthFail) and PCR values (ErrPolicy) and can extend PCRs.
type fakeTPM struct {
	mu       sync.Mutex
	id       []byte
	aead     cipher.AEAD
	pcrs     [24][32]byte
	counters map[uint32]uint64
	unseals  int
}

var _ platform.PCRExtender = (*fakeTPM)(nil)

func newFakeTPM() *fakeTPM {
	key := make([]byte, 32)
	id := make([]byte, 8)
	rand.Read(key)
	rand.Read(id)
	block, _ := aes.NewCipher(key)
	aead, _ := cipher.NewGCM(block)
	return &fakeTPM{id: id, aead: aead, counters: map[uint32]uint64{}}
}

type fakeSealed struct {
	Secret []byte `json:"s"`
	Auth   []byte `json:"a"`
	Policy []byte `json:"p"`
}

func (f *fakeTPM) policy(pcrs []int) []byte {
	h := sha256.New()
	for _, p := range pcrs {
		fmt.Fprintf(h, "%d:", p)
		h.Write(f.pcrs[p][:])
	}
	return h.Sum(nil)
}

func (f *fakeTPM) Info() platform.Info {
	return platform.Info{Spec: platform.Spec{Kind: platform.KindSim, Path: "fake"}, Warning: "fake TPM"}
}

func (f *fakeTPM) Seal(secret, auth []byte, pcrs []int) (*platform.SealedKey, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range pcrs {
		if p < 0 || p > 23 {
			return nil, fmt.Errorf("fake: bad PCR %d", p)
		}
	}
	pt, _ := json.Marshal(fakeSealed{Secret: secret, Auth: auth, Policy: f.policy(pcrs)})
	nonce := make([]byte, 12)
	rand.Read(nonce)
	return &platform.SealedKey{Public: slices.Clone(f.id), Private: f.aead.Seal(nonce, nonce, pt, f.id), PCRs: slices.Clone(pcrs)}, nil
}

func (f *fakeTPM) Unseal(sk *platform.SealedKey, auth []byte) ([]byte, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.unseals++
	if !bytes.Equal(sk.Public, f.id) || len(sk.Private) < 12 {
		return nil, fmt.Errorf("fake: %w", platform.ErrWrongTPM)
	}
	pt, err := f.aead.Open(nil, sk.Private[:12], sk.Private[12:], f.id)
	if err != nil {
		return nil, fmt.Errorf("fake: %w", platform.ErrWrongTPM)
	}
	var s fakeSealed
	if err := json.Unmarshal(pt, &s); err != nil {
		return nil, fmt.Errorf("fake: %w", platform.ErrWrongTPM)
	}
	for _, p := range sk.PCRs {
		if p < 0 || p > 23 {
			return nil, fmt.Errorf("fake: %w", platform.ErrPolicy)
		}
	}
	if !bytes.Equal(s.Policy, f.policy(sk.PCRs)) {
		return nil, fmt.Errorf("fake: %w", platform.ErrPolicy)
	}
	if subtle.ConstantTimeCompare(s.Auth, auth) != 1 {
		return nil, fmt.Errorf("fake: %w", platform.ErrAuthFail)
	}
	return s.Secret, nil
}

func (f *fakeTPM) ExtendPCR(pcr int, data []byte) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	d := sha256.Sum256(data)
	f.pcrs[pcr] = sha256.Sum256(append(f.pcrs[pcr][:], d[:]...))
	return nil
}

func (f *fakeTPM) CounterCreate(index uint32) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.counters[index], nil
}

func (f *fakeTPM) CounterIncrement(index uint32) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.counters[index]++
	return f.counters[index], nil
}

func (f *fakeTPM) CounterRead(index uint32) (uint64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	n, ok := f.counters[index]
	if !ok {
		return 0, platform.ErrNoCounter
	}
	return n, nil
}

func (f *fakeTPM) Close() error { return nil }
