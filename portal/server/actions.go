package server

import (
	"bytes"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"fieldoffice/portal"
)

// Statuses of a remote action as the portal keeps it (DeviceAction.Status): pending
// until the device reports portal.ActionDone or portal.ActionFailed, or an admin (or
// a revocation, or a wipe) cancels it.
const (
	ActionPending   = "pending"
	ActionCancelled = "cancelled"
)

// DeviceAction is a remote action as the portal keeps it: queued by an admin,
// delivered to the device with GET /v1/device, reported with POST
// /v1/device/actions/{id}. Actions are kept after they finished (`device show`).
type DeviceAction struct {
	ID       string    `json:"id"` // UUIDv7
	Device   string    `json:"device"`
	Kind     string    `json:"kind"` // portal.ActionKinds
	Created  time.Time `json:"created"`
	Status   string    `json:"status"`            // pending, done, failed, cancelled
	Seen     time.Time `json:"seen,omitzero"`     // first delivered to the device (GET /v1/device)
	Reported time.Time `json:"reported,omitzero"` // when the portal received the outcome (or cancelled it)
	Time     time.Time `json:"time,omitzero"`     // when it happened, by the device's clock
	Detail   string    `json:"detail,omitempty"`  // the device's note, or why it was cancelled
}

// Wire returns the action as the device sees it.
func (a DeviceAction) Wire() portal.Action {
	return portal.Action{ID: a.ID, Kind: a.Kind, Created: a.Created}
}

// DeviceDetails is a device with everything `portald device show` prints.
type DeviceDetails struct {
	Device
	State          string         `json:"state"`          // active, revoked, wiped
	PolicyCurrent  int            `json:"policy_current"` // the portal's policy version (the device holds PolicyVersion)
	PendingActions int            `json:"pending_actions"`
	Actions        []DeviceAction `json:"actions"` // every action of the device, oldest first
}

func actionKey(deviceID, actionID string) []byte {
	return []byte(deviceID + "\x00" + actionID)
}

func devicePrefix(deviceID string) []byte { return []byte(deviceID + "\x00") }

// forActions calls fn for the device's actions in bucket b (oldest first: action
// IDs are UUIDv7).
func forActions(b *bolt.Bucket, deviceID string, fn func(k, v []byte) error) error {
	prefix := devicePrefix(deviceID)
	c := b.Cursor()
	for k, v := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, v = c.Next() {
		if err := fn(k, v); err != nil {
			return err
		}
	}
	return nil
}

// deviceActions returns the device's actions, oldest first; pendingOnly keeps the
// pending ones.
func deviceActions(tx *bolt.Tx, deviceID string, pendingOnly bool) ([]DeviceAction, error) {
	out := []DeviceAction{}
	all := tx.Bucket(bucketActions)
	if pendingOnly {
		err := forActions(tx.Bucket(bucketPending), deviceID, func(k, _ []byte) error {
			var a DeviceAction
			if found, err := getJSON(all, k, &a); err != nil || !found {
				return err
			}
			out = append(out, a)
			return nil
		})
		return out, err
	}
	err := forActions(all, deviceID, func(k, _ []byte) error {
		var a DeviceAction
		_, err := getJSON(all, k, &a)
		out = append(out, a)
		return err
	})
	return out, err
}

func pendingCount(tx *bolt.Tx, deviceID string) int {
	n := 0
	forActions(tx.Bucket(bucketPending), deviceID, func(_, _ []byte) error { n++; return nil })
	return n
}

// putAction writes a and keeps the pending index in step with its status.
func putAction(tx *bolt.Tx, a DeviceAction) error {
	k := actionKey(a.Device, a.ID)
	if err := putJSON(tx.Bucket(bucketActions), k, a); err != nil {
		return err
	}
	if a.Status == ActionPending {
		return tx.Bucket(bucketPending).Put(k, nil)
	}
	return tx.Bucket(bucketPending).Delete(k)
}

// cancelPending cancels the device's pending actions (except the one with ID
// except) with detail.
func cancelPending(tx *bolt.Tx, deviceID, except, detail string, now time.Time) error {
	pending, err := deviceActions(tx, deviceID, true)
	if err != nil {
		return err
	}
	for _, a := range pending {
		if a.ID == except {
			continue
		}
		a.Status, a.Reported, a.Detail = ActionCancelled, now, detail
		if err := putAction(tx, a); err != nil {
			return err
		}
	}
	return nil
}

