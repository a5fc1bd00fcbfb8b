package platform_test

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"fieldoffice/platform"
	"fieldoffice/platform/tpmtest"
)

// deviceKeyBackends are the TPMs the device key tests and benchmarks run on. The
// simulator is a process-wide singleton: each test closes it before opening the next.
var deviceKeyBackends = []struct {
	name string
	spec func(testing.TB) platform.Spec
}{
	{"sim", simSpecOrSkip},
	{"swtpm", tpmtest.StartSWTPM},
}

var (
	dkSecret = []byte("0123456789abcdef0123456789abcdef")
	dkPIN    = []byte("argon2id-of-the-pin")
)

// openTPM opens spec and closes it in t.Cleanup.
func openTPM(tb testing.TB, spec platform.Spec, opts ...platform.Option) platform.TPM {
	tb.Helper()
	tp, err := platform.Open(spec, opts...)
	if err != nil {
		tb.Fatalf("Open(%s): %v", spec, err)
	}
	tb.Cleanup(func() { _ = tp.Close() })
	return tp
}

// createKey creates a device key in tp and returns its key file.
func createKey(tb testing.TB, tp platform.TPM) []byte {
	tb.Helper()
	blob, err := platform.CreateDeviceKey(tp)
	if err != nil {
		tb.Fatalf("CreateDeviceKey: %v", err)
	}
	return blob
}

// loadKey loads blob into tp and closes the key in t.Cleanup (before tp).
func loadKey(tb testing.TB, tp platform.TPM, blob []byte) platform.DeviceKey {
	tb.Helper()
	k, err := platform.LoadDeviceKey(tp, blob)
	if err != nil {
		tb.Fatalf("LoadDeviceKey: %v", err)
	}
	tb.Cleanup(func() { _ = k.Close() })
	return k
}

// signVerify signs SHA-256(msg) with k and verifies the signature with k.Public().
func signVerify(tb testing.TB, k crypto.Signer, msg string) {
	tb.Helper()
	digest := sha256.Sum256([]byte(msg))
	sig, err := k.Sign(rand.Reader, digest[:], crypto.SHA256)
	if err != nil {
		tb.Fatalf("Sign(%q): %v", msg, err)
	}
	pub, ok := k.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		tb.Fatalf("Public() = %T, want *ecdsa.PublicKey on P-256", k.Public())
	}
	if !ecdsa.VerifyASN1(pub, digest[:], sig) {
		tb.Fatalf("signature of %q does not verify: %x", msg, sig)
	}
}

// counted returns how many TPM commands f sent.
func counted(n *atomic.Int64, f func()) int64 {
	start := n.Load()
	f()
	return n.Load() - start
}

func TestDeviceKeySign(t *testing.T) {
	for _, be := range deviceKeyBackends {
		t.Run(be.name, func(t *testing.T) {
			var n atomic.Int64
			tp := openTPM(t, be.spec(t), platform.WithCommandCounter(&n))
			var blob []byte
			create := counted(&n, func() { blob = createKey(t, tp) })
			if !bytes.HasPrefix(blob, []byte("-----BEGIN FIELDOFFICE TPM DEVICE KEY-----")) {
				t.Errorf("key file starts %q", blob[:min(len(blob), 48)])
			}
			var k platform.DeviceKey
			load := counted(&n, func() { k = loadKey(t, tp, blob) })
			if k.Hardware() != tp.Info().Hardware {
				t.Errorf("Hardware() = %v, TPM Info().Hardware = %v", k.Hardware(), tp.Info().Hardware)
			}
			const signs = 10
			sign := counted(&n, func() {
				for i := range signs {
					signVerify(t, k, fmt.Sprintf("message %d", i))
				}
			})
			t.Logf("TPM commands: create %d (incl. SRK lookup), load %d, %d signs %d", create, load, signs, sign)
			if load > 1 || sign > signs {
				t.Errorf("load took %d TPM commands (SRK cached), %d signs %d; want <= 1 and <= %d", load, signs, sign, signs)
			}

			digest := sha256.Sum256([]byte("x"))
			d384 := sha512.Sum384([]byte("x"))
			for _, tc := range []struct {
				name   string
				digest []byte
				opts   crypto.SignerOpts
			}{
				{"SHA-384", d384[:], crypto.SHA384},
				{"SHA-1", digest[:20], crypto.SHA1},
				{"no hash", digest[:], crypto.Hash(0)},
				{"nil opts", digest[:], nil},
			} {
				if _, err := k.Sign(nil, tc.digest, tc.opts); !errors.Is(err, platform.ErrUnsupportedHash) {
					t.Errorf("Sign(%s) = %v, want ErrUnsupportedHash", tc.name, err)
				}
			}
			if _, err := k.Sign(nil, digest[:31], crypto.SHA256); err == nil {
				t.Error("Sign(31-byte digest) succeeded")
			}

			if err := k.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := k.Close(); err != nil {
				t.Errorf("second Close: %v", err)
			}
			if _, err := k.Sign(nil, digest[:], crypto.SHA256); err == nil {
				t.Error("Sign after Close succeeded")
			}
			// The TPM still works, and the key file loads again.
			if sk, err := tp.Seal(dkSecret, dkPIN, nil); err != nil {
				t.Fatalf("Seal after key Close: %v", err)
			} else if got, err := tp.Unseal(sk, dkPIN); err != nil || !bytes.Equal(got, dkSecret) {
				t.Fatalf("Unseal after key Close = %x, %v", got, err)
			}
			signVerify(t, loadKey(t, tp, blob), "again")
		})
	}
}

