package crypto

import (
	"errors"
	"fmt"

	"golang.org/x/crypto/argon2"
)

// KDFParams are the Argon2id parameters for deriving a key from a PIN or passphrase.
type KDFParams struct {
	Time      uint32 `json:"t"` // iterations
	MemoryKiB uint32 `json:"m"` // memory in KiB
	Threads   uint8  `json:"p"` // parallelism
}

// DefaultKDFParams are t=3, m=64 MiB, p=2: about 0.1 s on the target machines.
var DefaultKDFParams = KDFParams{Time: 3, MemoryKiB: 64 * 1024, Threads: 2}

// Limits for [KDFParams.Validate]: a damaged file must not make the process allocate
// gigabytes or spin for minutes before the PIN is even checked.
const (
	MaxKDFTime      = 64
	MaxKDFMemoryKiB = 1 << 20 // 1 GiB
	MaxKDFThreads   = 64
)

// ErrBadKDFParams is returned by [KDFParams.Validate].
var ErrBadKDFParams = errors.New("invalid Argon2id parameters")

// IsZero reports whether p is the zero value (meaning: use the default).
func (p KDFParams) IsZero() bool { return p == KDFParams{} }

// OrDefault returns p, or [DefaultKDFParams] when p is the zero value.
func (p KDFParams) OrDefault() KDFParams {
	if p.IsZero() {
		return DefaultKDFParams
	}
	return p
}

// Validate checks that the parameters are within sane bounds.
func (p KDFParams) Validate() error {
	if p.Time < 1 || p.Time > MaxKDFTime || p.Threads < 1 || p.Threads > MaxKDFThreads ||
		p.MemoryKiB < 8*uint32(p.Threads) || p.MemoryKiB > MaxKDFMemoryKiB {
		return fmt.Errorf("%w: t=%d m=%dKiB p=%d (want 1 ≤ t ≤ %d, 8·p ≤ m ≤ %d KiB, 1 ≤ p ≤ %d)",
			ErrBadKDFParams, p.Time, p.MemoryKiB, p.Threads, MaxKDFTime, MaxKDFMemoryKiB, MaxKDFThreads)
	}
	return nil
}

// String describes the parameters without any secret.
func (p KDFParams) String() string {
	return fmt.Sprintf("argon2id t=%d m=%dKiB p=%d", p.Time, p.MemoryKiB, p.Threads)
}

// DeriveKey derives a 32-byte key from a PIN or passphrase with Argon2id. The salt
// should be 16 random bytes per key slot.
func DeriveKey(secret, salt []byte, p KDFParams) (Key, error) {
	if err := p.Validate(); err != nil {
		return Key{}, err
	}
	out := argon2.IDKey(secret, salt, p.Time, p.MemoryKiB, p.Threads, KeySize)
	var k Key
	copy(k[:], out)
	clear(out)
	return k, nil
}
