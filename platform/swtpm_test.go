package platform_test

import (
	"bytes"
	"errors"
	"net"
	"strconv"
	"sync/atomic"
	"testing"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport/tcp"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
)

func TestSWTPM(t *testing.T) {
	spec := tpmtest.StartSWTPM(t)
	secret := []byte("0123456789abcdef0123456789abcdef")
	pin := []byte("argon2id-of-the-pin")

	tp, err := platform.Open(spec)
	if err != nil {
		t.Fatalf("Open(%s): %v", spec, err)
	}
	info := tp.Info()
	if info.Hardware || !info.PersistentNV || info.Warning == "" {
		t.Errorf("Info() = %+v", info)
	}
	t.Logf("swtpm info: %+v", info)
	sk, err := tp.Seal(secret, pin, []int{7})
	if err != nil {
		t.Fatalf("Seal: %v", err)
	}
	if got, err := tp.Unseal(sk, pin); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal = %x, %v", got, err)
	}
	if _, err := tp.Unseal(sk, []byte("wrong")); !errors.Is(err, platform.ErrAuthFail) {
		t.Fatalf("Unseal(wrong auth) = %v, want ErrAuthFail", err)
	}
	testCounters(t, tp)
	v, err := tp.CounterRead(platform.DefaultCounterIndex + 1)
	if err != nil {
		t.Fatal(err)
	}
	if err := tp.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	// The SRK was persisted at 0x81000001.
	raw, err := tcp.Open(tcp.Config{CommandAddress: spec.Addr, PlatformAddress: plusOne(t, spec.Addr)})
	if err != nil {
		t.Fatal(err)
	}
	rp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(platform.SRKHandle)}.Execute(raw)
	_ = raw.Close()
	if err != nil {
		t.Fatalf("ReadPublic(0x81000001) after first Open: %v (SRK not persisted)", err)
	}
	if !bytes.Equal(rp.Name.Buffer, sk.SRKName) {
		t.Errorf("persisted SRK name %x, sealed under %x", rp.Name.Buffer, sk.SRKName)
	}

	// Second Open: the persisted SRK is used; counters survived.
	var n atomic.Int64
	tp2, err := platform.Open(spec, platform.WithCommandCounter(&n))
	if err != nil {
		t.Fatalf("second Open: %v", err)
	}
	defer tp2.Close()
	start := n.Load()
	if got, err := tp2.Unseal(sk, pin); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Unseal after reopen = %x, %v", got, err)
	}
	cmds := n.Load() - start
	t.Logf("TPM commands for the first Unseal after reopen (persisted SRK): %d", cmds)
	if cmds > 8 {
		t.Errorf("first Unseal took %d TPM commands, want <= 8", cmds)
	}
	if got, err := tp2.CounterRead(platform.DefaultCounterIndex + 1); err != nil || got != v {
		t.Errorf("CounterRead after reopen = %d, %v; want %d", got, err, v)
	}
}

func plusOne(t *testing.T, addr string) string {
	t.Helper()
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	n, _ := strconv.Atoi(p)
	return net.JoinHostPort(h, strconv.Itoa(n+1))
}