// TestDeviceKeyRoundTrip stores the key file, closes the TPM, opens it again and signs
// with the reloaded key: same public key, and a fresh instance loads it in 2 commands.
func TestDeviceKeyRoundTrip(t *testing.T) {
	for _, be := range deviceKeyBackends {
		t.Run(be.name, func(t *testing.T) {
			spec := be.spec(t)
			tp1, err := platform.Open(spec)
			if err != nil {
				t.Fatal(err)
			}
			blob := createKey(t, tp1)
			k1, err := platform.LoadDeviceKey(tp1, blob)
			if err != nil {
				t.Fatal(err)
			}
			pub1 := k1.Public().(*ecdsa.PublicKey)
			signVerify(t, k1, "before")
			// Closing the TPM first flushes the key; the key then refuses to sign.
			if err := tp1.Close(); err != nil {
				t.Fatal(err)
			}
			if _, err := k1.Sign(nil, make([]byte, 32), crypto.SHA256); err == nil {
				t.Error("Sign on a closed TPM succeeded")
			}
			if err := k1.Close(); err != nil {
				t.Errorf("key Close after TPM Close: %v", err)
			}

			var n atomic.Int64
			tp2 := openTPM(t, spec, platform.WithCommandCounter(&n))
			var k2 platform.DeviceKey
			load := counted(&n, func() { k2 = loadKey(t, tp2, blob) })
			t.Logf("TPM commands for LoadDeviceKey on a fresh instance: %d", load)
			if load > 2 {
				t.Errorf("LoadDeviceKey on a fresh instance took %d TPM commands, want <= 2", load)
			}
			if !pub1.Equal(k2.Public()) {
				t.Error("public key changed across the round trip")
			}
			signVerify(t, k2, "after")
		})
	}
}

func TestDeviceKeyWrongTPM(t *testing.T) {
	for _, be := range deviceKeyBackends {
		t.Run(be.name, func(t *testing.T) {
			specA := be.spec(t)
			a, err := platform.Open(specA)
			if err != nil {
				t.Fatal(err)
			}
			blob := createKey(t, a)
			if err := a.Close(); err != nil { // the simulator is a singleton
				t.Fatal(err)
			}
			b := openTPM(t, be.spec(t))
			k, err := platform.LoadDeviceKey(b, blob)
			if !errors.Is(err, platform.ErrWrongTPM) {
				if k != nil {
					_ = k.Close()
				}
				t.Fatalf("LoadDeviceKey on another TPM = %v, want ErrWrongTPM", err)
			}
			t.Logf("other TPM: %v", err)
		})
	}
}

func TestDeviceKeyBadFiles(t *testing.T) {
	for _, be := range deviceKeyBackends {
		t.Run(be.name, func(t *testing.T) {
			tp := openTPM(t, be.spec(t))
			good := createKey(t, tp)
			soft, err := platform.NewSoftwareDeviceKey()
			if err != nil {
				t.Fatal(err)
			}
			softPEM, err := soft.MarshalPEM()
			if err != nil {
				t.Fatal(err)
			}
			block, _ := pem.Decode(good)
			truncated := pem.EncodeToMemory(&pem.Block{Type: block.Type, Bytes: block.Bytes[:len(block.Bytes)/2]})
			for _, tc := range []struct {
				name string
				file []byte
				want string // in the error text
			}{
				{"empty", nil, "no PEM block"},
				{"garbage", []byte("not a key"), "no PEM block"},
				{"software key", softPEM, "ParseSoftwareDeviceKey"},
				{"certificate", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), "CERTIFICATE"},
				{"truncated", truncated, ""},
			} {
				k, err := platform.LoadDeviceKey(tp, tc.file)
				if !errors.Is(err, platform.ErrBadDeviceKey) || !strings.Contains(err.Error(), tc.want) {
					if k != nil {
						_ = k.Close()
					}
					t.Errorf("LoadDeviceKey(%s) = %v, want ErrBadDeviceKey mentioning %q", tc.name, err, tc.want)
				}
			}
			if _, err := platform.ParseSoftwareDeviceKey(good); !errors.Is(err, platform.ErrBadDeviceKey) ||
				!strings.Contains(err.Error(), "LoadDeviceKey") {
				t.Errorf("ParseSoftwareDeviceKey(TPM key file) = %v, want ErrBadDeviceKey naming LoadDeviceKey", err)
			}
		})
	}
}

