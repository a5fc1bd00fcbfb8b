package crypto

import (
	"crypto/ecdh"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
)

// Recovery wrap format: version (1) | ephemeral X25519 public key (32) | nonce (12) |
// ciphertext+tag.
const (
	recoveryVersion = 1
	x25519Size      = 32
)

// ErrRecoveryKey is returned (wrapped) for a recovery key file that is not an X25519 key
// of the expected kind.
var ErrRecoveryKey = errors.New("not an X25519 recovery key")

// GenerateRecoveryKey returns a new X25519 recovery key pair.
func GenerateRecoveryKey() (*ecdh.PrivateKey, error) {
	return ecdh.X25519().GenerateKey(rand.Reader)
}

// MarshalRecoveryPrivateKey encodes the private key as PEM "PRIVATE KEY" (PKCS#8).
func MarshalRecoveryPrivateKey(k *ecdh.PrivateKey) ([]byte, error) {
	if k == nil || k.Curve() != ecdh.X25519() {
		return nil, ErrRecoveryKey
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal recovery private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// MarshalRecoveryPublicKey encodes the public key as PEM "PUBLIC KEY" (PKIX).
func MarshalRecoveryPublicKey(k *ecdh.PublicKey) ([]byte, error) {
	if k == nil || k.Curve() != ecdh.X25519() {
		return nil, ErrRecoveryKey
	}
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, fmt.Errorf("marshal recovery public key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

func decodePEM(data []byte, want string) ([]byte, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, fmt.Errorf("%w: no PEM block found (want %q)", ErrRecoveryKey, want)
	}
	if block.Type != want {
		return nil, fmt.Errorf("%w: PEM block is %q, want %q", ErrRecoveryKey, block.Type, want)
	}
	return block.Bytes, nil
}

// ParseRecoveryPrivateKey parses a PEM "PRIVATE KEY" (PKCS#8) X25519 key, as written by
// [MarshalRecoveryPrivateKey] or `openssl genpkey -algorithm X25519`.
func ParseRecoveryPrivateKey(data []byte) (*ecdh.PrivateKey, error) {
	der, err := decodePEM(data, "PRIVATE KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecoveryKey, err)
	}
	xk, ok := k.(*ecdh.PrivateKey)
	if !ok || xk.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%w: the file holds a %T key", ErrRecoveryKey, k)
	}
	return xk, nil
}

// ParseRecoveryPublicKey parses a PEM "PUBLIC KEY" (PKIX) X25519 key, as written by
// [MarshalRecoveryPublicKey] or `openssl pkey -pubout`.
func ParseRecoveryPublicKey(data []byte) (*ecdh.PublicKey, error) {
	der, err := decodePEM(data, "PUBLIC KEY")
	if err != nil {
		return nil, err
	}
	k, err := x509.ParsePKIXPublicKey(der)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrRecoveryKey, err)
	}
	xk, ok := k.(*ecdh.PublicKey)
	if !ok || xk.Curve() != ecdh.X25519() {
		return nil, fmt.Errorf("%w: the file holds a %T key", ErrRecoveryKey, k)
	}
	return xk, nil
}

// RecoveryFingerprint returns the SHA-256 of the public key's PKIX encoding, for
// display and for matching a private key to a recovery slot.
func RecoveryFingerprint(pub *ecdh.PublicKey) [32]byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return sha256.Sum256(pub.Bytes())
	}
	return sha256.Sum256(der)
}

func recoveryKEK(shared, eph, recipient []byte) Key {
	ikm := make([]byte, 0, len(shared)+len(eph)+len(recipient))
	ikm = append(append(append(ikm, shared...), eph...), recipient...)
	defer clear(ikm)
	return deriveKey(ikm, nil, "recovery-wrap")
}

// WrapToRecipient wraps k to the recipient's X25519 public key; aad is bound to the
// result and must be given again to unwrap.
func WrapToRecipient(k *Key, recipient *ecdh.PublicKey, aad []byte) ([]byte, error) {
	if recipient == nil || recipient.Curve() != ecdh.X25519() {
		return nil, ErrRecoveryKey
	}
	eph, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("ephemeral key: %w", err)
	}
	shared, err := eph.ECDH(recipient)
	if err != nil {
		return nil, fmt.Errorf("x25519: %w", err)
	}
	defer clear(shared)
	ephPub := eph.PublicKey().Bytes()
	kek := recoveryKEK(shared, ephPub, recipient.Bytes())
	defer kek.Zero()
	ct, err := WrapKey(&kek, aad, k)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 0, 1+x25519Size+len(ct))
	out = append(out, recoveryVersion)
	out = append(out, ephPub...)
	return append(out, ct...), nil
}

// UnwrapWithPrivateKey reverses [WrapToRecipient]. Every failure (wrong private key,
// modified data, wrong aad) is [ErrAuth].
func UnwrapWithPrivateKey(wrapped []byte, priv *ecdh.PrivateKey, aad []byte) (Key, error) {
	if priv == nil || priv.Curve() != ecdh.X25519() || len(wrapped) < 1+x25519Size+Overhead ||
		wrapped[0] != recoveryVersion {
		return Key{}, ErrAuth
	}
	ephPub, err := ecdh.X25519().NewPublicKey(wrapped[1 : 1+x25519Size])
	if err != nil {
		return Key{}, ErrAuth
	}
	shared, err := priv.ECDH(ephPub)
	if err != nil {
		return Key{}, ErrAuth
	}
	defer clear(shared)
	kek := recoveryKEK(shared, ephPub.Bytes(), priv.PublicKey().Bytes())
	defer kek.Zero()
	return UnwrapKey(&kek, aad, wrapped[1+x25519Size:])
}
