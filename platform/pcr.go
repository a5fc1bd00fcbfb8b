package platform

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"slices"

	"github.com/google/go-tpm/tpm2"
)

// maxPCR is the highest PCR index of a PC Client TPM (24 PCRs).
const maxPCR = 23

// normPCRs checks pcrs (0..23), sorts them and drops duplicates.
func normPCRs(pcrs []int) ([]int, error) {
	out := slices.Clone(pcrs)
	for _, p := range out {
		if p < 0 || p > maxPCR {
			return nil, fmt.Errorf("PCR index %d out of range 0..%d", p, maxPCR)
		}
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}

// pcrSelection is the SHA-256 bank selection of pcrs.
func pcrSelection(pcrs []int) tpm2.TPMLPCRSelection {
	u := make([]uint, len(pcrs))
	for i, p := range pcrs {
		u[i] = uint(p)
	}
	return tpm2.TPMLPCRSelection{PCRSelections: []tpm2.TPMSPCRSelection{{
		Hash:      tpm2.TPMAlgSHA256,
		PCRSelect: tpm2.PCClientCompatible.PCRs(u...),
	}}}
}

// ExtendPCR extends SHA-256 PCR pcr with SHA-256(data). It implements PCRExtender.
func (d *tpm2Device) ExtendPCR(pcr int, data []byte) error {
	if pcr < 0 || pcr > maxPCR {
		return fmt.Errorf("extend PCR %d: index out of range 0..%d", pcr, maxPCR)
	}
	if err := d.lock(); err != nil {
		return err
	}
	defer d.mu.Unlock()
	sum := sha256.Sum256(data)
	_, err := tpm2.PCRExtend{
		PCRHandle: tpm2.AuthHandle{Handle: tpm2.TPMHandle(pcr), Auth: tpm2.PasswordAuth(nil)},
		Digests: tpm2.TPMLDigestValues{Digests: []tpm2.TPMTHA{{
			HashAlg: tpm2.TPMAlgSHA256,
			Digest:  sum[:],
		}}},
	}.Execute(d.t)
	if err != nil {
		return fmt.Errorf("extend PCR %d (SHA-256): %w", pcr, err)
	}
	return nil
}

// ReadPCRs returns the SHA-256 values of pcrs. It implements PCRReader.
func (d *tpm2Device) ReadPCRs(pcrs []int) (map[int][]byte, error) {
	if err := d.lock(); err != nil {
		return nil, err
	}
	defer d.mu.Unlock()
	return d.readPCRsLocked(pcrs)
}

// readPCRsLocked reads SHA-256 PCR values; d.mu must be held. A TPM returns at most
// 8 digests per TPM2_PCR_Read, so larger selections take several commands.
func (d *tpm2Device) readPCRsLocked(pcrs []int) (map[int][]byte, error) {
	sel, err := normPCRs(pcrs)
	if err != nil {
		return nil, fmt.Errorf("read PCRs: %w", err)
	}
	out := make(map[int][]byte, len(sel))
	for len(sel) > 0 {
		rsp, err := tpm2.PCRRead{PCRSelectionIn: pcrSelection(sel)}.Execute(d.t)
		if err != nil {
			return nil, fmt.Errorf("read PCRs %v (SHA-256): %w", sel, err)
		}
		got := selectedPCRs(rsp.PCRSelectionOut)
		if len(got) == 0 || len(got) != len(rsp.PCRValues.Digests) {
			return nil, fmt.Errorf("read PCRs %v (SHA-256): TPM returned %d values for selection %v (is the SHA-256 bank active?)",
				sel, len(rsp.PCRValues.Digests), got)
		}
		for i, p := range got {
			out[p] = rsp.PCRValues.Digests[i].Buffer
		}
		sel = slices.DeleteFunc(sel, func(p int) bool { _, ok := out[p]; return ok })
	}
	return out, nil
}

// selectedPCRs lists the SHA-256 PCRs in a selection, in ascending order.
func selectedPCRs(s tpm2.TPMLPCRSelection) []int {
	var out []int
	for _, ps := range s.PCRSelections {
		if ps.Hash != tpm2.TPMAlgSHA256 {
			continue
		}
		for i, b := range ps.PCRSelect {
			for bit := 0; bit < 8; bit++ {
				if b&(1<<bit) != 0 {
					out = append(out, i*8+bit)
				}
			}
		}
	}
	return out
}

// pcrPolicyDigest is the pcrDigest of TPM2_PolicyPCR: SHA-256 over the values of pcrs
// (ascending) concatenated.
func pcrPolicyDigest(pcrs []int, values map[int][]byte) []byte {
	var buf bytes.Buffer
	for _, p := range pcrs {
		buf.Write(values[p])
	}
	sum := sha256.Sum256(buf.Bytes())
	return sum[:]
}