// TestDeviceKeyTwoKeys alternates two device keys and Unseal on one TPM: the device
// keeps one key loaded, so the simulator's three object slots (transient SRK, device
// key, sealed object) suffice.
func TestDeviceKeyTwoKeys(t *testing.T) {
	for _, be := range deviceKeyBackends {
		t.Run(be.name, func(t *testing.T) {
			var n atomic.Int64
			tp := openTPM(t, be.spec(t), platform.WithCommandCounter(&n))
			sk, err := tp.Seal(dkSecret, dkPIN, []int{7})
			if err != nil {
				t.Fatal(err)
			}
			k1 := loadKey(t, tp, createKey(t, tp))
			k2 := loadKey(t, tp, createKey(t, tp))
			if k1.Public().(*ecdsa.PublicKey).Equal(k2.Public()) {
				t.Fatal("two device keys have the same public key")
			}
			for i := range 3 {
				switchCmds := counted(&n, func() { signVerify(t, k1, "k1") })
				signVerify(t, k2, "k2")
				if got, err := tp.Unseal(sk, dkPIN); err != nil || !bytes.Equal(got, dkSecret) {
					t.Fatalf("round %d: Unseal with two device keys = %x, %v", i, got, err)
				}
				if i == 1 {
					t.Logf("TPM commands for a Sign that switches keys: %d", switchCmds)
				}
			}
		})
	}
}

// TestDeviceKeyConcurrent signs and unseals from several goroutines on one TPM.
// Run it with -race.
func TestDeviceKeyConcurrent(t *testing.T) {
	for _, be := range deviceKeyBackends {
		t.Run(be.name, func(t *testing.T) {
			tp := openTPM(t, be.spec(t))
			sk, err := tp.Seal(dkSecret, dkPIN, []int{7})
			if err != nil {
				t.Fatal(err)
			}
			k := loadKey(t, tp, createKey(t, tp))
			pub := k.Public().(*ecdsa.PublicKey)
			const signers, unsealers, rounds = 4, 2, 8
			var wg sync.WaitGroup
			errc := make(chan error, (signers+unsealers)*rounds)
			for g := range signers {
				wg.Go(func() {
					for i := range rounds {
						d := sha256.Sum256(fmt.Appendf(nil, "g%d/%d", g, i))
						sig, err := k.Sign(rand.Reader, d[:], crypto.SHA256)
						if err != nil {
							errc <- fmt.Errorf("signer %d: %w", g, err)
							return
						}
						if !ecdsa.VerifyASN1(pub, d[:], sig) {
							errc <- fmt.Errorf("signer %d round %d: bad signature", g, i)
						}
					}
				})
			}
			for g := range unsealers {
				wg.Go(func() {
					for range rounds {
						got, err := tp.Unseal(sk, dkPIN)
						if err != nil || !bytes.Equal(got, dkSecret) {
							errc <- fmt.Errorf("unsealer %d: %x, %w", g, got, err)
							return
						}
					}
				})
			}
			wg.Wait()
			close(errc)
			for err := range errc {
				t.Error(err)
			}
		})
	}
}

// testCA is a throwaway certificate authority.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pool *x509.CertPool
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "FieldOffice test CA"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return &testCA{cert: cert, key: key, pool: pool}
}

