package server

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// Validity periods and the clock skew certificates allow for.
const (
	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 2 * 365 * 24 * time.Hour
	deviceValidity = 365 * 24 * time.Hour
	renewBefore    = 30 * 24 * time.Hour // Open re-issues a server certificate this close to expiry
	clockSkew      = 5 * time.Minute
)

// ca is the portal's certificate authority.
type ca struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
}

// fingerprint returns the lowercase hex SHA-256 of the CA certificate's DER bytes:
// what an enrollment token carries (portal.EnrollToken.CASHA256).
func (c *ca) fingerprint() string { return Fingerprint(c.cert.Raw) }

// Fingerprint returns the lowercase hex SHA-256 of a DER certificate.
func Fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	return hex.EncodeToString(sum[:])
}

func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("certificate serial number: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil // never 0
}

// newCA creates a self-signed ECDSA P-256 CA valid for ten years that may sign leaf
// certificates only.
func newCA(now time.Time) (*ca, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "FieldOffice Portal CA", Organization: []string{"FieldOffice"}},
		NotBefore:             now.Add(-clockSkew),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("create CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse CA certificate: %w", err)
	}
	return &ca{cert: cert, key: key}, nil
}

// issue signs a leaf certificate for pub.
func (c *ca) issue(tmpl *x509.Certificate, pub any) (*x509.Certificate, error) {
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	tmpl.SerialNumber = serial
	tmpl.BasicConstraintsValid = true
	if tmpl.NotAfter.After(c.cert.NotAfter) {
		tmpl.NotAfter = c.cert.NotAfter
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, c.cert, pub, c.key)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}

// issueServer creates a key and a TLS server certificate for hosts (DNS names or IP
// addresses), valid for two years.
func (c *ca) issueServer(hosts []string, now time.Time) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("server key: %w", err)
	}
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: hosts[0], Organization: []string{"FieldOffice"}},
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    now.Add(serverValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, h)
		}
	}
	cert, err := c.issue(tmpl, &key.PublicKey)
	if err != nil {
		return nil, nil, fmt.Errorf("server certificate: %w", err)
	}
	return cert, key, nil
}

// issueDevice issues a device's client certificate for the key in csr: subject CN =
// the device ID, OU = the office, client authentication only, valid one year.
func (c *ca) issueDevice(csr *x509.CertificateRequest, deviceID, office string, now time.Time) (*x509.Certificate, error) {
	tmpl := &x509.Certificate{
		Subject:     pkix.Name{CommonName: deviceID, OrganizationalUnit: []string{office}, Organization: []string{"FieldOffice"}},
		NotBefore:   now.Add(-clockSkew),
		NotAfter:    now.Add(deviceValidity),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	cert, err := c.issue(tmpl, csr.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("device certificate: %w", err)
	}
	return cert, nil
}

// parseCSR parses a DER PKCS#10 request, checks its signature and that its key is
// ECDSA P-256. Errors wrap [ErrBadCSR].
func parseCSR(der []byte) (*x509.CertificateRequest, error) {
	if len(der) == 0 {
		return nil, fmt.Errorf("%w: empty", ErrBadCSR)
	}
	csr, err := x509.ParseCertificateRequest(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadCSR, err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("%w: signature: %v", ErrBadCSR, err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the key must be ECDSA P-256", ErrBadCSR)
	}
	return csr, nil
}

// hostList returns hosts (trimmed, without duplicates, in order) followed by
// localhost, 127.0.0.1 and ::1. A host must be a DNS name or an IP address, without
// scheme or port.
func hostList(hosts []string) ([]string, error) {
	var out []string
	for _, h := range append(slices.Clone(hosts), "localhost", "127.0.0.1", "::1") {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		if ip := net.ParseIP(h); ip != nil {
			h = ip.String()
		} else if !validHostname(h) {
			return nil, fmt.Errorf("%w: host %q is neither a DNS name nor an IP address", ErrInvalidInput, h)
		}
		if !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out, nil
}

func validHostname(h string) bool {
	if len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(h, "."), ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, r := range label {
			if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
				return false
			}
		}
	}
	return true
}

// --- PEM files ----------------------------------------------------------------------

func certPEM(certs ...*x509.Certificate) []byte {
	var out []byte
	for _, c := range certs {
		out = append(out, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})...)
	}
	return out
}

func keyPEM(k *ecdsa.PrivateKey) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// loadCA reads ca.crt and ca.key from dir.
func loadCA(dir string) (*ca, error) {
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, fileCACert), filepath.Join(dir, fileCAKey))
	if err != nil {
		return nil, fmt.Errorf("load portal CA: %w", err)
	}
	key, ok := pair.PrivateKey.(*ecdsa.PrivateKey)
	if !ok {
		return nil, errors.New("load portal CA: ca.key is not an ECDSA key")
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return nil, fmt.Errorf("load portal CA: %w", err)
	}
	if !cert.IsCA {
		return nil, errors.New("load portal CA: ca.crt is not a CA certificate")
	}
	return &ca{cert: cert, key: key}, nil
}

// writeServerCert issues a server certificate for hosts and writes server.crt (leaf,
// then CA: a device pins the CA by its SHA-256 during enrollment, so the chain must
// carry it) and server.key.
func writeServerCert(dir string, c *ca, hosts []string, now time.Time) error {
	cert, key, err := c.issueServer(hosts, now)
	if err != nil {
		return err
	}
	kp, err := keyPEM(key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, fileServerKey), kp); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, fileServerCert), certPEM(cert, c.cert))
}

// loadServerCert reads server.crt and server.key; when the certificate expires within
// renewBefore it issues a new one for the same hosts first.
func loadServerCert(dir string, c *ca, now time.Time) (tls.Certificate, bool, error) {
	load := func() (tls.Certificate, error) {
		pair, err := tls.LoadX509KeyPair(filepath.Join(dir, fileServerCert), filepath.Join(dir, fileServerKey))
		if err != nil {
			return pair, fmt.Errorf("load server certificate: %w", err)
		}
		pair.Leaf, err = x509.ParseCertificate(pair.Certificate[0])
		return pair, err
	}
	pair, err := load()
	if err != nil {
		return pair, false, err
	}
	if pair.Leaf.NotAfter.Sub(now) > renewBefore {
		return pair, false, nil
	}
	hosts := slices.Clone(pair.Leaf.DNSNames)
	for _, ip := range pair.Leaf.IPAddresses {
		hosts = append(hosts, ip.String())
	}
	if err := writeServerCert(dir, c, hosts, now); err != nil {
		return pair, false, fmt.Errorf("renew server certificate: %w", err)
	}
	pair, err = load()
	return pair, true, err
}

// writeFile writes data to path (mode 0600) through a temporary file that is fsynced
// and renamed, then fsyncs the directory: the file is there completely or not at all.
func writeFile(path string, data []byte) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write %s: %w", filepath.Base(path), err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync %s: %w", filepath.Base(path), err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir fsyncs a directory, so that a rename or a new file in it is durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
