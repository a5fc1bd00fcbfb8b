package platform

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// DefaultCounterIndex is the NV index of FieldOffice's anti-rollback counter. It lies
// in the owner range of the TCG handle registry (0x01000000–0x013FFFFF); use
// DefaultCounterIndex+n for further counters.
const DefaultCounterIndex uint32 = 0x0100F000

// checkNVIndex checks that index is an NV index handle (0x01xxxxxx).
func checkNVIndex(index uint32) error {
	if index>>24 != uint32(tpm2.TPMHTNVIndex) {
		return fmt.Errorf("NV index 0x%08x is not in the NV index range 0x01000000–0x01FFFFFF", index)
	}
	return nil
}

// counterAttrs are the attributes of a counter index: a TPM_NT_COUNTER, read and
// incremented with the index's empty auth value or owner auth, not subject to
// dictionary-attack protection.
var counterAttrs = tpm2.TPMANV{
	OwnerWrite: true,
	AuthWrite:  true,
	OwnerRead:  true,
	AuthRead:   true,
	NoDA:       true,
	NT:         tpm2.TPMNTCounter,
}

// CounterCreate implements TPM. It defines a counter index (owner auth empty) if it
// does not exist, increments a fresh counter once (a counter cannot be read before its
// first increment), and returns the current value. It fails if the index exists but is
// not a counter.
func (d *tpm2Device) CounterCreate(index uint32) (uint64, error) {
	if err := checkNVIndex(index); err != nil {
		return 0, fmt.Errorf("create counter: %w", err)
	}
	if err := d.lock(); err != nil {
		return 0, err
	}
	defer d.mu.Unlock()

	_, err := tpm2.NVDefineSpace{
		AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(nil)},
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex:    tpm2.TPMHandle(index),
			NameAlg:    tpm2.TPMAlgSHA256,
			Attributes: counterAttrs,
			DataSize:   8,
		}),
	}.Execute(d.t)
	if err != nil && !errors.Is(err, tpm2.TPMRCNVDefined) {
		return 0, fmt.Errorf("create counter 0x%08x: TPM2_NV_DefineSpace: %w", index, mapErr(err))
	}
	pub, name, err := d.nvPublicLocked(index)
	if err != nil {
		return 0, fmt.Errorf("create counter: %w", err)
	}
	if !pub.Attributes.Written {
		return d.incrementLocked(pub, name)
	}
	return d.readLocked(index, name)
}

// CounterIncrement implements TPM.
func (d *tpm2Device) CounterIncrement(index uint32) (uint64, error) {
	if err := checkNVIndex(index); err != nil {
		return 0, fmt.Errorf("increment counter: %w", err)
	}
	if err := d.lock(); err != nil {
		return 0, err
	}
	defer d.mu.Unlock()
	pub, name, err := d.nvPublicLocked(index)
	if err != nil {
		return 0, fmt.Errorf("increment counter: %w", err)
	}
	return d.incrementLocked(pub, name)
}

// CounterRead implements TPM. A counter that was defined but never incremented
// reads as 0.
func (d *tpm2Device) CounterRead(index uint32) (uint64, error) {
	if err := checkNVIndex(index); err != nil {
		return 0, fmt.Errorf("read counter: %w", err)
	}
	if err := d.lock(); err != nil {
		return 0, err
	}
	defer d.mu.Unlock()
	pub, name, err := d.nvPublicLocked(index)
	if err != nil {
		return 0, fmt.Errorf("read counter: %w", err)
	}
	if !pub.Attributes.Written {
		return 0, nil
	}
	return d.readLocked(index, name)
}

// nvPublicLocked reads the public area of a counter index; ErrNoCounter if undefined.
func (d *tpm2Device) nvPublicLocked(index uint32) (*tpm2.TPMSNVPublic, tpm2.TPM2BName, error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: tpm2.TPMHandle(index)}.Execute(d.t)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil, tpm2.TPM2BName{}, fmt.Errorf("NV index 0x%08x: %w (%w)", index, ErrNoCounter, err)
		}
		return nil, tpm2.TPM2BName{}, fmt.Errorf("NV index 0x%08x: TPM2_NV_ReadPublic: %w", index, err)
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return nil, tpm2.TPM2BName{}, fmt.Errorf("NV index 0x%08x: parse public area: %w", index, err)
	}
	if pub.Attributes.NT != tpm2.TPMNTCounter || pub.DataSize != 8 {
		return nil, tpm2.TPM2BName{}, fmt.Errorf("NV index 0x%08x exists but is not a counter (type %d, size %d)",
			index, pub.Attributes.NT, pub.DataSize)
	}
	return pub, rsp.NVName, nil
}

// incrementLocked increments the counter and returns its new value.
func (d *tpm2Device) incrementLocked(pub *tpm2.TPMSNVPublic, name tpm2.TPM2BName) (uint64, error) {
	h := pub.NVIndex
	index := uint32(h)
	_, err := tpm2.NVIncrement{
		AuthHandle: tpm2.AuthHandle{Handle: h, Name: name, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: h, Name: name},
	}.Execute(d.t)
	if err != nil {
		return 0, fmt.Errorf("increment counter 0x%08x: TPM2_NV_Increment: %w", index, mapErr(err))
	}
	// The name changes once the index is written (TPMA_NV_WRITTEN): compute it
	// instead of asking the TPM again.
	written := *pub
	written.Attributes.Written = true
	newName, err := tpm2.NVName(&written)
	if err != nil {
		return 0, fmt.Errorf("increment counter 0x%08x: compute NV name: %w", index, err)
	}
	return d.readLocked(index, *newName)
}

// readLocked reads the 8-byte counter value.
func (d *tpm2Device) readLocked(index uint32, name tpm2.TPM2BName) (uint64, error) {
	h := tpm2.TPMHandle(index)
	rsp, err := tpm2.NVRead{
		AuthHandle: tpm2.AuthHandle{Handle: h, Name: name, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    tpm2.NamedHandle{Handle: h, Name: name},
		Size:       8,
	}.Execute(d.t)
	if err != nil {
		return 0, fmt.Errorf("read counter 0x%08x: TPM2_NV_Read: %w", index, mapErr(err))
	}
	if len(rsp.Data.Buffer) != 8 {
		return 0, fmt.Errorf("read counter 0x%08x: got %d bytes, want 8", index, len(rsp.Data.Buffer))
	}
	return binary.BigEndian.Uint64(rsp.Data.Buffer), nil
}