// issue signs a leaf certificate for pub.
func (ca *testCA) issue(t *testing.T, cn string, pub crypto.PublicKey, usage x509.ExtKeyUsage) *x509.Certificate {
	t.Helper()
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{usage},
	}
	if usage == x509.ExtKeyUsageServerAuth {
		tmpl.DNSNames = []string{"localhost"}
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, pub, ca.key)
	if err != nil {
		t.Fatalf("issue certificate for %s: %v", cn, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

// testMutualTLS runs a TLS 1.3 handshake on loopback in which the client presents a
// certificate for key, and checks that the server verified it.
func testMutualTLS(t *testing.T, key platform.DeviceKey) {
	t.Helper()
	ca := newTestCA(t)
	serverKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serverCert := ca.issue(t, "portal", serverKey.Public(), x509.ExtKeyUsageServerAuth)
	clientCert := ca.issue(t, "device-0001", key.Public(), x509.ExtKeyUsageClientAuth)

	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: [][]byte{serverCert.Raw}, PrivateKey: serverKey, Leaf: serverCert}},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    ca.pool,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ln.Close() })
	type result struct {
		state tls.ConnectionState
		err   error
	}
	done := make(chan result, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			done <- result{err: err}
			return
		}
		defer c.Close()
		tc := c.(*tls.Conn)
		_ = tc.SetDeadline(time.Now().Add(30 * time.Second))
		if err := tc.Handshake(); err != nil {
			done <- result{err: err}
			return
		}
		_, err = io.WriteString(tc, "ok\n")
		done <- result{state: tc.ConnectionState(), err: err}
	}()

	conn, err := tls.DialWithDialer(&net.Dialer{Timeout: 30 * time.Second}, "tcp", ln.Addr().String(), &tls.Config{
		MinVersion:   tls.VersionTLS13,
		RootCAs:      ca.pool,
		ServerName:   "localhost",
		Certificates: []tls.Certificate{{Certificate: [][]byte{clientCert.Raw}, PrivateKey: key, Leaf: clientCert}},
	})
	if err != nil {
		t.Fatalf("client handshake: %v", err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	// In TLS 1.3 the server checks the client's certificate after the client's
	// handshake is done: a rejection shows up on the first read.
	buf := make([]byte, 3)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ok\n" {
		t.Fatalf("client read after handshake = %q, %v", buf, err)
	}
	r := <-done
	if r.err != nil {
		t.Fatalf("server: %v", r.err)
	}
	if r.state.Version != tls.VersionTLS13 {
		t.Errorf("TLS version %x, want 1.3", r.state.Version)
	}
	if len(r.state.PeerCertificates) == 0 || !r.state.PeerCertificates[0].Equal(clientCert) {
		t.Fatalf("server saw client certificates %v, want the device's", r.state.PeerCertificates)
	}
	if len(r.state.VerifiedChains) == 0 || !r.state.VerifiedChains[0][len(r.state.VerifiedChains[0])-1].Equal(ca.cert) {
		t.Errorf("server's verified chains %v do not end at the test CA", r.state.VerifiedChains)
	}
	if cn := r.state.PeerCertificates[0].Subject.CommonName; cn != "device-0001" {
		t.Errorf("server saw client CN %q", cn)
	}
}

// testCSR builds a certificate request signed by key and checks its signature.
func testCSR(t *testing.T, key platform.DeviceKey) {
	t.Helper()
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: "device-0001", Organization: []string{"FieldOffice"}},
	}, key)
	if err != nil {
		t.Fatalf("CreateCertificateRequest: %v", err)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		t.Fatal(err)
	}
	if err := csr.CheckSignature(); err != nil {
		t.Fatalf("CSR signature: %v", err)
	}
	if csr.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("CSR signature algorithm %v, want ECDSA-SHA256", csr.SignatureAlgorithm)
	}
	if !key.Public().(*ecdsa.PublicKey).Equal(csr.PublicKey) {
		t.Error("CSR public key is not the device key's")
	}
}

func TestDeviceKeyMutualTLS(t *testing.T) {
	for _, be := range deviceKeyBackends {
		t.Run(be.name, func(t *testing.T) {
			var n atomic.Int64
			tp := openTPM(t, be.spec(t), platform.WithCommandCounter(&n))
			k := loadKey(t, tp, createKey(t, tp))
			cmds := counted(&n, func() { testMutualTLS(t, k) })
			t.Logf("TPM commands during the mutual TLS handshake: %d", cmds)
			if cmds != 1 {
				t.Errorf("handshake sent %d TPM commands, want 1 (one TPM2_Sign)", cmds)
			}
		})
	}
	t.Run("software", func(t *testing.T) {
		k, err := platform.NewSoftwareDeviceKey()
		if err != nil {
			t.Fatal(err)
		}
		testMutualTLS(t, k)
	})
}

func TestDeviceKeyCSR(t *testing.T) {
	for _, be := range deviceKeyBackends {
		t.Run(be.name, func(t *testing.T) {
			tp := openTPM(t, be.spec(t))
			testCSR(t, loadKey(t, tp, createKey(t, tp)))
		})
	}
	t.Run("software", func(t *testing.T) {
		k, err := platform.NewSoftwareDeviceKey()
		if err != nil {
			t.Fatal(err)
		}
		testCSR(t, k)
	})
}

