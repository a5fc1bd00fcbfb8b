package crypto

import (
	"bytes"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func mustKey(t testing.TB) Key {
	t.Helper()
	k, err := NewRandomKey()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestDerive(t *testing.T) {
	k := mustKey(t)
	seen := map[Key]string{}
	for _, p := range []string{PurposeRecords, PurposeIndex, PurposeAudit, PurposeBlobs, PurposeHeaderMAC} {
		sub := k.Derive(p)
		if sub == k {
			t.Fatalf("%s: subkey equals the key", p)
		}
		if other, ok := seen[sub]; ok {
			t.Fatalf("%s and %s give the same subkey", p, other)
		}
		seen[sub] = p
		if again := k.Derive(p); again != sub {
			t.Fatalf("%s: not deterministic", p)
		}
	}
	k.Zero()
	if !k.IsZero() {
		t.Fatal("Zero left bytes")
	}
}

func TestSealOpen(t *testing.T) {
	k := mustKey(t)
	s, err := NewSealer(&k)
	if err != nil {
		t.Fatal(err)
	}
	other := mustKey(t)
	s2, _ := NewSealer(&other)
	for _, tc := range []struct {
		name        string
		bucket, key []byte
		pt          []byte
	}{
		{"empty", []byte("cases"), []byte("k"), nil},
		{"small", []byte("cases"), []byte("0190-aaaa"), []byte("hello")},
		{"4k", []byte("blobs"), []byte{0, 1, 2}, bytes.Repeat([]byte{0xAB}, 4096)},
		{"empty bucket and key", nil, nil, []byte("x")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sealed, err := s.Seal(tc.bucket, tc.key, tc.pt)
			if err != nil {
				t.Fatal(err)
			}
			if len(sealed) != len(tc.pt)+Overhead || sealed[0] != FormatVersion {
				t.Fatalf("bad format: len %d", len(sealed))
			}
			got, err := s.Open(tc.bucket, tc.key, sealed)
			if err != nil || !bytes.Equal(got, tc.pt) {
				t.Fatalf("round trip: %v", err)
			}
			// Every flipped byte fails.
			for i := range sealed {
				c := bytes.Clone(sealed)
				c[i] ^= 0x01
				if pt, err := s.Open(tc.bucket, tc.key, c); !errors.Is(err, ErrAuth) || pt != nil {
					t.Fatalf("flipped byte %d: %v", i, err)
				}
			}
			for _, bad := range []struct{ b, k []byte }{
				{append(bytes.Clone(tc.bucket), 'x'), tc.key},
				{tc.bucket, append(bytes.Clone(tc.key), 'x')},
				// Moving a byte from the bucket to the key must not give the same AAD.
				{append(bytes.Clone(tc.bucket), 0), tc.key},
			} {
				if _, err := s.Open(bad.b, bad.k, sealed); !errors.Is(err, ErrAuth) {
					t.Fatalf("wrong AAD %q/%q opened: %v", bad.b, bad.k, err)
				}
			}
			if _, err := s2.Open(tc.bucket, tc.key, sealed); !errors.Is(err, ErrAuth) {
				t.Fatalf("wrong key opened: %v", err)
			}
			if _, err := s.Open(tc.bucket, tc.key, sealed[:len(sealed)-1]); !errors.Is(err, ErrAuth) {
				t.Fatalf("truncated opened: %v", err)
			}
		})
	}
	if _, err := s.Open(nil, nil, []byte{1, 2}); !errors.Is(err, ErrAuth) {
		t.Fatal("short input opened")
	}
}

func TestAADUnambiguous(t *testing.T) {
	pairs := [][2]string{{"ab", "c"}, {"a", "bc"}, {"a\x00", "c"}, {"a", "\x00c"}, {"", "abc"}, {"abc", ""}}
	seen := map[string]int{}
	for i, p := range pairs {
		a := string(AAD([]byte(p[0]), []byte(p[1])))
		if j, ok := seen[a]; ok {
			t.Fatalf("pairs %d and %d give the same AAD", i, j)
		}
		seen[a] = i
	}
}

var cheap = KDFParams{Time: 1, MemoryKiB: 64, Threads: 1}

func TestKDF(t *testing.T) {
	salt := []byte("0123456789abcdef")
	a, err := DeriveKey([]byte("123456"), salt, cheap)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := DeriveKey([]byte("123456"), salt, cheap)
	c, _ := DeriveKey([]byte("123457"), salt, cheap)
	d, _ := DeriveKey([]byte("123456"), []byte("fedcba9876543210"), cheap)
	if a != b || a == c || a == d {
		t.Fatal("KDF not deterministic or not sensitive to PIN/salt")
	}
	for _, p := range []KDFParams{{}, {Time: 0, MemoryKiB: 64, Threads: 1}, {Time: 1, MemoryKiB: 1 << 30, Threads: 1}, {Time: 1, MemoryKiB: 8, Threads: 4}, {Time: 1000, MemoryKiB: 64, Threads: 1}} {
		if _, err := DeriveKey([]byte("1"), salt, p); !errors.Is(err, ErrBadKDFParams) {
			t.Errorf("%v: accepted", p)
		}
	}
	if (KDFParams{}).OrDefault() != DefaultKDFParams || cheap.OrDefault() != cheap {
		t.Fatal("OrDefault")
	}
	if err := DefaultKDFParams.Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryWrap(t *testing.T) {
	priv, err := GenerateRecoveryKey()
	if err != nil {
		t.Fatal(err)
	}
	other, _ := GenerateRecoveryKey()
	dek := mustKey(t)
	aad := []byte("vault-1/recovery")
	w, err := WrapToRecipient(&dek, priv.PublicKey(), aad)
	if err != nil {
		t.Fatal(err)
	}
	got, err := UnwrapWithPrivateKey(w, priv, aad)
	if err != nil || got != dek {
		t.Fatalf("round trip: %v", err)
	}
	if _, err := UnwrapWithPrivateKey(w, other, aad); !errors.Is(err, ErrAuth) {
		t.Fatalf("other key: %v", err)
	}
	if _, err := UnwrapWithPrivateKey(w, priv, []byte("vault-2/recovery")); !errors.Is(err, ErrAuth) {
		t.Fatalf("other aad: %v", err)
	}
	for i := range w {
		c := bytes.Clone(w)
		c[i] ^= 0x80
		if _, err := UnwrapWithPrivateKey(c, priv, aad); !errors.Is(err, ErrAuth) {
			t.Fatalf("flipped byte %d: %v", i, err)
		}
	}
}

func TestRecoveryPEM(t *testing.T) {
	priv, _ := GenerateRecoveryKey()
	privPEM, err := MarshalRecoveryPrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	pubPEM, err := MarshalRecoveryPublicKey(priv.PublicKey())
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(privPEM, []byte("-----BEGIN PRIVATE KEY-----")) || !bytes.HasPrefix(pubPEM, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("PEM types:\n%s\n%s", privPEM, pubPEM)
	}
	p2, err := ParseRecoveryPrivateKey(privPEM)
	if err != nil || !p2.Equal(priv) {
		t.Fatalf("private: %v", err)
	}
	pub2, err := ParseRecoveryPublicKey(pubPEM)
	if err != nil || !pub2.Equal(priv.PublicKey()) {
		t.Fatalf("public: %v", err)
	}
	// Wrong kinds give clear errors.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ecDER, _ := x509.MarshalPKCS8PrivateKey(ec)
	ecPub, _ := x509.MarshalPKIXPublicKey(&ec.PublicKey)
	for name, tc := range map[string]struct {
		data []byte
		pub  bool
	}{
		"public as private":   {pubPEM, false},
		"private as public":   {privPEM, true},
		"not PEM":             {[]byte("hello"), false},
		"P-256 private":       {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: ecDER}), false},
		"P-256 public":        {pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: ecPub}), true},
		"garbage DER private": {pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), false},
	} {
		var err error
		if tc.pub {
			_, err = ParseRecoveryPublicKey(tc.data)
		} else {
			_, err = ParseRecoveryPrivateKey(tc.data)
		}
		if !errors.Is(err, ErrRecoveryKey) {
			t.Errorf("%s: %v", name, err)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// TestRecoveryOpenSSL checks compatibility with keys made by openssl, when it is installed.
func TestRecoveryOpenSSL(t *testing.T) {
	if _, err := exec.LookPath("openssl"); err != nil {
		t.Skip("openssl not installed")
	}
	dir := t.TempDir()
	keyFile, pubFile := filepath.Join(dir, "r.key"), filepath.Join(dir, "r.pub")
	if out, err := exec.Command("openssl", "genpkey", "-algorithm", "X25519", "-out", keyFile).CombinedOutput(); err != nil {
		t.Skipf("openssl genpkey: %v %s", err, out)
	}
	if out, err := exec.Command("openssl", "pkey", "-in", keyFile, "-pubout", "-out", pubFile).CombinedOutput(); err != nil {
		t.Fatalf("openssl pkey: %v %s", err, out)
	}
	kb, _ := os.ReadFile(keyFile)
	pb, _ := os.ReadFile(pubFile)
	priv, err := ParseRecoveryPrivateKey(kb)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParseRecoveryPublicKey(pb)
	if err != nil {
		t.Fatal(err)
	}
	if !pub.Equal(priv.PublicKey()) {
		t.Fatal("openssl public key does not match private key")
	}
	dek := mustKey(t)
	w, _ := WrapToRecipient(&dek, pub, nil)
	if got, err := UnwrapWithPrivateKey(w, priv, nil); err != nil || got != dek {
		t.Fatal(err)
	}
	var _ *ecdh.PrivateKey = priv
}

func BenchmarkSeal4K(b *testing.B) {
	k := mustKey(b)
	s, _ := NewSealer(&k)
	pt := make([]byte, 4096)
	b.SetBytes(4096)
	for b.Loop() {
		if _, err := s.Seal([]byte("cases"), []byte("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b"), pt); err != nil {
			b.Fatal(err)
		}
	}
}
