package storage

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/cases"
	"fieldoffice/platform"
	"fieldoffice/storage/crypto"
)

// testKDF makes Argon2id cheap in tests.
var testKDF = crypto.KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

var (
	pinAnna = []byte("123456")
	pinBob  = []byte("654321")
)

// testConfig returns a config for a fresh directory with tpm (nil: no TPM).
func testConfig(t testing.TB, tpm platform.TPM) Config {
	t.Helper()
	spec := platform.Spec{Kind: platform.KindSim, Path: "fake"}
	if tpm == nil {
		spec = platform.Spec{Kind: platform.KindNone}
	}
	return Config{Dir: t.TempDir(), TPM: tpm, Spec: spec, LockTimeout: 200 * time.Millisecond, KDF: testKDF,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

// MustCreate creates a vault for user anna with a fake TPM and closes it at cleanup.
func MustCreate(t testing.TB, cfg Config, o CreateOptions) *Vault {
	t.Helper()
	if o.User == "" {
		o.User = "anna"
	}
	if o.PIN == nil {
		o.PIN = pinAnna
	}
	v, err := Create(cfg, o)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

// MustOpen opens the vault in cfg.Dir and closes it at cleanup.
func MustOpen(t testing.TB, cfg Config) *Vault {
	t.Helper()
	v, err := Open(cfg)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { v.Close() })
	return v
}

func mustClose(t testing.TB, v *Vault) {
	t.Helper()
	if err := v.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

func newCase(t testing.TB, fields map[string]string) *cases.Record {
	t.Helper()
	r, err := cases.NewRecord("anmeldung", fields, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// rawUpdate edits the (closed) vault file with plain bbolt.
func rawUpdate(t testing.TB, dir string, fn func(tx *bolt.Tx) error) {
	t.Helper()
	db, err := bolt.Open(filepath.Join(dir, FileName), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := db.Update(fn); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func slogTo(w *bytes.Buffer) *slog.Logger {
	return slog.New(slog.NewTextHandler(&lockedWriter{w: w}, nil))
}

type lockedWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
