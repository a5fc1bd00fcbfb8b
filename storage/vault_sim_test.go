package storage

import (
	"errors"
	"testing"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
	"fieldoffice/storage/crypto"
)

// openSim opens the in-process TPM simulator for spec; it skips the test when the
// simulator is not built in. The simulator is a singleton: tests here do not run in
// parallel and close it before opening another.
func openSim(t *testing.T, spec platform.Spec) platform.TPM {
	t.Helper()
	tpm, err := platform.Open(spec)
	if errors.Is(err, platform.ErrNotSupported) {
		t.Skipf("simulator not available: %v", err)
	}
	if err != nil {
		t.Fatalf("open simulator: %v", err)
	}
	return tpm
}

func TestSimulatorVault(t *testing.T) {
	spec := tpmtest.SimSpec(t)
	tpm := openSim(t, spec)
	cfg := testConfig(t, tpm)
	cfg.Spec = spec
	rec, _ := crypto.GenerateRecoveryKey()
	v, err := Create(cfg, CreateOptions{User: "anna", PIN: pinAnna, RecoveryKey: rec.PublicKey()})
	if err != nil {
		tpm.Close()
		t.Fatal(err)
	}
	r := newCase(t, map[string]string{"name": "Weber"})
	putCases(t, v, r)
	v.Lock()

	// Seal/unseal round trip and wrong PIN counting on the simulator.
	var wp *WrongPINError
	if err := v.Unlock("anna", pinBob); !errors.As(err, &wp) || wp.Left != MaxFailures-1 {
		t.Fatalf("wrong PIN: %v", err)
	}
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatalf("unlock: %v", err)
	}
	if got, err := v.Case(r.ID); err != nil || got.Values["name"] != "Weber" {
		t.Fatalf("Case: %v", err)
	}
	v.Lock()

	// PCR 7 changes (e.g. a Secure Boot update): the TPM refuses.
	ext, ok := tpm.(platform.PCRExtender)
	if !ok {
		t.Fatalf("%T does not implement platform.PCRExtender", tpm)
	}
	if err := ext.ExtendPCR(7, []byte("new db entry")); err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrTPMRefused) {
		t.Fatalf("after PCR 7 extend: %v", err)
	}
	if err := v.Close(); err != nil {
		t.Fatal(err)
	}
	tpm.Close()

	// Another simulator (another seed) is another TPM.
	spec2 := tpmtest.SimSpec(t)
	tpm2 := openSim(t, spec2)
	defer tpm2.Close()
	cfg.TPM, cfg.Spec = tpm2, spec2
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrTPMRefused) {
		t.Fatalf("on another TPM: %v", err)
	}
	// The recovery key enrols a slot on the new TPM.
	if err := v.Recover(rec, "anna", []byte("246810")); err != nil {
		t.Fatal(err)
	}
	if got, err := v.Case(r.ID); err != nil || got.Values["name"] != "Weber" {
		t.Fatalf("Case after recover: %v", err)
	}
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", []byte("246810")); err != nil {
		t.Fatalf("unlock with the new slot: %v", err)
	}
	if st := v.Status(); st.TPMSpec != spec2.String() {
		t.Fatalf("Status.TPMSpec = %q, want %q", st.TPMSpec, spec2)
	}
}

// TestResealPCRs: a changed PCR policy re-seals the unlocking user's slot; afterwards
// the new PCR is enforced for that slot and the header names the new set.
func TestResealPCRs(t *testing.T) {
	spec := tpmtest.SimSpec(t)
	tpm := openSim(t, spec)
	defer tpm.Close()
	cfg := testConfig(t, tpm)
	cfg.Spec = spec
	v, err := Create(cfg, CreateOptions{User: "anna", PIN: pinAnna})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if got := v.SlotPCRs("anna"); len(got) != 1 || got[0] != 7 {
		t.Fatalf("initial slot PCRs %v", got)
	}
	if err := v.ResealPCRs("anna", pinBob, []int{7, 14}); err == nil {
		t.Fatal("reseal with a wrong PIN")
	}
	if err := v.ResealPCRs("anna", pinAnna, []int{7, 14}); err != nil {
		t.Fatal(err)
	}
	if got := v.SlotPCRs("anna"); len(got) != 2 || got[1] != 14 {
		t.Fatalf("slot PCRs after reseal %v", got)
	}
	if st := v.Status(); len(st.PCRs) != 2 {
		t.Fatalf("header PCRs %v", st.PCRs)
	}
	v.Lock()
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatalf("unlock after reseal: %v", err)
	}
	v.Lock()
	if err := tpm.(platform.PCRExtender).ExtendPCR(14, []byte("new boot component")); err != nil {
		t.Fatal(err)
	}
	if err := v.Unlock("anna", pinAnna); !errors.Is(err, ErrTPMRefused) {
		t.Fatalf("unlock after PCR 14 changed: %v", err)
	}
}
