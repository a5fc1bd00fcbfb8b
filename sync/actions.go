package sync

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"time"

	"fieldoffice/portal"
)

// Remote actions
//
// An admin queues actions in the portal (portald device wipe|lock|resync|rotate); the
// portal announces them in the Device-Actions header of every answer and lists them in
// GET /v1/device. At a check-in the device carries them out in order and reports each:
//
//	wipe         ActionHandler.Wipe crypto-erases the vault; the report is sent with
//	             the enrollment still in place (it authenticates the report); the
//	             portal then answers 403 device-revoked and the enrollment is removed.
//	lock         ActionHandler.Lock locks the app's session (the CLI has none).
//	resync       ActionHandler.Resync drops the change-feed cursor (needs the unlocked
//	             vault; on a locked device the action waits for the next full sync).
//	rotate-cert  a CSR signed by the device key, the new certificate saved in
//	             device.json and used for every new connection.
//
// An action the device does not know is reported failed. A report that does not get
// through is repeated at the next contact: the portal accepts the same report twice.

// ActionHandler carries out the actions that need the app or the CLI.
type ActionHandler interface {
	// Wipe crypto-erases the vault (closing it first). It returns a note for the
	// portal (no case content).
	Wipe(ctx context.Context) (string, error)
	// Lock locks the app's session now.
	Lock() (string, error)
	// Resync drops the change-feed cursor; false when the vault is locked.
	Resync() (bool, error)
}

// ErrWiped is returned when the device erased its data on the portal's order.
var ErrWiped = errors.New("this device's data was erased on the portal's order")

// CheckInWithActions is CheckIn followed by the pending remote actions. key is the
// device key (for a new certificate). It returns ErrWiped after a wipe.
func CheckInWithActions(ctx context.Context, c *Client, d *Device, dir string, key crypto.Signer, h ActionHandler) error {
	if err := CheckIn(ctx, c, d, dir); err != nil {
		return err
	}
	if c.PendingActions() == 0 {
		return nil
	}
	info, err := c.Device(ctx)
	if err != nil {
		return err
	}
	for _, a := range info.Actions {
		res, err := runAction(ctx, c, d, dir, key, h, a)
		if errors.Is(err, errActionWaits) {
			continue
		}
		if err != nil {
			res = portal.ActionResult{Status: portal.ActionFailed, Detail: err.Error(), Time: time.Now().UTC()}
		}
		if rerr := c.ReportAction(ctx, a.ID, res); rerr != nil {
			if a.Kind == portal.ActionWipe && errors.Is(rerr, ErrRevoked) {
				return ErrWiped // the portal had the report already
			}
			return fmt.Errorf("report action %s: %w", a.Kind, rerr)
		}
		if a.Kind == portal.ActionWipe && res.Status == portal.ActionDone {
			if err := RemoveDevice(dir); err != nil {
				return fmt.Errorf("%w; the enrollment record stays: %v", ErrWiped, err)
			}
			return ErrWiped
		}
	}
	return nil
}

// errActionWaits: the action cannot be carried out now (vault locked); it stays
// pending in the portal.
var errActionWaits = errors.New("action waits")

func runAction(ctx context.Context, c *Client, d *Device, dir string, key crypto.Signer, h ActionHandler, a portal.Action) (portal.ActionResult, error) {
	done := func(detail string) (portal.ActionResult, error) {
		return portal.ActionResult{Status: portal.ActionDone, Detail: detail, Time: time.Now().UTC()}, nil
	}
	switch a.Kind {
	case portal.ActionWipe:
		if h == nil {
			return portal.ActionResult{}, errActionWaits
		}
		note, err := h.Wipe(ctx)
		if err != nil {
			return portal.ActionResult{}, fmt.Errorf("wipe: %w", err)
		}
		return done(note)
	case portal.ActionLock:
		if h == nil {
			return done("no session open")
		}
		note, err := h.Lock()
		if err != nil {
			return portal.ActionResult{}, err
		}
		return done(note)
	case portal.ActionResync:
		if h == nil {
			return portal.ActionResult{}, errActionWaits
		}
		ok, err := h.Resync()
		if err != nil {
			return portal.ActionResult{}, err
		}
		if !ok {
			return portal.ActionResult{}, errActionWaits
		}
		return done("cursor reset: the next pull starts from the beginning")
	case portal.ActionRotateCert:
		serial, err := rotateCertificate(ctx, c, d, dir, key)
		if err != nil {
			return portal.ActionResult{}, fmt.Errorf("rotate certificate: %w", err)
		}
		return done("new certificate " + serial)
	}
	return portal.ActionResult{}, fmt.Errorf("this FieldOffice does not know the action %q", a.Kind)
}

// rotateCertificate gets a new client certificate for the device key, saves it and
// switches the client to it.
func rotateCertificate(ctx context.Context, c *Client, d *Device, dir string, key crypto.Signer) (string, error) {
	if key == nil {
		return "", errors.New("no device key at hand")
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: d.Name, Organization: []string{d.Office}},
	}, key)
	if err != nil {
		return "", err
	}
	resp, err := c.RotateCertificate(ctx, portal.CertificateRequest{CSR: csr, Software: d.KeyKind == KeySoftware})
	if err != nil {
		return "", err
	}
	cert, err := x509.ParseCertificate(resp.Certificate)
	if err != nil {
		return "", fmt.Errorf("%w: new certificate: %v", ErrBadAnswer, err)
	}
	if cert.Subject.CommonName != d.DeviceID {
		return "", fmt.Errorf("%w: the new certificate is for %q", ErrBadAnswer, cert.Subject.CommonName)
	}
	ca, err := d.CACert()
	if err != nil {
		return "", err
	}
	roots := x509.NewCertPool()
	roots.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		return "", fmt.Errorf("%w: the new certificate does not chain to the portal CA: %v", ErrBadAnswer, err)
	}
	d.Certificate = resp.Certificate
	if dir != "" {
		if err := d.Save(dir); err != nil {
			return "", err
		}
	}
	c.SetCertificate(&tls.Certificate{Certificate: [][]byte{resp.Certificate}, PrivateKey: key, Leaf: cert})
	return resp.Serial, nil
}
