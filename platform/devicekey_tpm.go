package platform

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"encoding/asn1"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"

	"github.com/google/go-tpm/tpm2"
)

// ecdsaSHA256 is the signing scheme of device keys, fixed in the key's public area
// and named again in every TPM2_Sign.
var ecdsaSHA256 = tpm2.TPMTSigScheme{
	Scheme:  tpm2.TPMAlgECDSA,
	Details: tpm2.NewTPMUSigScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSchemeHash{HashAlg: tpm2.TPMAlgSHA256}),
}

// deviceKeyTemplate is the public area of a device key; see CreateDeviceKey for why
// each attribute is set.
var deviceKeyTemplate = tpm2.TPMTPublic{
	Type:    tpm2.TPMAlgECC,
	NameAlg: tpm2.TPMAlgSHA256,
	ObjectAttributes: tpm2.TPMAObject{
		FixedTPM:            true,
		FixedParent:         true,
		SensitiveDataOrigin: true,
		UserWithAuth:        true,
		NoDA:                true,
		SignEncrypt:         true,
	},
	Parameters: tpm2.NewTPMUPublicParms(tpm2.TPMAlgECC, &tpm2.TPMSECCParms{
		Symmetric: tpm2.TPMTSymDefObject{Algorithm: tpm2.TPMAlgNull},
		Scheme: tpm2.TPMTECCScheme{
			Scheme:  tpm2.TPMAlgECDSA,
			Details: tpm2.NewTPMUAsymScheme(tpm2.TPMAlgECDSA, &tpm2.TPMSSigSchemeECDSA{HashAlg: tpm2.TPMAlgSHA256}),
		},
		CurveID: tpm2.TPMECCNistP256,
		KDF:     tpm2.TPMTKDFScheme{Scheme: tpm2.TPMAlgNull},
	}),
	Unique: tpm2.NewTPMUPublicID(tpm2.TPMAlgECC, &tpm2.TPMSECCPoint{}),
}

// tpmKeyFileVersion is the version of tpmKeyFile written by CreateDeviceKey.
const tpmKeyFileVersion = 1

// tpmKeyFile is the DER content of a TPM device key file's PEM block:
//
//	SEQUENCE { version INTEGER (1), public OCTET STRING, private OCTET STRING, srkName OCTET STRING }
type tpmKeyFile struct {
	Version int
	Public  []byte // TPM2B_PUBLIC, marshalled
	Private []byte // TPM2B_PRIVATE, marshalled
	SRKName []byte // name of the SRK the key was created under (nameAlg ‖ digest)
}

// tpmDeviceKey is a device key loaded into a tpm2Device.
//
// A tpm2Device keeps at most one device key loaded (d.resident), until the key or the
// device is closed or another key is used: TPMs without a resource manager (swtpm,
// the simulator) and Linux's per-file resource manager hold only 3 transient objects,
// and the simulator's transient SRK plus Unseal's object need two of them.
type tpmDeviceKey struct {
	d       *tpm2Device
	public  tpm2.TPM2BPublic
	private tpm2.TPM2BPrivate
	srkName []byte
	pub     *ecdsa.PublicKey

	// Guarded by d.mu.
	handle tpm2.TPMHandle // valid while d.resident == k
	name   tpm2.TPM2BName
	closed bool
}

