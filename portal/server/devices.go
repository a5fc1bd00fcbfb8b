package server

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"fieldoffice/portal"
)

// Limits of enrollment input.
const (
	maxOfficeLen = 200
	maxNameLen   = 200
	maxTokenTTL  = 30 * 24 * time.Hour
)

// Device is an enrolled device as the portal keeps it.
type Device struct {
	ID          string    `json:"id"` // UUID, the certificate's subject CN
	Office      string    `json:"office"`
	Name        string    `json:"name"`
	User        string    `json:"user"` // the first user, as the device said
	TPMKind     string    `json:"tpm_kind"`
	Hardware    bool      `json:"hardware"`
	Software    bool      `json:"software"`
	Enrolled    time.Time `json:"enrolled"`
	CertSerial  string    `json:"cert_serial"` // hex; the current certificate
	CertExpires time.Time `json:"cert_expires"`
	// PrevCertSerial is the certificate that asked for the current one (POST
	// /v1/device/certificate): it stays valid until the device first calls with the
	// current one (or it expires), so a device that lost the answer can ask again.
	PrevCertSerial  string    `json:"prev_cert_serial,omitempty"`
	PrevCertExpires time.Time `json:"prev_cert_expires,omitzero"`
	CertRotated     time.Time `json:"cert_rotated,omitzero"` // when the current certificate replaced an earlier one
	// LastSeen is the device's last authenticated call. A running server knows it for
	// every call and writes it to portal.db at most once a minute (and at Close).
	LastSeen time.Time `json:"last_seen,omitzero"`
	// PolicyVersion is the policy version the device last fetched (at enrollment or
	// with GET /v1/policy, a 304 included), PolicyFetched when it first got that one.
	PolicyVersion int       `json:"policy_version,omitempty"`
	PolicyFetched time.Time `json:"policy_fetched,omitzero"`
	Revoked       time.Time `json:"revoked,omitzero"` // zero while the device may sync
	// Wiped is when the device reported a wipe action done (its clock). From then on
	// the portal answers it like a revoked device.
	Wiped time.Time `json:"wiped,omitzero"`
}

// IsRevoked reports whether the device was revoked.
func (d Device) IsRevoked() bool { return !d.Revoked.IsZero() }

// IsWiped reports whether the device reported a remote wipe done.
func (d Device) IsWiped() bool { return !d.Wiped.IsZero() }

// State is "wiped", "revoked" or "active".
func (d Device) State() string {
	switch {
	case d.IsWiped():
		return "wiped"
	case d.IsRevoked():
		return "revoked"
	}
	return "active"
}

// tokenRecord is an enrollment token as stored, under the SHA-256 of its secret.
type tokenRecord struct {
	Office  string    `json:"office"`
	Created time.Time `json:"created"`
	Expires time.Time `json:"expires"`
	Used    time.Time `json:"used,omitzero"`
	Device  string    `json:"device,omitempty"`
}

// TokenInfo is a created enrollment token.
type TokenInfo struct {
	Token   string    `json:"token"` // portal.EncodeToken of the token: hand it to the device once
	URL     string    `json:"url"`
	Office  string    `json:"office"`
	Expires time.Time `json:"expires"`
}

func secretHash(secret string) []byte {
	sum := sha256.Sum256([]byte(secret))
	return []byte(hex.EncodeToString(sum[:]))
}

// CreateToken creates a one-time enrollment token for a device of office, valid for
// ttl (1 minute … 30 days). The portal keeps only the SHA-256 of its secret. portalURL
// is where devices reach the portal (https://HOST:PORT); "" takes the address the last
// Serve recorded, else it fails with [ErrNoURL].
func (s *Store) CreateToken(office string, ttl time.Duration, portalURL string) (TokenInfo, error) {
	office = strings.TrimSpace(office)
	switch {
	case office == "" || utf8.RuneCountInString(office) > maxOfficeLen || !utf8.ValidString(office):
		return TokenInfo{}, fmt.Errorf("%w: office must be 1 to %d characters", ErrInvalidInput, maxOfficeLen)
	case ttl < time.Minute || ttl > maxTokenTTL:
		return TokenInfo{}, fmt.Errorf("%w: token lifetime %v is not between 1m and %v", ErrInvalidInput, ttl, maxTokenTTL)
	}
	if portalURL == "" {
		var err error
		if portalURL, err = s.ListenURL(); err != nil {
			return TokenInfo{}, err
		}
		if portalURL == "" {
			return TokenInfo{}, ErrNoURL
		}
	}
	if u, err := url.Parse(portalURL); err != nil || u.Scheme != "https" || u.Host == "" || u.Path != "" && u.Path != "/" {
		return TokenInfo{}, fmt.Errorf("%w: portal URL %q is not https://HOST[:PORT]", ErrInvalidInput, portalURL)
	}
	portalURL = strings.TrimSuffix(portalURL, "/")
	secret, err := randomSecret()
	if err != nil {
		return TokenInfo{}, err
	}
	now := s.now().UTC()
	rec := tokenRecord{Office: office, Created: now, Expires: now.Add(ttl).Truncate(time.Second)}
	tok, err := portal.EncodeToken(portal.EnrollToken{URL: portalURL, CASHA256: s.CAFingerprint(), Secret: secret, Office: office, Expires: rec.Expires})
	if err != nil {
		return TokenInfo{}, err
	}
	err = s.db.Update(func(tx *bolt.Tx) error {
		return putJSON(tx.Bucket(bucketTokens), secretHash(secret), rec)
	})
	if err != nil {
		return TokenInfo{}, fmt.Errorf("store enrollment token: %w", err)
	}
	s.log.Info("enrollment token created", "office", office, "expires", rec.Expires)
	return TokenInfo{Token: tok, URL: portalURL, Office: office, Expires: rec.Expires}, nil
}

