package platform

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Kind names the kind of TPM behind a spec string.
type Kind string

const (
	KindAuto   Kind = "auto"   // the platform's hardware TPM, if any
	KindDevice Kind = "device" // a hardware TPM character device (/dev/tpmrm0) or TBS on Windows
	KindMSSim  Kind = "mssim"  // a TPM speaking the Microsoft simulator TCP protocol (swtpm, ms-tpm-20-ref)
	KindSim    Kind = "sim"    // go-tpm's in-process simulator with a seed kept in a file: tests and demo only
	KindNone   Kind = "none"   // no TPM: software key slots only
)

// Spec is a parsed TPM spec string (flag --tpm, env FIELDOFFICE_TPM).
//
//	auto              the hardware TPM; an error naming the other choices when none is there
//	device[:PATH]     a TPM character device (default /dev/tpmrm0); on Windows TBS
//	mssim:HOST:PORT   swtpm or ms-tpm-20-ref over TCP (PORT = command port, PORT+1 = platform port)
//	sim:FILE          in-process simulator, seed kept in FILE; protects nothing
//	none              no TPM; software key slot (Argon2id only)
type Spec struct {
	Kind Kind
	Path string // device path (KindDevice) or seed file (KindSim)
	Addr string // HOST:PORT (KindMSSim)
}

// String returns the canonical spec string.
func (s Spec) String() string {
	switch s.Kind {
	case KindDevice:
		if s.Path == "" {
			return "device"
		}
		return "device:" + s.Path
	case KindMSSim:
		return "mssim:" + s.Addr
	case KindSim:
		return "sim:" + s.Path
	case "":
		return string(KindAuto)
	}
	return string(s.Kind)
}

// ErrBadSpec is returned by ParseSpec for a spec string it does not understand.
var ErrBadSpec = errors.New("invalid TPM spec")

// ParseSpec parses a TPM spec string; the empty string means auto.
func ParseSpec(s string) (Spec, error) {
	kind, rest, hasRest := strings.Cut(strings.TrimSpace(s), ":")
	switch Kind(kind) {
	case "", KindAuto:
		if hasRest {
			return Spec{}, fmt.Errorf("%w %q: auto takes no argument", ErrBadSpec, s)
		}
		return Spec{Kind: KindAuto}, nil
	case KindNone:
		if hasRest {
			return Spec{}, fmt.Errorf("%w %q: none takes no argument", ErrBadSpec, s)
		}
		return Spec{Kind: KindNone}, nil
	case KindDevice:
		if hasRest && rest == "" {
			return Spec{}, fmt.Errorf("%w %q: device: needs a path, e.g. device:/dev/tpmrm0", ErrBadSpec, s)
		}
		return Spec{Kind: KindDevice, Path: rest}, nil
	case KindSim:
		if rest == "" {
			return Spec{}, fmt.Errorf("%w %q: sim needs a seed file, e.g. sim:/var/tmp/fieldoffice-sim.seed", ErrBadSpec, s)
		}
		return Spec{Kind: KindSim, Path: rest}, nil
	case KindMSSim:
		idx := strings.LastIndex(rest, ":")
		var p int
		var err error = ErrBadSpec
		if idx > 0 {
			p, err = strconv.Atoi(rest[idx+1:])
		}
		if err != nil || p <= 0 || p >= 65535 {
			return Spec{}, fmt.Errorf("%w %q: mssim needs HOST:PORT, e.g. mssim:127.0.0.1:2321", ErrBadSpec, s)
		}
		return Spec{Kind: KindMSSim, Addr: rest}, nil
	}
	return Spec{}, fmt.Errorf("%w %q: use auto, device[:PATH], mssim:HOST:PORT, sim:FILE or none", ErrBadSpec, s)
}

// Info describes an open TPM for status output and logs.
type Info struct {
	Spec         Spec
	Hardware     bool   // a real, discrete or firmware TPM
	PersistentNV bool   // NV counters survive a restart (anti-rollback works)
	Manufacturer string // e.g. "IBM", "MSFT", "STM", when known
	Warning      string // e.g. "in-process simulator: protects nothing"
}

// SealedKey is a secret sealed to one TPM: the TPM2B_PUBLIC and TPM2B_PRIVATE of a
// KeyedHash object under the SRK, plus what is needed to satisfy its policy.
// It is not secret by itself: only the TPM that created it can load it.
type SealedKey struct {
	Public  []byte `json:"public"`             // TPM2B_PUBLIC, marshalled
	Private []byte `json:"private"`            // TPM2B_PRIVATE, marshalled
	PCRs    []int  `json:"pcrs"`               // SHA-256 PCR indices in the policy; empty: no PCR binding
	SRKName []byte `json:"srk_name,omitempty"` // name of the parent SRK it was sealed under
}

// TPM seals and unseals short secrets (at most 32 bytes) and keeps monotonic NV counters.
//
// Sealed objects are KeyedHash objects under the owner-hierarchy ECC P-256 SRK with
// FixedTPM|FixedParent; their policy is PolicyPCR(pcrs) AND PolicyAuthValue; all commands
// that carry secrets use salted sessions with AES-CFB parameter encryption.
type TPM interface {
	Info() Info
	// Seal seals secret so that only this TPM, with the given PCRs at their current
	// values and with authValue, can unseal it.
	Seal(secret, authValue []byte, pcrs []int) (*SealedKey, error)
	// Unseal returns the secret. Errors wrap ErrAuthFail (wrong auth value, counts towards
	// the TPM's lockout), ErrLockout, ErrPolicy (PCR values changed) or ErrWrongTPM.
	Unseal(sk *SealedKey, authValue []byte) ([]byte, error)
	// CounterCreate defines a monotonic NV counter at index (TPM_HT_NV_INDEX range) if it
	// does not exist yet, and returns its value.
	CounterCreate(index uint32) (uint64, error)
	// CounterIncrement increments the counter and returns the new value.
	CounterIncrement(index uint32) (uint64, error)
	// CounterRead returns the counter's value; ErrNoCounter if it is not defined.
	CounterRead(index uint32) (uint64, error)
	Close() error
}

// Errors returned (wrapped) by TPM implementations.
var (
	ErrNoTPM        = errors.New("no TPM found")
	ErrNotSupported = errors.New("not supported on this platform")
	ErrAuthFail     = errors.New("TPM rejected the authorisation value (wrong PIN)")
	ErrLockout      = errors.New("TPM is in dictionary-attack lockout")
	ErrPolicy       = errors.New("TPM policy not satisfied (PCR values changed)")
	ErrWrongTPM     = errors.New("key does not belong to this TPM (TPM cleared or replaced)")
	ErrNoCounter    = errors.New("NV counter not defined")
)
