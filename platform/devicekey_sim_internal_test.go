//go:build cgo && !fieldoffice_nosim

package platform

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/sha256"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"

	"github.com/google/go-tpm/tpm2"
)

// openSimDevice opens a simulator with its seed in dir/name and closes it in t.Cleanup.
func openSimDevice(t *testing.T, dir, name string, opts ...Option) *tpm2Device {
	t.Helper()
	tp, err := Open(Spec{Kind: KindSim, Path: filepath.Join(dir, name)}, opts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = tp.Close() })
	return tp.(*tpm2Device)
}

// TestDeviceKeyReloadsLostObject makes the TPM lose the loaded key behind the key's
// back (as a TPM reset under a resource manager would): Sign loads it again and
// succeeds.
func TestDeviceKeyReloadsLostObject(t *testing.T) {
	var n atomic.Int64
	d := openSimDevice(t, t.TempDir(), "sim.seed", WithCommandCounter(&n))
	blob, err := d.CreateDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	dk, err := d.LoadDeviceKey(blob)
	if err != nil {
		t.Fatal(err)
	}
	defer dk.Close()
	k := dk.(*tpmDeviceKey)

	d.mu.Lock()
	d.flush(k.handle)
	d.mu.Unlock()

	digest := sha256.Sum256([]byte("after reset"))
	start := n.Load()
	sig, err := k.Sign(nil, digest[:], crypto.SHA256)
	if err != nil {
		t.Fatalf("Sign after the TPM lost the key: %v", err)
	}
	cmds := n.Load() - start
	t.Logf("TPM commands for a Sign that reloads a lost key: %d", cmds)
	if cmds > 4 { // failed Sign, FlushContext (fails), Load, Sign
		t.Errorf("%d TPM commands, want <= 4", cmds)
	}
	if !ecdsa.VerifyASN1(k.pub, digest[:], sig) {
		t.Fatal("signature does not verify")
	}
	if d.resident != k {
		t.Error("key not resident after reload")
	}
}

// TestDeviceKeyForgedSRKName gives a key file the other TPM's SRK name: TPM2_Load
// itself must refuse the key, as ErrWrongTPM.
func TestDeviceKeyForgedSRKName(t *testing.T) {
	dir := t.TempDir()
	a := openSimDevice(t, dir, "a.seed")
	blob, err := a.CreateDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}

	b := openSimDevice(t, dir, "b.seed")
	b.mu.Lock()
	srk, err := b.srkLocked()
	b.mu.Unlock()
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(blob)
	var f tpmKeyFile
	if _, err := asn1.Unmarshal(block.Bytes, &f); err != nil {
		t.Fatal(err)
	}
	f.SRKName = srk.name.Buffer
	der, err := asn1.Marshal(f)
	if err != nil {
		t.Fatal(err)
	}
	forged := pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: der})
	k, err := b.LoadDeviceKey(forged)
	if !errors.Is(err, ErrWrongTPM) || !errors.Is(err, tpm2.TPMRCIntegrity) {
		if k != nil {
			_ = k.Close()
		}
		t.Fatalf("LoadDeviceKey(forged SRK name) = %v, want ErrWrongTPM from TPM_RC_INTEGRITY", err)
	}
	t.Logf("forged SRK name: %v", err)
}