// QueueAction queues a remote action of kind (portal.ActionWipe, ActionLock,
// ActionResync, ActionRotateCert) for the device: it sees it at its next contact
// (header Device-Actions on every answer, the list in GET /v1/device) and reports the
// outcome. While an action of the same kind is pending, that one is returned and no
// second is queued. A revoked or wiped device takes no actions (revocation makes it
// wipe anyway): [ErrInvalidInput]. Unknown device: [ErrNotFound].
func (s *Store) QueueAction(deviceID, kind string) (DeviceAction, error) {
	if !slices.Contains(portal.ActionKinds, kind) {
		return DeviceAction{}, fmt.Errorf("%w: unknown action %q (known: %s)", ErrInvalidInput, kind, strings.Join(portal.ActionKinds, ", "))
	}
	var a DeviceAction
	queued := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		d, err := getDevice(tx, deviceID)
		switch {
		case err != nil:
			return err
		case d.IsWiped():
			return fmt.Errorf("%w: device %s was wiped on %s", ErrInvalidInput, deviceID, d.Wiped.Format(time.RFC3339))
		case d.IsRevoked():
			return fmt.Errorf("%w: device %s is revoked: it wipes its store at its next contact and takes no actions", ErrInvalidInput, deviceID)
		}
		pending, err := deviceActions(tx, deviceID, true)
		if err != nil {
			return err
		}
		if i := slices.IndexFunc(pending, func(p DeviceAction) bool { return p.Kind == kind }); i >= 0 {
			a = pending[i]
			return nil
		}
		id, err := uuid.NewV7()
		if err != nil {
			return fmt.Errorf("action ID: %w", err)
		}
		a = DeviceAction{ID: id.String(), Device: deviceID, Kind: kind, Created: s.now().UTC(), Status: ActionPending}
		queued = true
		return putAction(tx, a)
	})
	if err == nil && queued {
		s.log.Info("remote action queued", "device", deviceID, "action", a.ID, "kind", kind)
	}
	return a, err
}

// CancelAction cancels a pending action of the device. A finished one gives
// [ErrConflict]; an unknown one [ErrNotFound]. A device that carried the action out
// before it heard of the cancellation still reports it, and the report is recorded.
func (s *Store) CancelAction(deviceID, actionID string) (DeviceAction, error) {
	var a DeviceAction
	err := s.db.Update(func(tx *bolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketActions), actionKey(deviceID, actionID), &a)
		switch {
		case err != nil:
			return err
		case !found:
			return fmt.Errorf("action %q of device %q: %w", actionID, deviceID, ErrNotFound)
		case a.Status == ActionCancelled:
			return nil
		case a.Status != ActionPending:
			return fmt.Errorf("%w: action %s is %s already", ErrConflict, actionID, a.Status)
		}
		a.Status, a.Reported, a.Detail = ActionCancelled, s.now().UTC(), "cancelled by an admin"
		return putAction(tx, a)
	})
	if err == nil {
		s.log.Info("remote action cancelled", "device", deviceID, "action", actionID)
	}
	return a, err
}

