//go:build cgo && !fieldoffice_nosim

package platform_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	pin    = []byte("argon2id-of-the-pin")
)

func openSim(t *testing.T, spec platform.Spec, opts ...platform.Option) platform.TPM {
	t.Helper()
	tp, err := platform.Open(spec, opts...)
	if err != nil {
		t.Fatalf("Open(%s): %v", spec, err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	return tp
}

func TestSimInfo(t *testing.T) {
	tp := openSim(t, tpmtest.SimSpec(t))
	info := tp.Info()
	if info.Hardware || info.PersistentNV || info.Warning != platform.SimWarning || info.Spec.Kind != platform.KindSim {
		t.Errorf("Info() = %+v", info)
	}
	t.Logf("manufacturer %q", info.Manufacturer)
}

func TestSimSealUnseal(t *testing.T) {
	tp := openSim(t, tpmtest.SimSpec(t))
	ext := tp.(platform.PCRExtender)

	withPCR, err := tp.Seal(secret, pin, []int{7})
	if err != nil {
		t.Fatalf("Seal(PCR 7): %v", err)
	}
	noPCR, err := tp.Seal(secret, pin, nil)
	if err != nil {
		t.Fatalf("Seal(no PCRs): %v", err)
	}
	if len(noPCR.PCRs) != 0 || len(withPCR.PCRs) != 1 || withPCR.PCRs[0] != 7 {
		t.Errorf("PCRs = %v / %v", withPCR.PCRs, noPCR.PCRs)
	}
	for name, sk := range map[string]*platform.SealedKey{"pcr7": withPCR, "none": noPCR} {
		got, err := tp.Unseal(sk, pin)
		if err != nil || !bytes.Equal(got, secret) {
			t.Fatalf("Unseal(%s) = %x, %v", name, got, err)
		}
		_, err = tp.Unseal(sk, []byte("wrong pin"))
		if !errors.Is(err, platform.ErrAuthFail) {
			t.Fatalf("Unseal(%s, wrong auth) = %v, want ErrAuthFail", name, err)
		}
		if strings.Contains(err.Error(), "wrong pin") || strings.Contains(err.Error(), string(pin)) {
			t.Errorf("error text contains the auth value: %v", err)
		}
		if !strings.Contains(err.Error(), "TPM_RC_AUTH_FAIL") {
			t.Errorf("error text lacks the TPM code: %v", err)
		}
	}

	before, err := tp.(platform.PCRReader).ReadPCRs([]int{7, 0})
	if err != nil || len(before) != 2 || len(before[7]) != 32 {
		t.Fatalf("ReadPCRs = %x, %v", before, err)
	}
	if err := ext.ExtendPCR(7, []byte("boot config changed")); err != nil {
		t.Fatalf("ExtendPCR: %v", err)
	}
	after, _ := tp.(platform.PCRReader).ReadPCRs([]int{7})
	if bytes.Equal(before[7], after[7]) {
		t.Fatal("PCR 7 unchanged after extend")
	}
	if _, err := tp.Unseal(withPCR, pin); !errors.Is(err, platform.ErrPolicy) {
		t.Fatalf("Unseal(PCR 7) after extend = %v, want ErrPolicy", err)
	} else {
		t.Logf("after extend: %v", err)
	}
	if got, err := tp.Unseal(noPCR, pin); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal(no PCRs) after extend = %x, %v", got, err)
	}
	// A key sealed to the new PCR value works.
	sk, err := tp.Seal(secret[:16], pin, []int{7})
	if err != nil {
		t.Fatal(err)
	}
	if got, err := tp.Unseal(sk, pin); err != nil || !bytes.Equal(got, secret[:16]) {
		t.Fatalf("Unseal(resealed) = %x, %v", got, err)
	}
}

func TestSimSealRejects(t *testing.T) {
	tp := openSim(t, tpmtest.SimSpec(t))
	if _, err := tp.Seal(make([]byte, 33), pin, nil); err == nil {
		t.Error("Seal(33 bytes) succeeded")
	}
	if _, err := tp.Seal(secret, pin, []int{24}); err == nil {
		t.Error("Seal(PCR 24) succeeded")
	}
	if _, err := tp.Unseal(&platform.SealedKey{Public: []byte{1}, Private: []byte{2}}, pin); err == nil {
		t.Error("Unseal(garbage) succeeded")
	}
}

func TestSimCommandCount(t *testing.T) {
	spec := tpmtest.SimSpec(t)
	var sk *platform.SealedKey
	func() {
		tp := openSim(t, spec)
		var err error
		if sk, err = tp.Seal(secret, pin, []int{7}); err != nil {
			t.Fatal(err)
		}
		_ = tp.Close()
	}()
	var n atomic.Int64
	tp := openSim(t, spec, platform.WithCommandCounter(&n))
	start := n.Load()
	if got, err := tp.Unseal(sk, pin); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal = %x, %v", got, err)
	}
	first := n.Load() - start
	t.Logf("TPM commands for the first Unseal on a fresh instance: %d", first)
	if first > 8 {
		t.Errorf("first Unseal took %d TPM commands, want <= 8", first)
	}
	start = n.Load()
	if _, err := tp.Unseal(sk, pin); err != nil {
		t.Fatal(err)
	}
	second := n.Load() - start
	t.Logf("TPM commands for a later Unseal: %d", second)
	if second >= first && first > 0 {
		t.Errorf("later Unseal took %d commands, first %d: SRK not cached", second, first)
	}
}

