package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
)

// FormatVersion is the version byte at the start of every sealed value.
const FormatVersion = 1

// NonceSize and Overhead describe the sealed value format.
const (
	NonceSize = 12
	TagSize   = 16
	// Overhead is the number of bytes a sealed value is longer than its plaintext.
	Overhead = 1 + NonceSize + TagSize
)

// ErrAuth is returned when a sealed value does not open: it was modified, moved,
// sealed under another key, or is not a sealed value at all.
var ErrAuth = errors.New("message authentication failed")

// Sealer seals and opens values with one AES-256-GCM key. It is safe for concurrent use.
type Sealer struct {
	aead cipher.AEAD
}

// NewSealer returns a Sealer for key. The caller may zero key afterwards.
func NewSealer(key *Key) (*Sealer, error) {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// AAD returns the additional data for a value stored under key in bucket:
// uvarint(len(bucket)) | bucket | 0x00 | uvarint(len(key)) | key | FormatVersion.
func AAD(bucket, key []byte) []byte {
	return appendAAD(make([]byte, 0, len(bucket)+len(key)+2*binary.MaxVarintLen64+2), bucket, key)
}

func appendAAD(dst, bucket, key []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(len(bucket)))
	dst = append(dst, bucket...)
	dst = append(dst, 0)
	dst = binary.AppendUvarint(dst, uint64(len(key)))
	dst = append(dst, key...)
	return append(dst, FormatVersion)
}

// Seal seals plaintext for storage under key in bucket and returns
// version | nonce | ciphertext+tag.
func (s *Sealer) Seal(bucket, key, plaintext []byte) ([]byte, error) {
	var buf [128]byte
	return s.SealAAD(appendAAD(buf[:0], bucket, key), plaintext)
}

// Open opens a value sealed by [Sealer.Seal] for the same bucket and key. Any failure
// returns [ErrAuth] and no plaintext.
func (s *Sealer) Open(bucket, key, sealed []byte) ([]byte, error) {
	var buf [128]byte
	return s.OpenAAD(appendAAD(buf[:0], bucket, key), sealed)
}

// SealAAD seals plaintext with arbitrary additional data; see [Sealer.Seal].
func (s *Sealer) SealAAD(aad, plaintext []byte) ([]byte, error) {
	out := make([]byte, 1+NonceSize, Overhead+len(plaintext))
	out[0] = FormatVersion
	if _, err := rand.Read(out[1 : 1+NonceSize]); err != nil {
		return nil, fmt.Errorf("nonce: %w", err)
	}
	return s.aead.Seal(out, out[1:1+NonceSize], plaintext, aad), nil
}

// OpenAAD opens a value sealed by [Sealer.SealAAD] with the same additional data.
func (s *Sealer) OpenAAD(aad, sealed []byte) ([]byte, error) {
	if len(sealed) < Overhead || sealed[0] != FormatVersion {
		return nil, ErrAuth
	}
	pt, err := s.aead.Open(nil, sealed[1:1+NonceSize], sealed[1+NonceSize:], aad)
	if err != nil {
		return nil, ErrAuth
	}
	return pt, nil
}

// Wrap seals plaintext (typically a key) under kek with additional data aad. It is
// shorthand for a one-off [Sealer].
func Wrap(kek *Key, aad, plaintext []byte) ([]byte, error) {
	s, err := NewSealer(kek)
	if err != nil {
		return nil, err
	}
	return s.SealAAD(aad, plaintext)
}

// Unwrap opens a value sealed by [Wrap]; every failure is [ErrAuth].
func Unwrap(kek *Key, aad, sealed []byte) ([]byte, error) {
	s, err := NewSealer(kek)
	if err != nil {
		return nil, ErrAuth
	}
	return s.OpenAAD(aad, sealed)
}

// WrapKey wraps a [Key] under kek; see [Wrap].
func WrapKey(kek *Key, aad []byte, k *Key) ([]byte, error) {
	return Wrap(kek, aad, k[:])
}

// UnwrapKey unwraps a [Key] wrapped by [WrapKey]; every failure is [ErrAuth].
func UnwrapKey(kek *Key, aad, sealed []byte) (Key, error) {
	pt, err := Unwrap(kek, aad, sealed)
	if err != nil {
		return Key{}, err
	}
	defer clear(pt)
	if len(pt) != KeySize {
		return Key{}, ErrAuth
	}
	var k Key
	copy(k[:], pt)
	return k, nil
}