// Enroll enrolls a device: the token secret must name an unused, unexpired token
// (else [ErrInvalidToken]); the CSR must be a correctly signed ECDSA P-256 request
// (else [ErrBadCSR]); a software key needs a policy that allows it (else
// [ErrSoftwareKey]). The token is used up, the device recorded and a client
// certificate (CN = the new device ID, one year) issued, all in one transaction. The
// answer carries the policy, the forms, the recovery public key and the CA.
func (s *Store) Enroll(req portal.EnrollRequest) (portal.EnrollResponse, error) {
	csr, err := parseCSR(req.CSR)
	if err != nil {
		return portal.EnrollResponse{}, err
	}
	if utf8.RuneCountInString(req.DeviceName) > maxNameLen || utf8.RuneCountInString(req.User) > maxNameLen || len(req.TPMKind) > 32 {
		return portal.EnrollResponse{}, fmt.Errorf("%w: device name, user or TPM kind too long", ErrInvalidInput)
	}
	var resp portal.EnrollResponse
	err = s.db.Update(func(tx *bolt.Tx) error {
		now := s.now().UTC()
		tokens, key := tx.Bucket(bucketTokens), secretHash(req.Secret)
		var tok tokenRecord
		found, err := getJSON(tokens, key, &tok)
		switch {
		case err != nil:
			return err
		case req.Secret == "" || !found:
			return fmt.Errorf("%w (unknown)", ErrInvalidToken)
		case !tok.Used.IsZero():
			return fmt.Errorf("%w (used by device %s)", ErrInvalidToken, tok.Device)
		case !now.Before(tok.Expires):
			return fmt.Errorf("%w (expired %s)", ErrInvalidToken, tok.Expires.Format(time.RFC3339))
		}
		policy, err := readPolicy(tx)
		if err != nil {
			return err
		}
		if req.Software && !policy.AllowSoftwareKeys {
			return ErrSoftwareKey
		}
		dev, cert, err := s.newDevice(csr, req, tok.Office, now)
		if err != nil {
			return err
		}
		dev.PolicyVersion, dev.PolicyFetched = policy.Version, now
		if err := putJSON(tx.Bucket(bucketDevices), []byte(dev.ID), dev); err != nil {
			return err
		}
		tok.Used, tok.Device = now, dev.ID
		if err := putJSON(tokens, key, tok); err != nil {
			return err
		}
		resp = portal.EnrollResponse{
			DeviceID: dev.ID, Office: dev.Office, Certificate: cert.Raw, CA: s.CACertificate(),
			Policy: policy, Forms: s.forms, Recovery: recoveryPEM(tx), Cursor: "",
		}
		return nil
	})
	if err != nil {
		return portal.EnrollResponse{}, err
	}
	s.log.Info("device enrolled", "device", resp.DeviceID, "office", resp.Office, "software_key", req.Software)
	return resp, nil
}

func (s *Store) newDevice(csr *x509.CertificateRequest, req portal.EnrollRequest, office string, now time.Time) (Device, *x509.Certificate, error) {
	id, err := uuid.NewV7()
	if err != nil {
		return Device{}, nil, fmt.Errorf("device ID: %w", err)
	}
	cert, err := s.ca.issueDevice(csr, id.String(), office, now)
	if err != nil {
		return Device{}, nil, err
	}
	return Device{
		ID: id.String(), Office: office, Name: strings.TrimSpace(req.DeviceName), User: strings.TrimSpace(req.User),
		TPMKind: req.TPMKind, Hardware: req.Hardware, Software: req.Software, Enrolled: now,
		CertSerial: cert.SerialNumber.Text(16), CertExpires: cert.NotAfter.UTC(),
	}, cert, nil
}