// ReportAction records what a device reports about one of its actions. Status must
// be portal.ActionDone or portal.ActionFailed, Detail valid UTF-8 of at most
// portal.MaxActionDetail bytes ([ErrInvalidInput]); a zero Time is taken as now. The
// same report again is accepted and changes nothing (a retry); another outcome for a
// finished action is [ErrConflict]; an action the device does not have is
// [ErrNotFound]. A pending or cancelled action takes the report. A wipe reported done
// marks the device wiped (from then on its calls get 403 device-revoked) and cancels
// its other pending actions.
func (s *Store) ReportAction(deviceID, actionID string, res portal.ActionResult) (DeviceAction, error) {
	switch {
	case res.Status != portal.ActionDone && res.Status != portal.ActionFailed:
		return DeviceAction{}, fmt.Errorf("%w: status %q: want %q or %q", ErrInvalidInput, res.Status, portal.ActionDone, portal.ActionFailed)
	case len(res.Detail) > portal.MaxActionDetail || !utf8.ValidString(res.Detail):
		return DeviceAction{}, fmt.Errorf("%w: detail: at most %d bytes of UTF-8", ErrInvalidInput, portal.MaxActionDetail)
	}
	var a DeviceAction
	changed := false
	err := s.db.Update(func(tx *bolt.Tx) error {
		found, err := getJSON(tx.Bucket(bucketActions), actionKey(deviceID, actionID), &a)
		switch {
		case err != nil:
			return err
		case !found:
			return fmt.Errorf("action %q: %w", actionID, ErrNotFound)
		case a.Status == res.Status:
			return nil // a retried report
		case a.Status != ActionPending && a.Status != ActionCancelled:
			return fmt.Errorf("%w: action %s was reported %s already", ErrConflict, actionID, a.Status)
		}
		now := s.now().UTC()
		when := res.Time.UTC()
		if res.Time.IsZero() {
			when = now
		}
		a.Status, a.Detail, a.Time, a.Reported = res.Status, res.Detail, when, now
		if a.Seen.IsZero() {
			a.Seen = now
		}
		changed = true
		if err := putAction(tx, a); err != nil {
			return err
		}
		if a.Kind != portal.ActionWipe || a.Status != portal.ActionDone {
			return nil
		}
		d, err := getDevice(tx, deviceID)
		if err != nil {
			return err
		}
		if !d.IsWiped() {
			d.Wiped = when
		}
		if err := cancelPending(tx, deviceID, actionID, "cancelled: the device was wiped", now); err != nil {
			return err
		}
		return putJSON(tx.Bucket(bucketDevices), []byte(deviceID), d)
	})
	if err == nil && changed {
		s.log.Info("remote action reported", "device", deviceID, "action", actionID, "kind", a.Kind, "status", a.Status)
		if a.Kind == portal.ActionWipe && a.Status == portal.ActionDone {
			s.log.Info("device wiped", "device", deviceID)
		}
	}
	return a, err
}

// deliverActions returns the device's pending actions, oldest first, and records
// when each was first delivered.
func (s *Store) deliverActions(deviceID string) ([]portal.Action, error) {
	var pending []DeviceAction
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		pending, err = deviceActions(tx, deviceID, true)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]portal.Action, 0, len(pending))
	unseen := false
	for _, a := range pending {
		out = append(out, a.Wire())
		unseen = unseen || a.Seen.IsZero()
	}
	if unseen {
		now := s.now().UTC()
		err := s.db.Update(func(tx *bolt.Tx) error {
			for _, a := range pending {
				var cur DeviceAction
				found, err := getJSON(tx.Bucket(bucketActions), actionKey(deviceID, a.ID), &cur)
				if err != nil {
					return err
				}
				if found && cur.Seen.IsZero() {
					cur.Seen = now
					if err := putAction(tx, cur); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			s.log.Warn("recording the delivery of actions failed", "device", deviceID, "err", err)
		}
	}
	return out, nil
}

// PendingActions returns how many remote actions are pending for the device.
func (s *Store) PendingActions(deviceID string) (int, error) {
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		n = pendingCount(tx, deviceID)
		return nil
	})
	return n, err
}

// DeviceDetails returns the device with its state, the policy version it holds and
// the current one, and all its remote actions. Unknown device: [ErrNotFound].
func (s *Store) DeviceDetails(id string) (DeviceDetails, error) {
	var out DeviceDetails
	err := s.db.View(func(tx *bolt.Tx) error {
		d, err := getDevice(tx, id)
		if err != nil {
			return err
		}
		p, err := readPolicy(tx)
		if err != nil {
			return err
		}
		actions, err := deviceActions(tx, id, false)
		if err != nil {
			return err
		}
		d = s.contacts.overlay(d)
		out = DeviceDetails{Device: d, State: d.State(), PolicyCurrent: p.Version, PendingActions: pendingCount(tx, id), Actions: actions}
		return nil
	})
	return out, err
}

// authDevice returns the device of a client certificate's CN as stored and the
// number of its pending actions, in one read.
func (s *Store) authDevice(id string) (Device, int, error) {
	var d Device
	n := 0
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		if d, err = getDevice(tx, id); err != nil {
			return err
		}
		n = pendingCount(tx, id)
		return nil
	})
	return d, n, err
}