// CreateDeviceKey implements DeviceKeyTPM; see the function CreateDeviceKey.
//
// TPM2_Create runs in a plain password session (the SRK's auth value is empty): the
// command carries no secret (the TPM generates the key; its auth value is empty) and
// the private part comes back encrypted under the SRK, so a salted session, which
// Seal needs for the secret and the PIN-derived auth value, would protect nothing here.
func (d *tpm2Device) CreateDeviceKey() ([]byte, error) {
	if err := d.lock(); err != nil {
		return nil, fmt.Errorf("create device key: %w", err)
	}
	defer d.mu.Unlock()
	srk, err := d.srkLocked()
	if err != nil {
		return nil, fmt.Errorf("create device key: %w", err)
	}
	rsp, err := tpm2.Create{
		ParentHandle: tpm2.AuthHandle{Handle: srk.handle, Name: srk.name, Auth: tpm2.PasswordAuth(nil)},
		InPublic:     tpm2.New2B(deviceKeyTemplate),
	}.Execute(d.t)
	if err != nil {
		return nil, fmt.Errorf("create device key: TPM2_Create (ECC P-256 signing key under SRK): %w", mapErr(err))
	}
	der, err := asn1.Marshal(tpmKeyFile{
		Version: tpmKeyFileVersion,
		Public:  tpm2.Marshal(rsp.OutPublic),
		Private: tpm2.Marshal(rsp.OutPrivate),
		SRKName: bytes.Clone(srk.name.Buffer),
	})
	if err != nil {
		return nil, fmt.Errorf("create device key: encode key file: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: pemTypeTPMKey, Bytes: der}), nil
}

// LoadDeviceKey implements DeviceKeyTPM; see the function LoadDeviceKey.
func (d *tpm2Device) LoadDeviceKey(keyFile []byte) (DeviceKey, error) {
	k, err := parseTPMKeyFile(keyFile)
	if err != nil {
		return nil, fmt.Errorf("load device key: %w", err)
	}
	k.d = d
	if err := d.lock(); err != nil {
		return nil, fmt.Errorf("load device key: %w", err)
	}
	defer d.mu.Unlock()
	if err := d.residentLocked(k); err != nil {
		return nil, fmt.Errorf("load device key: %w", err)
	}
	return k, nil
}

// parseTPMKeyFile decodes a TPM device key file and checks the key's public area.
func parseTPMKeyFile(keyFile []byte) (*tpmDeviceKey, error) {
	block, _ := pem.Decode(keyFile)
	switch {
	case block == nil:
		return nil, fmt.Errorf("%w: no PEM block", ErrBadDeviceKey)
	case block.Type == pemTypeSoftwareKey:
		return nil, fmt.Errorf("%w: this is a software device key (PKCS#8), parse it with ParseSoftwareDeviceKey", ErrBadDeviceKey)
	case block.Type != pemTypeTPMKey:
		return nil, fmt.Errorf("%w: PEM type %q, want %q", ErrBadDeviceKey, block.Type, pemTypeTPMKey)
	}
	var f tpmKeyFile
	rest, err := asn1.Unmarshal(block.Bytes, &f)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDeviceKey, err)
	}
	if len(rest) > 0 || f.Version != tpmKeyFileVersion || len(f.SRKName) == 0 {
		return nil, fmt.Errorf("%w: version %d, %d trailing bytes, SRK name of %d bytes (want version %d, no trailing bytes, an SRK name)",
			ErrBadDeviceKey, f.Version, len(rest), len(f.SRKName), tpmKeyFileVersion)
	}
	pub2B, err := tpm2.Unmarshal[tpm2.TPM2BPublic](f.Public)
	if err != nil {
		return nil, fmt.Errorf("%w: public area: %w", ErrBadDeviceKey, err)
	}
	priv, err := tpm2.Unmarshal[tpm2.TPM2BPrivate](f.Private)
	if err != nil {
		return nil, fmt.Errorf("%w: private area: %w", ErrBadDeviceKey, err)
	}
	pub, err := pub2B.Contents()
	if err != nil {
		return nil, fmt.Errorf("%w: public area: %w", ErrBadDeviceKey, err)
	}
	ecPub, err := deviceKeyPublic(pub)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrBadDeviceKey, err)
	}
	return &tpmDeviceKey{public: *pub2B, private: *priv, srkName: f.SRKName, pub: ecPub}, nil
}

