package sync

import (
	"crypto"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"fieldoffice/cases"
	"fieldoffice/portal"
)

// DeviceFile is the name of the enrollment record in the data directory.
const DeviceFile = "device.json"

// ErrNotEnrolled is returned by LoadDevice when the device was never enrolled.
var ErrNotEnrolled = errors.New("this device is not enrolled with a portal (run: fieldoffice enroll --token TOKEN --user NAME)")

// Key kinds of Device.KeyKind.
const (
	KeyTPM      = "tpm"      // KeyBlob is the TPM-wrapped key (platform); the key never leaves the TPM
	KeySoftware = "software" // KeyBlob is a PKCS#8 PEM private key, protected only by file permissions
)

// Device is the enrollment record, kept in clear next to the vault (DeviceFile, mode
// 0600): everything in it is public (certificates, policy) or useless without this
// device's TPM (the wrapped key) — except a software key, which only a policy that
// allows software keys permits. It must be readable while the vault is locked: the
// device checks in with its key alone when it has been offline too long, and status
// reports enrollment without a PIN.
type Device struct {
	Version     int           `json:"version"`
	DeviceID    string        `json:"device_id"`
	Name        string        `json:"name"`
	Office      string        `json:"office"`
	PortalURL   string        `json:"portal_url"`
	CA          []byte        `json:"ca"`          // DER
	Certificate []byte        `json:"certificate"` // DER, the device's client certificate
	KeyKind     string        `json:"key_kind"`
	KeyBlob     []byte        `json:"key_blob"`
	Policy      portal.Policy `json:"policy"`
	PolicyETag  string        `json:"policy_etag,omitempty"`
	RecoveryPEM string        `json:"recovery_pem,omitempty"`
	// Forms are the form schemas the portal delivered (cases.ParseSchema JSON).
	Forms     []json.RawMessage `json:"forms,omitempty"`
	FormsETag string            `json:"forms_etag,omitempty"`
	Enrolled  time.Time         `json:"enrolled"`
	// LastContact is the last time the portal answered this device (any successful
	// call with the device certificate); LastSync the end of the last complete sync.
	LastContact time.Time `json:"last_contact,omitzero"`
	LastSync    time.Time `json:"last_sync,omitzero"`
}

// LoadDevice reads the enrollment record of data directory dir.
func LoadDevice(dir string) (*Device, error) {
	b, err := os.ReadFile(filepath.Join(dir, DeviceFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNotEnrolled
	} else if err != nil {
		return nil, fmt.Errorf("read the enrollment record: %w", err)
	}
	var d Device
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("the enrollment record %s is damaged (%v): enroll the device again", filepath.Join(dir, DeviceFile), err)
	}
	if d.DeviceID == "" || len(d.CA) == 0 || len(d.Certificate) == 0 {
		return nil, fmt.Errorf("the enrollment record %s is incomplete: enroll the device again", filepath.Join(dir, DeviceFile))
	}
	return &d, nil
}

// Save writes the record atomically (temporary file, fsync, rename).
func (d *Device) Save(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("save the enrollment record: %w", err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(dir, ".device-*.json")
	if err != nil {
		return fmt.Errorf("save the enrollment record: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("save the enrollment record: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("save the enrollment record: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("save the enrollment record: %w", err)
	}
	if err := os.Rename(tmp.Name(), filepath.Join(dir, DeviceFile)); err != nil {
		return fmt.Errorf("save the enrollment record: %w", err)
	}
	if f, err := os.Open(dir); err == nil {
		_ = f.Sync()
		f.Close()
	}
	return nil
}

// RemoveDevice deletes the enrollment record (after a wipe).
func RemoveDevice(dir string) error {
	err := os.Remove(filepath.Join(dir, DeviceFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	return err
}

// Cert returns the parsed client certificate.
func (d *Device) Cert() (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(d.Certificate)
	if err != nil {
		return nil, fmt.Errorf("the device certificate in the enrollment record does not parse: %w", err)
	}
	return c, nil
}

// CACert returns the parsed portal CA.
func (d *Device) CACert() (*x509.Certificate, error) {
	c, err := x509.ParseCertificate(d.CA)
	if err != nil {
		return nil, fmt.Errorf("the portal CA in the enrollment record does not parse: %w", err)
	}
	return c, nil
}

// Client returns a portal client that authenticates with key (the device key whose
// public half the certificate holds). cfg's URL, CA and Certificate are filled in.
func (d *Device) Client(key crypto.Signer, cfg ClientConfig) (*Client, error) {
	ca, err := d.CACert()
	if err != nil {
		return nil, err
	}
	leaf, err := d.Cert()
	if err != nil {
		return nil, err
	}
	cfg.URL, cfg.CA = d.PortalURL, ca
	cfg.Certificate = &tls.Certificate{Certificate: [][]byte{d.Certificate}, PrivateKey: key, Leaf: leaf}
	return NewClient(cfg)
}

// OfflineTooLong reports whether the policy's maximum offline days have passed since
// the last contact with the portal; then the vault must not be unlocked until the
// device checked in (CheckIn).
func (d *Device) OfflineTooLong(now time.Time) bool {
	if d.Policy.MaxOfflineDays <= 0 {
		return false
	}
	last := d.LastContact
	if last.IsZero() {
		last = d.Enrolled
	}
	return now.Sub(last) > time.Duration(d.Policy.MaxOfflineDays)*24*time.Hour
}

// ErrOfflineTooLong is returned by CheckOffline.
var ErrOfflineTooLong = errors.New("this device has been offline longer than its policy allows")

// CheckOffline returns an error matching ErrOfflineTooLong that says what to do when
// the device may not be unlocked because it has been offline too long.
func (d *Device) CheckOffline(now time.Time) error {
	if !d.OfflineTooLong(now) {
		return nil
	}
	last := d.LastContact
	if last.IsZero() {
		last = d.Enrolled
	}
	return fmt.Errorf("%w (%d days; last contact %s): connect to the network and run 'fieldoffice sync' — it needs no PIN for that",
		ErrOfflineTooLong, d.Policy.MaxOfflineDays, last.Local().Format("02.01.2006 15:04"))
}

// Schemas returns the portal's form schemas as a storage.Forms: the delivered ones,
// and the built-in sample forms (fallback) for services the portal did not send. A
// delivered schema that does not parse is skipped (and reported).
func (d *Device) Schemas(fallback Forms) (Forms, error) {
	m := portalForms{byService: map[string]*cases.Schema{}, fallback: fallback}
	var bad []error
	for _, raw := range d.Forms {
		s, err := cases.ParseSchema(raw)
		if err != nil {
			bad = append(bad, err)
			continue
		}
		m.byService[s.Service] = s
	}
	return m, errors.Join(bad...)
}

// Forms is where the repository finds form schemas (storage.Forms).
type Forms interface {
	Schema(service string) (*cases.Schema, error)
}

type portalForms struct {
	byService map[string]*cases.Schema
	fallback  Forms
}

func (p portalForms) Schema(service string) (*cases.Schema, error) {
	if s, ok := p.byService[service]; ok {
		return s, nil
	}
	if p.fallback != nil {
		return p.fallback.Schema(service)
	}
	return nil, fmt.Errorf("no form for service %q", service)
}