// Devices returns the enrolled devices (revoked ones too), oldest first.
func (s *Store) Devices() ([]Device, error) {
	out := []Device{}
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketDevices).ForEach(func(k, v []byte) error {
			var d Device
			if _, err := getJSON(tx.Bucket(bucketDevices), k, &d); err != nil {
				return err
			}
			out = append(out, s.contacts.overlay(d))
			return nil
		})
	})
	return out, err
}

// Device returns the device with the given ID, or [ErrNotFound].
func (s *Store) Device(id string) (Device, error) {
	var d Device
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		d, err = getDevice(tx, id)
		return err
	})
	return s.contacts.overlay(d), err
}

// getDevice reads a device record as stored, or fails with [ErrNotFound].
func getDevice(tx *bolt.Tx, id string) (Device, error) {
	var d Device
	found, err := getJSON(tx.Bucket(bucketDevices), []byte(id), &d)
	if err == nil && !found {
		err = fmt.Errorf("device %q: %w", id, ErrNotFound)
	}
	return d, err
}

// RevokeDevice revokes a device: from its next call on, the portal answers 403
// device-revoked and the device wipes its store. Its pending remote actions are
// cancelled (it will not hear of them). Revoking again keeps the first time. It
// returns the device, or [ErrNotFound].
func (s *Store) RevokeDevice(id string) (Device, error) {
	var d Device
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if d, err = getDevice(tx, id); err != nil || d.IsRevoked() {
			return err
		}
		now := s.now().UTC()
		d.Revoked = now
		if err := cancelPending(tx, id, "", "cancelled: the device was revoked", now); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketDevices), []byte(id), d)
	})
	if err == nil {
		s.log.Info("device revoked", "device", id)
	}
	return s.contacts.overlay(d), err
}

// touchDevice records that the device called with the certificate of serial: in
// memory every time, in portal.db at most once a minute (a write costs an fsync). The
// first call with a rotated certificate ends the validity of the one before it.
func (s *Store) touchDevice(d Device, serial string) {
	now := s.now().UTC()
	s.contacts.set(d.ID, now)
	switched := d.PrevCertSerial != "" && serial == d.CertSerial
	if !switched && now.Sub(d.LastSeen) < time.Minute {
		return
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDevices)
		var cur Device
		if found, err := getJSON(b, []byte(d.ID), &cur); err != nil || !found {
			return err
		}
		if now.After(cur.LastSeen) {
			cur.LastSeen = now
		}
		if switched && cur.CertSerial == serial {
			cur.PrevCertSerial, cur.PrevCertExpires = "", time.Time{}
		}
		return putJSON(b, []byte(d.ID), cur)
	})
	if err != nil {
		s.log.Warn("recording last contact failed", "device", d.ID, "err", err)
		return
	}
	if switched {
		s.log.Info("device uses its new certificate; the previous one is no longer accepted", "device", d.ID)
	}
}

// notePolicy records that device d holds policy version v (it fetched it, or its
// If-None-Match named it). It writes only when the version changed.
func (s *Store) notePolicy(d Device, v int) {
	if d.PolicyVersion == v {
		return
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDevices)
		var cur Device
		if found, err := getJSON(b, []byte(d.ID), &cur); err != nil || !found || cur.PolicyVersion == v {
			return err
		}
		cur.PolicyVersion, cur.PolicyFetched = v, s.now().UTC()
		return putJSON(b, []byte(d.ID), cur)
	})
	if err != nil {
		s.log.Warn("recording the fetched policy version failed", "device", d.ID, "err", err)
	}
}

// DeviceInfo returns what GET /v1/device answers for d: with the pending remote
// actions, which are marked as delivered.
func (s *Store) DeviceInfo(d Device) (portal.DeviceInfo, error) {
	p, err := s.Policy()
	if err != nil {
		return portal.DeviceInfo{}, err
	}
	actions, err := s.deliverActions(d.ID)
	if err != nil {
		return portal.DeviceInfo{}, err
	}
	return portal.DeviceInfo{
		DeviceID: d.ID, Office: d.Office, Name: d.Name, Enrolled: d.Enrolled, CertExpires: d.CertExpires,
		PolicyVersion: p.Version, Revoked: d.IsRevoked(), Actions: actions,
	}, nil
}
