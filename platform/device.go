package platform

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// SRKHandle is the TCG-standard persistent handle of the owner-hierarchy SRK.
const SRKHandle uint32 = 0x81000001

// tpm2Device implements TPM over any go-tpm transport: hardware device, TBS, swtpm
// over TCP or the in-process simulator.
type tpm2Device struct {
	mu      sync.Mutex
	t       transport.TPM // possibly wrapped (command counter)
	closer  io.Closer     // closes the underlying transport
	info    Info
	log     *slog.Logger
	persist bool // look up / persist the SRK at SRKHandle

	// SRK cache, filled by the first operation that needs it.
	srk *srkState
	// The device key loaded in the TPM, at most one (see tpmDeviceKey).
	resident *tpmDeviceKey

	closed     bool
	afterClose func() // extra cleanup (simulator singleton)
}

// srkState is the loaded SRK.
type srkState struct {
	handle    tpm2.TPMHandle
	name      tpm2.TPM2BName
	pub       tpm2.TPMTPublic
	transient bool // flush on Close
}

var (
	_ TPM          = (*tpm2Device)(nil)
	_ PCRExtender  = (*tpm2Device)(nil)
	_ PCRReader    = (*tpm2Device)(nil)
	_ DeviceKeyTPM = (*tpm2Device)(nil)
)

// newDevice wraps an open transport. persistSRK selects whether the SRK is looked up
// and persisted at SRKHandle (true for device and mssim, false for the simulator).
func newDevice(t transport.TPMCloser, spec Spec, o options, info Info, persistSRK bool) (*tpm2Device, error) {
	d := &tpm2Device{
		t:       o.wrapTransport(t),
		closer:  t,
		info:    info,
		log:     o.logger,
		persist: persistSRK,
	}
	d.info.Spec = spec
	if m, err := d.manufacturer(); err == nil {
		d.info.Manufacturer = m
	} else {
		_ = t.Close()
		return nil, fmt.Errorf("open TPM %q: query manufacturer: %w", spec, err)
	}
	return d, nil
}

// asTPM converts newDevice's result so that a failed open returns a nil interface.
func asTPM(d *tpm2Device, err error) (TPM, error) {
	if err != nil {
		return nil, err
	}
	return d, nil
}

// Info implements TPM.
func (d *tpm2Device) Info() Info { return d.info }

// Close flushes a loaded device key and a transient SRK and closes the transport;
// device keys loaded from it fail to Sign afterwards. It is safe to call twice.
func (d *tpm2Device) Close() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return nil
	}
	d.closed = true
	var errs []error
	if d.resident != nil {
		if _, err := (tpm2.FlushContext{FlushHandle: d.resident.handle}).Execute(d.t); err != nil {
			errs = append(errs, fmt.Errorf("flush device key: %w", err))
		}
		d.resident = nil
	}
	if d.srk != nil && d.srk.transient {
		if _, err := (tpm2.FlushContext{FlushHandle: d.srk.handle}).Execute(d.t); err != nil {
			errs = append(errs, fmt.Errorf("flush SRK: %w", err))
		}
	}
	d.srk = nil
	if err := d.closer.Close(); err != nil {
		errs = append(errs, fmt.Errorf("close TPM %q: %w", d.info.Spec, err))
	}
	if d.afterClose != nil {
		d.afterClose()
	}
	return errors.Join(errs...)
}

// lock locks d and reports an error if it is closed.
func (d *tpm2Device) lock() error {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return fmt.Errorf("TPM %q is closed", d.info.Spec)
	}
	return nil
}

// manufacturer reads TPM_PT_MANUFACTURER as a 4-character vendor ID ("IBM", "MSFT").
func (d *tpm2Device) manufacturer() (string, error) {
	rsp, err := tpm2.GetCapability{
		Capability:    tpm2.TPMCapTPMProperties,
		Property:      uint32(tpm2.TPMPTManufacturer),
		PropertyCount: 1,
	}.Execute(d.t)
	if err != nil {
		return "", err
	}
	props, err := rsp.CapabilityData.Data.TPMProperties()
	if err != nil {
		return "", err
	}
	for _, p := range props.TPMProperty {
		if p.Property == tpm2.TPMPTManufacturer {
			var b [4]byte
			binary.BigEndian.PutUint32(b[:], p.Value)
			return strings.TrimRight(string(bytes.Trim(b[:], "\x00 ")), " "), nil
		}
	}
	return "", nil
}