func TestSimWrongTPMAndSeedPersistence(t *testing.T) {
	dir := t.TempDir()
	specA := platform.Spec{Kind: platform.KindSim, Path: filepath.Join(dir, "a", "sim.seed")}
	specB := platform.Spec{Kind: platform.KindSim, Path: filepath.Join(dir, "b", "sim.seed")}

	a, err := platform.Open(specA)
	if err != nil {
		t.Fatal(err)
	}
	sk, err := a.Seal(secret, pin, []int{7})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	fi, err := os.Stat(specA.Path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("seed file mode = %v, %v; want 0600", fi.Mode(), err)
	}

	b, err := platform.Open(specB)
	if err != nil {
		t.Fatal(err)
	}
	_, err = b.Unseal(sk, pin)
	if !errors.Is(err, platform.ErrWrongTPM) {
		t.Errorf("Unseal on other TPM = %v, want ErrWrongTPM", err)
	}
	// Without the SRK name hint, TPM2_Load itself must fail as wrong TPM.
	noName := *sk
	noName.SRKName = nil
	if _, err := b.Unseal(&noName, pin); !errors.Is(err, platform.ErrWrongTPM) {
		t.Errorf("Unseal on other TPM (no SRK name) = %v, want ErrWrongTPM", err)
	} else {
		t.Logf("other TPM, no SRK name: %v", err)
	}
	_ = b.Close()

	a2, err := platform.Open(specA)
	if err != nil {
		t.Fatal(err)
	}
	defer a2.Close()
	if got, err := a2.Unseal(sk, pin); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal after reopening seed A = %x, %v", got, err)
	}
}

func TestSimSeedFileErrors(t *testing.T) {
	bad := filepath.Join(t.TempDir(), "bad.seed")
	if err := os.WriteFile(bad, []byte("not a number"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := platform.Open(platform.Spec{Kind: platform.KindSim, Path: bad})
	if err == nil || !strings.Contains(err.Error(), "malformed") {
		t.Errorf("Open(malformed seed) = %v", err)
	}
	_, err = platform.Open(platform.Spec{Kind: platform.KindSim, Path: t.TempDir()})
	if err == nil {
		t.Error("Open(seed path is a directory) succeeded")
	}
}

func TestSimSingleton(t *testing.T) {
	first := openSim(t, tpmtest.SimSpec(t))
	_, err := platform.Open(tpmtest.SimSpec(t))
	if err == nil || !strings.Contains(err.Error(), "already open") {
		t.Fatalf("second Open = %v, want 'already open'", err)
	}
	if err := first.Close(); err != nil {
		t.Fatal(err)
	}
	if err := first.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	again, err := platform.Open(tpmtest.SimSpec(t))
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = again.Close()
	if _, err := first.Unseal(&platform.SealedKey{}, pin); err == nil {
		t.Error("Unseal on closed TPM succeeded")
	}
}

func TestSimCounters(t *testing.T) {
	tp := openSim(t, tpmtest.SimSpec(t))
	testCounters(t, tp)
}

func TestSimLockoutDoesNotTripEarly(t *testing.T) {
	tp := openSim(t, tpmtest.SimSpec(t))
	sk, err := tp.Seal(secret, pin, nil)
	if err != nil {
		t.Fatal(err)
	}
	// The simulator's default maxTries is 3; Open raises it to 32.
	for i := 0; i < 10; i++ {
		if _, err := tp.Unseal(sk, []byte("guess")); !errors.Is(err, platform.ErrAuthFail) {
			t.Fatalf("wrong guess %d: %v, want ErrAuthFail", i+1, err)
		}
	}
	if got, err := tp.Unseal(sk, pin); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal after 10 wrong guesses = %v", err)
	}
	// Up to lockout.
	wrong := 10
	var last error
	for i := 0; i < 40; i++ {
		_, last = tp.Unseal(sk, []byte("guess"))
		if !errors.Is(last, platform.ErrAuthFail) {
			break
		}
		wrong++
	}
	if !errors.Is(last, platform.ErrLockout) {
		t.Fatalf("after %d wrong guesses: %v, want ErrLockout", wrong, last)
	}
	if wrong < 31 {
		t.Errorf("locked out after %d wrong guesses, want about 32", wrong)
	}
	t.Logf("lockout after %d wrong guesses: %v", wrong, last)
	if _, err := tp.Unseal(sk, pin); !errors.Is(err, platform.ErrLockout) {
		t.Fatalf("right PIN during lockout: %v, want ErrLockout", err)
	}
}

// TestAuthValueWithZeroBytes seals and unseals with auth values that contain zero
// bytes at every position (go-tpm v0.9.6 truncates a session's auth value at its first
// zero byte; objectAuth works around it) and with random ones.
func TestAuthValueWithZeroBytes(t *testing.T) {
	tpm := openSim(t, tpmtest.SimSpec(t))
	auths := [][]byte{{0}, {0, 1}, {1, 0}}
	for i := 0; i < 32; i++ {
		a := bytes.Repeat([]byte{0x5a}, 32)
		a[i] = 0
		auths = append(auths, a)
	}
	for i := 0; i < 40; i++ {
		a := make([]byte, 32)
		rand.Read(a)
		auths = append(auths, a)
	}
	for i, a := range auths {
		sk, err := tpm.Seal(secret, a, nil)
		if err != nil {
			t.Fatalf("auth %d: seal: %v", i, err)
		}
		got, err := tpm.Unseal(sk, a)
		if err != nil {
			t.Fatalf("auth %d (%x): unseal: %v", i, a, err)
		}
		if !bytes.Equal(got, secret) {
			t.Fatalf("auth %d: unsealed %x", i, got)
		}
	}
}
