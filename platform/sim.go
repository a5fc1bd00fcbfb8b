package platform

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/google/go-tpm/tpm2"
)

// SimWarning is Info.Warning of the in-process simulator (spec sim:FILE).
const SimWarning = "in-process TPM simulator: protects nothing, for tests and the demo only"

// Dictionary-attack parameters set on the simulator, whose default maxTries is 3:
// realistic values so that tests of PIN handling behave like a real TPM.
const (
	simDAMaxTries               = 32
	simDARecoverySeconds        = 60
	simDALockoutRecoverySeconds = 600
)

// loadOrCreateSeed reads the simulator seed (a decimal int64) from path, creating the
// file (mode 0600, parent directory 0700) with a random seed if it does not exist.
func loadOrCreateSeed(path string) (int64, error) {
	if path == "" {
		return 0, fmt.Errorf("simulator seed file: %w: empty path", ErrBadSpec)
	}
	b, err := os.ReadFile(path)
	if err == nil {
		s := strings.TrimSpace(string(b))
		seed, perr := strconv.ParseInt(s, 10, 64)
		if perr != nil {
			return 0, fmt.Errorf("simulator seed file %s is malformed (want one decimal 64-bit integer): %w", path, perr)
		}
		return seed, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("read simulator seed file: %w", err)
	}
	var rb [8]byte
	if _, err := rand.Read(rb[:]); err != nil {
		return 0, fmt.Errorf("create simulator seed: %w", err)
	}
	seed := int64(binary.BigEndian.Uint64(rb[:]) & math.MaxInt64)
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return 0, fmt.Errorf("create simulator seed file: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) { // created concurrently: use that one
			return loadOrCreateSeed(path)
		}
		return 0, fmt.Errorf("create simulator seed file: %w", err)
	}
	_, werr := fmt.Fprintf(f, "%d\n", seed)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(path)
		return 0, fmt.Errorf("write simulator seed file %s: %w", path, werr)
	}
	return seed, nil
}

// setDAParameters sends TPM2_DictionaryAttackParameters on TPM_RH_LOCKOUT with an
// empty password. go-tpm's tpm2 package has no typed command for it, so it is
// marshalled by hand (TPM 2.0 Part 3, 25.3).
func (d *tpm2Device) setDAParameters(maxTries, recoverySec, lockoutRecoverySec uint32) error {
	cmd := make([]byte, 0, 43)
	cmd = binary.BigEndian.AppendUint16(cmd, uint16(tpm2.TPMSTSessions))
	cmd = binary.BigEndian.AppendUint32(cmd, 0) // size, patched below
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMCCDictionaryAttackParameters))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRHLockout))
	// Authorization area: one password session with an empty password.
	cmd = binary.BigEndian.AppendUint32(cmd, 9)
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRSPW))
	cmd = binary.BigEndian.AppendUint16(cmd, 0) // nonce
	cmd = append(cmd, 0)                        // session attributes
	cmd = binary.BigEndian.AppendUint16(cmd, 0) // hmac (password)
	cmd = binary.BigEndian.AppendUint32(cmd, maxTries)
	cmd = binary.BigEndian.AppendUint32(cmd, recoverySec)
	cmd = binary.BigEndian.AppendUint32(cmd, lockoutRecoverySec)
	binary.BigEndian.PutUint32(cmd[2:], uint32(len(cmd)))

	d.mu.Lock()
	defer d.mu.Unlock()
	rsp, err := d.t.Send(cmd)
	if err != nil {
		return fmt.Errorf("TPM2_DictionaryAttackParameters: %w", err)
	}
	if len(rsp) < 10 {
		return fmt.Errorf("TPM2_DictionaryAttackParameters: short response (%d bytes)", len(rsp))
	}
	if rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])); rc != tpm2.TPMRCSuccess {
		return fmt.Errorf("TPM2_DictionaryAttackParameters(maxTries %d, recovery %ds, lockout recovery %ds): %w",
			maxTries, recoverySec, lockoutRecoverySec, rc)
	}
	return nil
}