func TestSoftwareDeviceKey(t *testing.T) {
	k, err := platform.NewSoftwareDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	if k.Hardware() {
		t.Error("software key reports Hardware() = true")
	}
	signVerify(t, k, "hello")
	pemBytes, err := k.MarshalPEM()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(pemBytes, []byte("-----BEGIN PRIVATE KEY-----")) {
		t.Errorf("PEM starts %q", pemBytes[:min(len(pemBytes), 32)])
	}
	back, err := platform.ParseSoftwareDeviceKey(pemBytes)
	if err != nil {
		t.Fatalf("ParseSoftwareDeviceKey: %v", err)
	}
	if !k.Public().(*ecdsa.PublicKey).Equal(back.Public()) {
		t.Fatal("public key changed across PEM round trip")
	}
	// A signature by the parsed key verifies with the original's public key.
	d := sha256.Sum256([]byte("round trip"))
	sig, err := back.Sign(nil, d[:], crypto.SHA256)
	if err != nil || !ecdsa.VerifyASN1(k.Public().(*ecdsa.PublicKey), d[:], sig) {
		t.Fatalf("Sign after round trip: %v", err)
	}
	if _, err := back.Sign(nil, d[:], crypto.SHA512); !errors.Is(err, platform.ErrUnsupportedHash) {
		t.Errorf("Sign(SHA-512) = %v, want ErrUnsupportedHash", err)
	}
	if err := back.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := back.Sign(nil, d[:], crypto.SHA256); err == nil {
		t.Error("Sign after Close succeeded")
	}

	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	sec1, _ := x509.MarshalECPrivateKey(p384)
	pkcs8 := func(key any) []byte {
		der, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			t.Fatal(err)
		}
		return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	}
	for _, tc := range []struct {
		name string
		file []byte
	}{
		{"empty", nil},
		{"P-384", pkcs8(p384)},
		{"RSA", pkcs8(rsaKey)},
		{"SEC1", pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: sec1})},
		{"bad DER", pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{0x30, 0x01}})},
	} {
		if _, err := platform.ParseSoftwareDeviceKey(tc.file); !errors.Is(err, platform.ErrBadDeviceKey) {
			t.Errorf("ParseSoftwareDeviceKey(%s) = %v, want ErrBadDeviceKey", tc.name, err)
		}
	}
}

// plainTPM is a TPM that cannot hold device keys.
type plainTPM struct{ platform.TPM }

func TestDeviceKeyNotSupported(t *testing.T) {
	if _, err := platform.CreateDeviceKey(plainTPM{}); !errors.Is(err, platform.ErrNotSupported) {
		t.Errorf("CreateDeviceKey(plain TPM) = %v, want ErrNotSupported", err)
	}
	if _, err := platform.LoadDeviceKey(plainTPM{}, nil); !errors.Is(err, platform.ErrNotSupported) {
		t.Errorf("LoadDeviceKey(plain TPM) = %v, want ErrNotSupported", err)
	}
}

// BenchmarkDeviceKeySign measures Sign with the key kept loaded ("resident", the
// design) and with two keys used in turn ("reload": every Sign flushes the other key
// and loads this one, which costs what loading the key for every Sign would).
func BenchmarkDeviceKeySign(b *testing.B) {
	for _, be := range deviceKeyBackends {
		b.Run(be.name, func(b *testing.B) {
			var n atomic.Int64
			tp := openTPM(b, be.spec(b), platform.WithCommandCounter(&n))
			k1 := loadKey(b, tp, createKey(b, tp))
			k2 := loadKey(b, tp, createKey(b, tp))
			digest := sha256.Sum256([]byte("TLS 1.3 CertificateVerify content"))
			run := func(b *testing.B, keys ...platform.DeviceKey) {
				if _, err := keys[len(keys)-1].Sign(nil, digest[:], crypto.SHA256); err != nil {
					b.Fatal(err)
				}
				start := n.Load()
				i := 0
				for b.Loop() {
					if _, err := keys[i%len(keys)].Sign(nil, digest[:], crypto.SHA256); err != nil {
						b.Fatal(err)
					}
					i++
				}
				b.ReportMetric(float64(n.Load()-start)/float64(b.N), "tpm-cmds/op")
			}
			b.Run("resident", func(b *testing.B) { run(b, k1) })
			b.Run("reload", func(b *testing.B) { run(b, k1, k2) })
		})
	}
}