// deviceKeyPublic checks that pub is a key as CreateDeviceKey makes them — ECC P-256,
// ECDSA/SHA-256, an unrestricted signing key generated in the TPM that cannot leave
// it — and returns its public key.
func deviceKeyPublic(pub *tpm2.TPMTPublic) (*ecdsa.PublicKey, error) {
	if pub.Type != tpm2.TPMAlgECC || pub.NameAlg != tpm2.TPMAlgSHA256 {
		return nil, fmt.Errorf("key type %#x, name algorithm %#x; want ECC (%#x), SHA-256 (%#x)",
			pub.Type, pub.NameAlg, tpm2.TPMAlgECC, tpm2.TPMAlgSHA256)
	}
	a := pub.ObjectAttributes
	if !a.FixedTPM || !a.FixedParent || !a.SensitiveDataOrigin || !a.UserWithAuth ||
		!a.SignEncrypt || a.Decrypt || a.Restricted {
		return nil, errors.New("key attributes are not fixedTPM|fixedParent|sensitiveDataOrigin|userWithAuth|sign (unrestricted)")
	}
	ecc, err := pub.Parameters.ECCDetail()
	if err != nil {
		return nil, err
	}
	if ecc.CurveID != tpm2.TPMECCNistP256 || ecc.Scheme.Scheme != tpm2.TPMAlgECDSA {
		return nil, fmt.Errorf("curve %#x, scheme %#x; want NIST P-256 (%#x), ECDSA (%#x)",
			ecc.CurveID, ecc.Scheme.Scheme, tpm2.TPMECCNistP256, tpm2.TPMAlgECDSA)
	}
	if s, err := ecc.Scheme.Details.ECDSA(); err != nil || s.HashAlg != tpm2.TPMAlgSHA256 {
		return nil, errors.New("signing scheme is not ECDSA with SHA-256")
	}
	point, err := pub.Unique.ECC()
	if err != nil {
		return nil, err
	}
	if len(point.X.Buffer) > 32 || len(point.Y.Buffer) > 32 {
		return nil, errors.New("public point coordinates longer than 32 bytes")
	}
	var raw [65]byte
	raw[0] = 4 // uncompressed
	copy(raw[33-len(point.X.Buffer):33], point.X.Buffer)
	copy(raw[65-len(point.Y.Buffer):], point.Y.Buffer)
	return ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw[:])
}

// residentLocked makes k the device's loaded device key: flushes the one loaded
// before, if it is another, and loads k under the SRK. d.mu must be held.
func (d *tpm2Device) residentLocked(k *tpmDeviceKey) error {
	if d.resident == k {
		return nil
	}
	srk, err := d.srkLocked()
	if err != nil {
		return err
	}
	if !bytes.Equal(k.srkName, srk.name.Buffer) {
		return fmt.Errorf("key made under SRK %x, this TPM's SRK is %x: %w", k.srkName, srk.name.Buffer, ErrWrongTPM)
	}
	d.evictLocked()
	rsp, err := tpm2.Load{
		ParentHandle: tpm2.AuthHandle{Handle: srk.handle, Name: srk.name, Auth: tpm2.PasswordAuth(nil)},
		InPrivate:    k.private,
		InPublic:     k.public,
	}.Execute(d.t)
	if err != nil {
		return fmt.Errorf("TPM2_Load under SRK: %w", mapLoadErr(err))
	}
	k.handle, k.name = rsp.ObjectHandle, rsp.Name
	d.resident = k
	return nil
}

// evictLocked flushes the loaded device key, if any. d.mu must be held.
func (d *tpm2Device) evictLocked() {
	if d.resident != nil {
		d.flush(d.resident.handle)
		d.resident = nil
	}
}

// Public implements crypto.Signer; it returns an *ecdsa.PublicKey.
func (k *tpmDeviceKey) Public() crypto.PublicKey { return k.pub }

// Hardware implements DeviceKey.
func (k *tpmDeviceKey) Hardware() bool { return k.d.info.Hardware }

