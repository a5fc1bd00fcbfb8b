package storage

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestWipe(t *testing.T) {
	v, cfg := repoVault(t)
	newAnmeldung(t, v, "Vogel", "Ida", "Hauptstraße", "99084", "Erfurt")
	path := filepath.Join(cfg.Dir, FileName)
	raw, _ := os.ReadFile(path)
	if _, err := Wipe(cfg.Dir); !errors.Is(err, ErrAlreadyOpen) {
		t.Fatalf("wipe of an open vault: %v", err)
	}
	mustClose(t, v)
	rep, err := Wipe(cfg.Dir)
	if err != nil || !rep.SlotsErased || !rep.Removed || rep.Overwritten != int64(len(raw)) {
		t.Fatalf("Wipe = %+v, %v", rep, err)
	}
	if _, err := os.Stat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("vault file still there: %v", err)
	}
	if _, err := Open(cfg); !errors.Is(err, ErrNotInitialised) && err == nil {
		t.Fatalf("Open after wipe: %v", err)
	}
	if rep, err := Wipe(cfg.Dir); err != nil || rep.Removed {
		t.Fatalf("second wipe = %+v, %v", rep, err)
	}
	// A damaged file is still overwritten and removed.
	if err := os.WriteFile(path, bytes.Repeat([]byte{0xA5}, 8192), 0o600); err != nil {
		t.Fatal(err)
	}
	if rep, err := Wipe(cfg.Dir); err != nil || !rep.Removed || rep.SlotsErased {
		t.Fatalf("wipe of a damaged file = %+v, %v", rep, err)
	}
}

func TestVaultWipeWhileOpen(t *testing.T) {
	v, cfg := repoVault(t)
	newAnmeldung(t, v, "Haas", "Tom", "Ring", "99084", "Erfurt")
	rep, err := v.Wipe()
	if err != nil || !rep.Removed || !rep.SlotsErased {
		t.Fatalf("Wipe = %+v, %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(cfg.Dir, FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("vault still there")
	}
	if _, err := v.Case("x"); err == nil {
		t.Fatal("a wiped vault answered")
	}
	if err := v.Close(); err != nil {
		t.Fatalf("Close after Wipe: %v", err)
	}
}