// RotateCertificate issues a new client certificate for device d, which called with
// the certificate of serial: same device ID (CN) and office, a new serial, one year.
// The CSR must be a correctly signed ECDSA P-256 request ([ErrBadCSR]); a software
// key (req.Software, or the recorded kind when req.TPMKind is empty) needs a policy
// that allows it ([ErrSoftwareKey]). The calling certificate stays valid until the
// device first calls with the new one (or it expires); any other earlier certificate
// is no longer accepted. Asking again (a lost answer) replaces the new certificate.
func (s *Store) RotateCertificate(d Device, serial string, req portal.CertificateRequest) (portal.CertificateResponse, error) {
	csr, err := parseCSR(req.CSR)
	if err != nil {
		return portal.CertificateResponse{}, err
	}
	if len(req.TPMKind) > 32 {
		return portal.CertificateResponse{}, fmt.Errorf("%w: TPM kind too long", ErrInvalidInput)
	}
	var resp portal.CertificateResponse
	err = s.db.Update(func(tx *bolt.Tx) error {
		cur, err := getDevice(tx, d.ID)
		switch {
		case err != nil:
			return err
		case cur.IsRevoked() || cur.IsWiped():
			return fmt.Errorf("%w: device %s is %s", ErrInvalidInput, d.ID, cur.State())
		}
		var prevExpires time.Time
		switch serial {
		case cur.CertSerial:
			prevExpires = cur.CertExpires
		case cur.PrevCertSerial:
			prevExpires = cur.PrevCertExpires
		default:
			return fmt.Errorf("%w: the calling certificate is no longer valid", ErrInvalidInput)
		}
		if req.TPMKind != "" {
			cur.TPMKind, cur.Hardware, cur.Software = req.TPMKind, req.Hardware, req.Software
		}
		policy, err := readPolicy(tx)
		if err != nil {
			return err
		}
		if cur.Software && !policy.AllowSoftwareKeys {
			return ErrSoftwareKey
		}
		now := s.now().UTC()
		cert, err := s.ca.issueDevice(csr, cur.ID, cur.Office, now)
		if err != nil {
			return err
		}
		cur.PrevCertSerial, cur.PrevCertExpires = serial, prevExpires
		cur.CertSerial, cur.CertExpires, cur.CertRotated = cert.SerialNumber.Text(16), cert.NotAfter.UTC(), now
		resp = portal.CertificateResponse{Certificate: cert.Raw, CA: s.CACertificate(), Serial: cur.CertSerial, Expires: cur.CertExpires}
		return putJSON(tx.Bucket(bucketDevices), []byte(cur.ID), cur)
	})
	if err != nil {
		return portal.CertificateResponse{}, err
	}
	s.log.Info("device certificate issued", "device", d.ID, "serial", resp.Serial, "expires", resp.Expires)
	return resp, nil
}

// --- last contact -------------------------------------------------------------------

// contactLog keeps the last contact of each device in memory (every call); portal.db
// gets it at most once a minute and at Close.
type contactLog struct {
	mu   sync.Mutex
	last map[string]time.Time
}

func (c *contactLog) set(id string, t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.last == nil {
		c.last = map[string]time.Time{}
	}
	if t.After(c.last[id]) {
		c.last[id] = t
	}
}

// overlay returns d with the contact this process saw last, when that is later.
func (c *contactLog) overlay(d Device) Device {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t, ok := c.last[d.ID]; ok && t.After(d.LastSeen) {
		d.LastSeen = t
	}
	return d
}

func (c *contactLog) snapshot() map[string]time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]time.Time, len(c.last))
	for k, v := range c.last {
		out[k] = v
	}
	return out
}

// flushContacts writes the contacts portal.db lacks (at Close).
func (s *Store) flushContacts() {
	last := s.contacts.snapshot()
	if len(last) == 0 {
		return
	}
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketDevices)
		for id, t := range last {
			var d Device
			if found, err := getJSON(b, []byte(id), &d); err != nil || !found || !t.After(d.LastSeen) {
				if err != nil {
					return err
				}
				continue
			}
			d.LastSeen = t
			if err := putJSON(b, []byte(id), d); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		s.log.Warn("recording last contacts failed", "err", err)
	}
}