// Sign implements crypto.Signer (see DeviceKey). rand is not used: the TPM makes the
// nonce.
//
// It takes one TPM command (TPM2_Sign) while the key stays loaded, and a Load more
// after another device key was used on the same TPM. Signs are serialised with every
// other command on the TPM. If TPM2_Sign fails, the key is flushed and loaded again on
// next use; if it fails because the TPM no longer has the object (TPM reset under a
// resource manager), it is loaded again and the Sign retried once.
//
// TPM2_Sign runs in a plain password session with the empty auth value: an HMAC
// session would be keyed with that empty value and prove nothing, and parameter
// encryption would hide a digest of a public TLS transcript and a signature the
// server receives in clear; either would cost two more commands (StartAuthSession,
// FlushContext) or a session slot. Instead every signature is verified against the
// public key before it is returned (≈0.07 ms against ≥10 ms for a TPM command), so a
// corrupted response or a wrong object at the key's handle is an error here, not a
// failed handshake at the portal.
func (k *tpmDeviceKey) Sign(_ io.Reader, digest []byte, opts crypto.SignerOpts) ([]byte, error) {
	if err := checkSHA256(digest, opts); err != nil {
		return nil, err
	}
	d := k.d
	if err := d.lock(); err != nil {
		return nil, fmt.Errorf("sign with device key: %w", err)
	}
	defer d.mu.Unlock()
	if k.closed {
		return nil, errors.New("sign with device key: key is closed")
	}
	sig, err := d.signLocked(k, digest)
	if err != nil {
		d.evictLocked()
		if errors.Is(err, tpm2.TPMRCHandle) || errors.Is(err, tpm2.TPMRCReferenceH0) {
			sig, err = d.signLocked(k, digest)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("sign with device key: %w", err)
	}
	return sig, nil
}

// signLocked loads k if needed, signs digest and returns the verified DER signature.
func (d *tpm2Device) signLocked(k *tpmDeviceKey, digest []byte) ([]byte, error) {
	if err := d.residentLocked(k); err != nil {
		return nil, err
	}
	rsp, err := tpm2.Sign{
		KeyHandle: tpm2.AuthHandle{Handle: k.handle, Name: k.name, Auth: tpm2.PasswordAuth(nil)},
		Digest:    tpm2.TPM2BDigest{Buffer: digest},
		InScheme:  ecdsaSHA256,
		// A NULL ticket: the key is not restricted, so the TPM signs any digest.
		Validation: tpm2.TPMTTKHashCheck{Tag: tpm2.TPMSTHashCheck, Hierarchy: tpm2.TPMRHNull},
	}.Execute(d.t)
	if err != nil {
		return nil, fmt.Errorf("TPM2_Sign: %w", mapErr(err))
	}
	ecc, err := rsp.Signature.Signature.ECDSA()
	if err != nil {
		return nil, fmt.Errorf("TPM2_Sign: signature is not ECDSA: %w", err)
	}
	sig, err := asn1.Marshal(struct{ R, S *big.Int }{
		new(big.Int).SetBytes(ecc.SignatureR.Buffer),
		new(big.Int).SetBytes(ecc.SignatureS.Buffer),
	})
	if err != nil {
		return nil, fmt.Errorf("TPM2_Sign: encode signature: %w", err)
	}
	if !ecdsa.VerifyASN1(k.pub, digest, sig) {
		return nil, errors.New("TPM2_Sign: the TPM's signature does not verify with the device key's public key")
	}
	return sig, nil
}

// Close implements DeviceKey: it flushes the key from the TPM if it is loaded.
func (k *tpmDeviceKey) Close() error {
	d := k.d
	d.mu.Lock()
	defer d.mu.Unlock()
	if k.closed {
		return nil
	}
	k.closed = true
	if d.resident != k || d.closed {
		return nil
	}
	d.resident = nil
	if _, err := (tpm2.FlushContext{FlushHandle: k.handle}).Execute(d.t); err != nil {
		return fmt.Errorf("close device key: TPM2_FlushContext: %w", err)
	}
	return nil
}