// srkLocked returns the SRK, creating or loading it on first use. d.mu must be held.
func (d *tpm2Device) srkLocked() (*srkState, error) {
	if d.srk != nil {
		return d.srk, nil
	}
	if d.persist {
		rsp, err := tpm2.ReadPublic{ObjectHandle: tpm2.TPMHandle(SRKHandle)}.Execute(d.t)
		if err == nil {
			pub, perr := rsp.OutPublic.Contents()
			if perr == nil && isECCSRK(pub) {
				d.srk = &srkState{handle: tpm2.TPMHandle(SRKHandle), name: rsp.Name, pub: *pub}
				return d.srk, nil
			}
			d.log.Warn("TPM: the key at the SRK handle is not an ECC P-256 storage key; using a transient SRK",
				"handle", fmt.Sprintf("0x%08x", SRKHandle))
		}
	}
	cp, err := tpm2.CreatePrimary{
		PrimaryHandle: tpm2.TPMRHOwner,
		InPublic:      tpm2.New2B(tpm2.ECCSRKTemplate),
	}.Execute(d.t)
	if err != nil {
		return nil, fmt.Errorf("create SRK (ECC P-256, owner hierarchy): %w", mapErr(err))
	}
	pub, err := cp.OutPublic.Contents()
	if err != nil {
		d.flush(cp.ObjectHandle)
		return nil, fmt.Errorf("create SRK: parse public area: %w", err)
	}
	srk := &srkState{handle: cp.ObjectHandle, name: cp.Name, pub: *pub, transient: true}
	if d.persist {
		_, err := tpm2.EvictControl{
			Auth:             tpm2.TPMRHOwner,
			ObjectHandle:     tpm2.NamedHandle{Handle: cp.ObjectHandle, Name: cp.Name},
			PersistentHandle: tpm2.TPMHandle(SRKHandle),
		}.Execute(d.t)
		if err == nil {
			d.flush(cp.ObjectHandle)
			srk.handle = tpm2.TPMHandle(SRKHandle)
			srk.transient = false
		} else {
			d.log.Warn("TPM: could not persist the SRK; every open will recreate it",
				"handle", fmt.Sprintf("0x%08x", SRKHandle), "error", err)
		}
	}
	d.srk = srk
	return srk, nil
}

// flush flushes a transient object or session, ignoring errors (best effort cleanup).
func (d *tpm2Device) flush(h tpm2.TPMHandle) {
	_, _ = tpm2.FlushContext{FlushHandle: h}.Execute(d.t)
}

// isECCSRK reports whether pub is an ECC P-256 restricted decryption (storage) key
// with AES-128-CFB, usable as the parent of our sealed objects.
func isECCSRK(pub *tpm2.TPMTPublic) bool {
	if pub.Type != tpm2.TPMAlgECC || pub.NameAlg != tpm2.TPMAlgSHA256 {
		return false
	}
	a := pub.ObjectAttributes
	if !a.Restricted || !a.Decrypt || a.SignEncrypt || !a.FixedTPM || !a.FixedParent || !a.UserWithAuth {
		return false
	}
	ecc, err := pub.Parameters.ECCDetail()
	if err != nil || ecc.CurveID != tpm2.TPMECCNistP256 || ecc.Symmetric.Algorithm != tpm2.TPMAlgAES {
		return false
	}
	bits, err := ecc.Symmetric.KeyBits.AES()
	if err != nil || *bits != 128 {
		return false
	}
	mode, err := ecc.Symmetric.Mode.AES()
	return err == nil && *mode == tpm2.TPMAlgCFB
}
