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

// newCase returns a new (not yet stored) case with the given form values; the
// applicant's family name is fields["name"].
func newCase(t testing.TB, fields map[string]string) *cases.Case {
	t.Helper()
	c, err := cases.NewCase("anmeldung", time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range fields {
		c.Values[k] = v
	}
	c.Applicant.FamilyName = fields["name"]
	return c
}

// putCases stores cs with CreateCase (which updates them to what was stored).
func putCases(t testing.TB, v *Vault, cs ...*cases.Case) {
	t.Helper()
	for _, c := range cs {
		if err := v.CreateCase(c); err != nil {
			t.Fatal(err)
		}
	}
}

// listCases reads all whole cases (a full read of the cases bucket, in ID order),
// checking the sealed entry count.
func listCases(v *Vault) ([]*cases.Case, error) {
	var out []*cases.Case
	err := v.readAll(bucketCases,
		func(k, pt []byte) (any, error) { return decodeCaseJSON(bucketCases, string(k), pt) },
		func(_ []byte, val any) error { out = append(out, val.(*cases.Case)); return nil })
	return out, err
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
