package crypto

import (
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"fmt"
)

// KeySize is the size of a [Key] in bytes.
const KeySize = 32

// Key is a 256-bit symmetric key: the DEK, a subkey or a key-encryption key.
type Key [KeySize]byte

// Purposes for [Key.Derive]. Each purpose yields an independent subkey.
const (
	PurposeRecords   = "records"
	PurposeIndex     = "index"
	PurposeAudit     = "audit"
	PurposeBlobs     = "blobs"
	PurposeHeaderMAC = "header-mac"
)

// hkdfLabel prefixes every HKDF info string of this package.
const hkdfLabel = "fieldoffice/v1/"

// NewRandomKey returns a key of 32 bytes from crypto/rand.
func NewRandomKey() (Key, error) {
	var k Key
	if _, err := rand.Read(k[:]); err != nil {
		return Key{}, fmt.Errorf("random key: %w", err)
	}
	return k, nil
}

// Zero overwrites the key with zeros.
func (k *Key) Zero() {
	clear(k[:])
}

// IsZero reports whether the key is all zeros (for example after [Key.Zero]).
func (k *Key) IsZero() bool {
	var z Key
	return *k == z
}

// Derive returns the subkey for purpose: HKDF-SHA-256 with the key as input keying
// material, no salt and "fieldoffice/v1/"+purpose as info.
func (k *Key) Derive(purpose string) Key {
	return deriveKey(k[:], nil, purpose)
}

// deriveKey runs HKDF-SHA-256 and returns 32 bytes.
func deriveKey(ikm, salt []byte, purpose string) Key {
	out, err := hkdf.Key(sha256.New, ikm, salt, hkdfLabel+purpose, KeySize)
	if err != nil {
		// Only possible for lengths above 255*32 bytes.
		panic("crypto: hkdf: " + err.Error())
	}
	var k Key
	copy(k[:], out)
	clear(out)
	return k
}

// DeriveFromSecret derives a key-encryption key from a high-entropy secret (for
// example a secret unsealed from the TPM) with HKDF-SHA-256, salt and purpose.
func DeriveFromSecret(secret, salt []byte, purpose string) Key {
	return deriveKey(secret, salt, purpose)
}
