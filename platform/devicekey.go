package platform

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"sync/atomic"
)

// DeviceKey is the device's ECDSA P-256 key for mutual TLS with the portal: the
// private key of its client certificate. It is a crypto.Signer, so it goes straight
// into tls.Certificate.PrivateKey, x509.CreateCertificateRequest and the like.
//
// Sign accepts only SHA-256 digests (opts.HashFunc() == crypto.SHA256, 32-byte digest)
// and returns an ASN.1 DER ECDSA signature, as crypto/ecdsa does; other hashes fail
// with ErrUnsupportedHash. This is all TLS 1.3 (ecdsa_secp256r1_sha256) and X.509
// (ecdsa-with-SHA256) need for a P-256 key, and both implementations behave alike so
// that code tested with a software key works with a TPM key. Public returns an
// *ecdsa.PublicKey. Sign and Public are safe for concurrent use; Sign fails after Close.
//
// The interface rather than a struct because the two implementations hold different
// things (a TPM object bound to an open TPM, or an *ecdsa.PrivateKey), and the callers
// (the sync client, enrollment) need nothing but signing, the kind of key for the
// portal's policy, and a way to release the TPM object.
type DeviceKey interface {
	crypto.Signer
	// Hardware reports whether the private key lives in a hardware TPM (see
	// Info.Hardware): true for a key in the platform's TPM, false for a software key
	// and for a key in swtpm or the in-process simulator, which do not protect it.
	Hardware() bool
	// Close releases the key: a TPM key is flushed from the TPM (the TPM itself stays
	// open). It is safe to call twice.
	Close() error
}

// DeviceKeyTPM is implemented by TPMs that can create and load device keys; every TPM
// that Open returns implements it. Callers use CreateDeviceKey and LoadDeviceKey.
type DeviceKeyTPM interface {
	// CreateDeviceKey creates a device key in the TPM and returns its key file.
	CreateDeviceKey() ([]byte, error)
	// LoadDeviceKey loads a key file made by CreateDeviceKey on this TPM.
	LoadDeviceKey(keyFile []byte) (DeviceKey, error)
}

// Errors of device keys, returned wrapped.
var (
	// ErrBadDeviceKey: a key file that is not a device key file, is damaged, or holds
	// a key of the wrong kind (e.g. a software key given to LoadDeviceKey).
	ErrBadDeviceKey = errors.New("not a valid device key file")
	// ErrUnsupportedHash: Sign was asked for a hash other than SHA-256.
	ErrUnsupportedHash = errors.New("device keys sign SHA-256 digests only")
)

// PEM block types of the two kinds of key file.
const (
	pemTypeTPMKey      = "FIELDOFFICE TPM DEVICE KEY"
	pemTypeSoftwareKey = "PRIVATE KEY" // PKCS#8
)

// CreateDeviceKey creates a new device key in tp and returns its key file: a PEM block
// ("FIELDOFFICE TPM DEVICE KEY") holding the key's TPM2B_PUBLIC and TPM2B_PRIVATE and
// the name of the SRK it was created under. The private part is encrypted by the TPM
// under its SRK, so the file is useless on another machine; but since the key has an
// empty auth value, whoever can read the file and talk to this TPM can sign with it:
// store it like a private key (mode 0600 in the data directory).
//
// The key is an ECC P-256 unrestricted signing key with the fixed scheme ECDSA/SHA-256,
// created in the TPM (sensitiveDataOrigin) under the owner-hierarchy SRK (the one Seal
// uses), fixedTPM|fixedParent so that it can never be duplicated out of the TPM,
// userWithAuth with an empty auth value so that it works without the user's PIN (the
// device syncs while the vault is locked), and noDA: there is no auth value to guess,
// and without noDA a dictionary-attack lockout caused by wrong PINs would stop the
// device from syncing too. It costs 1–2 TPM commands (SRK lookup on first use, Create).
//
// It fails with ErrNotSupported when tp cannot hold device keys.
func CreateDeviceKey(tp TPM) ([]byte, error) {
	dk, ok := tp.(DeviceKeyTPM)
	if !ok {
		return nil, fmt.Errorf("create device key: TPM %T cannot hold device keys: %w", tp, ErrNotSupported)
	}
	return dk.CreateDeviceKey()
}

