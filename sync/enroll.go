package sync

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"errors"
	"fmt"
	"time"

	"fieldoffice/portal"
)

// EnrollParams is what Enroll needs besides the token.
type EnrollParams struct {
	Token      string        // as printed by `portald token create`
	User       string        // the device's first user
	DeviceName string        // host name or what the admin chose
	Key        crypto.Signer // the device key (ECDSA P-256), in the TPM or software
	KeyKind    string        // KeyTPM or KeySoftware
	KeyBlob    []byte        // what to store to get the key back (TPM blob, or PKCS#8 PEM)
	TPMKind    string        // device, mssim, sim, none
	Hardware   bool          // the key is in a hardware TPM
	Client     ClientConfig  // timeouts, retries, logger, dialer (URL and pin come from the token)
}

// ErrEnroll wraps every enrollment failure.
var ErrEnroll = errors.New("enrollment failed")

// Enroll enrolls the device: it checks the portal against the CA hash in the token
// (so no certificate needs to be installed beforehand), sends a CSR signed by the
// device key, and checks what comes back: the certificate is for this key and chains
// to the pinned CA. The result is not saved; the caller stores it (Device.Save) once
// the vault exists.
func Enroll(ctx context.Context, p EnrollParams) (*Device, error) {
	tok, err := portal.ParseToken(p.Token)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEnroll, err)
	}
	if tok.Expires.Before(time.Now()) && !tok.Expires.IsZero() {
		return nil, fmt.Errorf("%w: the token expired on %s — ask IT for a new one", ErrEnroll, tok.Expires.Local().Format("02.01.2006 15:04"))
	}
	pub, ok := p.Key.Public().(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		return nil, fmt.Errorf("%w: the device key is not ECDSA P-256", ErrEnroll)
	}
	cfg := p.Client
	cfg.URL, cfg.CAPin, cfg.CA, cfg.Certificate = tok.URL, tok.CASHA256, nil, nil
	c, err := NewClient(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEnroll, err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: p.DeviceName, Organization: []string{tok.Office}},
	}, p.Key)
	if err != nil {
		return nil, fmt.Errorf("%w: sign the certificate request with the device key: %w", ErrEnroll, err)
	}
	resp, err := c.Enroll(ctx, portal.EnrollRequest{
		Secret: tok.Secret, CSR: csr, DeviceName: p.DeviceName, User: p.User,
		TPMKind: p.TPMKind, Hardware: p.Hardware, Software: p.KeyKind == KeySoftware,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrEnroll, err)
	}
	if sum := sha256.Sum256(resp.CA); hex.EncodeToString(sum[:]) != tok.CASHA256 {
		return nil, fmt.Errorf("%w: the portal sent a CA other than the one in the token", ErrEnroll)
	}
	ca, err := x509.ParseCertificate(resp.CA)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: CA: %v", ErrEnroll, ErrBadAnswer, err)
	}
	cert, err := x509.ParseCertificate(resp.Certificate)
	if err != nil {
		return nil, fmt.Errorf("%w: %w: certificate: %v", ErrEnroll, ErrBadAnswer, err)
	}
	certPub, ok := cert.PublicKey.(*ecdsa.PublicKey)
	if !ok || !certPub.Equal(pub) {
		return nil, fmt.Errorf("%w: the portal's certificate is not for this device's key", ErrEnroll)
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return nil, fmt.Errorf("%w: the device certificate does not chain to the portal CA: %v", ErrEnroll, err)
	}
	if cert.Subject.CommonName != resp.DeviceID {
		return nil, fmt.Errorf("%w: certificate is for %q, the portal says device %q", ErrEnroll, cert.Subject.CommonName, resp.DeviceID)
	}
	now := time.Now().UTC()
	return &Device{
		Version: 1, DeviceID: resp.DeviceID, Name: p.DeviceName, Office: resp.Office, PortalURL: tok.URL,
		CA: bytes.Clone(resp.CA), Certificate: bytes.Clone(resp.Certificate),
		KeyKind: p.KeyKind, KeyBlob: bytes.Clone(p.KeyBlob), Policy: resp.Policy, RecoveryPEM: resp.Recovery, Forms: resp.Forms,
		Enrolled: now, LastContact: now,
	}, nil
}