// LoadDeviceKey loads the key file made by CreateDeviceKey into tp and returns the key,
// bound to tp: it must be closed before tp is (closing tp first also releases it, and
// Sign then fails). Errors wrap ErrWrongTPM when the file was made by another TPM (or
// before this one was cleared), ErrBadDeviceKey when the file is damaged or not a TPM
// device key, ErrNotSupported when tp cannot hold device keys.
//
// Loading checks that the key is what CreateDeviceKey makes (P-256, ECDSA/SHA-256,
// created in the TPM, not duplicable), so a key file for an imported key is refused.
// It costs 1–2 TPM commands (SRK lookup on first use, Load); see the package
// documentation for the TPM commands of Sign.
func LoadDeviceKey(tp TPM, keyFile []byte) (DeviceKey, error) {
	dk, ok := tp.(DeviceKeyTPM)
	if !ok {
		return nil, fmt.Errorf("load device key: TPM %T cannot hold device keys: %w", tp, ErrNotSupported)
	}
	return dk.LoadDeviceKey(keyFile)
}

// checkSHA256 checks Sign's arguments: a 32-byte SHA-256 digest.
func checkSHA256(digest []byte, opts crypto.SignerOpts) error {
	if opts == nil || opts.HashFunc() != crypto.SHA256 {
		h := "none"
		if opts != nil {
			h = opts.HashFunc().String()
		}
		return fmt.Errorf("sign with device key: hash %s: %w", h, ErrUnsupportedHash)
	}
	if len(digest) != sha256.Size {
		return fmt.Errorf("sign with device key: digest is %d bytes, a SHA-256 digest is %d", len(digest), sha256.Size)
	}
	return nil
}

// SoftwareDeviceKey is a device key held in process memory and stored as a PKCS#8 PEM
// file, for devices without a TPM (--tpm none) and only where the portal's policy
// allows software keys. Anyone who can read its file has the key.
type SoftwareDeviceKey struct {
	key    *ecdsa.PrivateKey
	closed atomic.Bool
}

var (
	_ DeviceKey = (*SoftwareDeviceKey)(nil)
	_ DeviceKey = (*tpmDeviceKey)(nil)
)

// NewSoftwareDeviceKey generates a software device key (ECDSA P-256).
func NewSoftwareDeviceKey() (*SoftwareDeviceKey, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("create software device key: %w", err)
	}
	return &SoftwareDeviceKey{key: k}, nil
}

// ParseSoftwareDeviceKey parses a key file written by MarshalPEM: a PKCS#8 "PRIVATE
// KEY" PEM block with an ECDSA P-256 key, as `openssl genpkey -algorithm EC -pkeyopt
// ec_paramgen_curve:P-256` writes. Errors wrap ErrBadDeviceKey.
func ParseSoftwareDeviceKey(keyFile []byte) (*SoftwareDeviceKey, error) {
	block, _ := pem.Decode(keyFile)
	switch {
	case block == nil:
		return nil, fmt.Errorf("parse software device key: %w: no PEM block", ErrBadDeviceKey)
	case block.Type == pemTypeTPMKey:
		return nil, fmt.Errorf("parse software device key: %w: this is a TPM device key, load it with LoadDeviceKey", ErrBadDeviceKey)
	case block.Type != pemTypeSoftwareKey:
		return nil, fmt.Errorf("parse software device key: %w: PEM type %q, want %q (PKCS#8)", ErrBadDeviceKey, block.Type, pemTypeSoftwareKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse software device key: %w: %w", ErrBadDeviceKey, err)
	}
	ek, ok := k.(*ecdsa.PrivateKey)
	if !ok || ek.Curve != elliptic.P256() {
		return nil, fmt.Errorf("parse software device key: %w: key is %T, want ECDSA P-256", ErrBadDeviceKey, k)
	}
	return &SoftwareDeviceKey{key: ek}, nil
}

// MarshalPEM returns the key as a PKCS#8 "PRIVATE KEY" PEM block. The result is the
// private key in clear: write it with mode 0600.
func (k *SoftwareDeviceKey) MarshalPEM() ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(k.key)
	if err != nil {
		return nil, fmt.Errorf("marshal software device key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeSoftwareKey, Bytes: der}), nil
}

// Public implements crypto.Signer; it returns an *ecdsa.PublicKey.
func (k *SoftwareDeviceKey) Public() crypto.PublicKey { return &k.key.PublicKey }

// Sign implements crypto.Signer (see DeviceKey). rand is passed to crypto/ecdsa.
func (k *SoftwareDeviceKey) Sign(rand io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkSHA256(digest, opts); err != nil {
		return nil, err
	}
	if k.closed.Load() {
		return nil, errors.New("sign with device key: key is closed")
	}
	return k.key.Sign(rand, digest, opts)
}

// Hardware implements DeviceKey: false.
func (k *SoftwareDeviceKey) Hardware() bool { return false }

// Close implements DeviceKey: later Signs fail. The key stays in memory until it is
// garbage collected.
func (k *SoftwareDeviceKey) Close() error {
	k.closed.Store(true)
	return nil
}
