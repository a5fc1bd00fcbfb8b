package server_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"fieldoffice/portal"
	"fieldoffice/portal/server"
	"fieldoffice/storage/crypto"
)

// deviceInfo fetches GET /v1/device and checks the header agrees with the list.
func (d *testDevice) deviceInfo() portal.DeviceInfo {
	d.t.Helper()
	resp, body := d.do(http.MethodGet, portal.PathDevice, nil, nil)
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("GET /v1/device: %d %s", resp.StatusCode, body)
	}
	var info portal.DeviceInfo
	mustJSON(d.t, body, &info)
	if !strings.Contains(string(body), `"actions":[`) {
		d.t.Errorf("actions is not a list: %s", body)
	}
	if h := resp.Header.Get(portal.HeaderDeviceActions); h != itoa(len(info.Actions)) {
		d.t.Errorf("%s: %q, %d actions listed", portal.HeaderDeviceActions, h, len(info.Actions))
	}
	return info
}

// pendingHeader returns the Device-Actions header of a GET of path.
func (d *testDevice) pendingHeader(path string) string {
	d.t.Helper()
	resp, _ := d.do(http.MethodGet, path, nil, nil)
	return resp.Header.Get(portal.HeaderDeviceActions)
}

// report posts the outcome of an action and returns the answer.
func (d *testDevice) report(id string, res portal.ActionResult) (*http.Response, []byte) {
	d.t.Helper()
	body, _ := json.Marshal(res)
	return d.do(http.MethodPost, portal.PathDeviceActions+id, http.Header{"Content-Type": {"application/json"}}, body)
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func TestRemoteActions(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	st := p.store()

	if info := d.deviceInfo(); len(info.Actions) != 0 {
		t.Fatalf("a new device has actions: %+v", info.Actions)
	}
	if h := d.pendingHeader(portal.PathPolicy); h != "0" {
		t.Errorf("Device-Actions without actions: %q", h)
	}

	// Queue one of each kind; the same kind again is the pending one.
	ids := map[string]string{}
	for _, kind := range portal.ActionKinds {
		a, err := st.QueueAction(d.id, kind)
		if err != nil || a.Status != server.ActionPending || a.Kind != kind || uuid.Validate(a.ID) != nil {
			t.Fatalf("QueueAction(%s): %+v %v", kind, a, err)
		}
		ids[kind] = a.ID
	}
	if again, err := st.QueueAction(d.id, portal.ActionLock); err != nil || again.ID != ids[portal.ActionLock] {
		t.Errorf("lock queued twice: %+v %v", again, err)
	}
	if _, err := st.QueueAction(d.id, "reboot"); !errors.Is(err, server.ErrInvalidInput) {
		t.Errorf("unknown kind: %v", err)
	}
	if _, err := st.QueueAction("no-such-device", portal.ActionLock); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("unknown device: %v", err)
	}

	// The device notices on any call (the header), then fetches the list.
	for _, path := range []string{portal.PathPolicy, portal.PathForms, portal.PathChanges} {
		if h := d.pendingHeader(path); h != "4" {
			t.Errorf("GET %s: Device-Actions %q, want 4", path, h)
		}
	}
	resp, body := d.do(http.MethodGet, "/v1/nothing", nil, nil) // not authenticated: no header
	if resp.Header.Get(portal.HeaderDeviceActions) != "" {
		t.Errorf("404 of an unknown path carries Device-Actions: %s", body)
	}
	info := d.deviceInfo()
	if len(info.Actions) != 4 {
		t.Fatalf("actions %+v", info.Actions)
	}
	for i, kind := range portal.ActionKinds { // oldest first
		if a := info.Actions[i]; a.Kind != kind || a.ID != ids[kind] || a.Created.IsZero() {
			t.Errorf("action %d: %+v, want %s", i, a, kind)
		}
	}

	// Reports: done, failed with a detail; a retry is accepted; a contradiction is not.
	lockTime := time.Now().Add(-time.Minute).UTC().Truncate(time.Second)
	resp, body = d.report(ids[portal.ActionLock], portal.ActionResult{Status: portal.ActionDone, Time: lockTime})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get(portal.HeaderDeviceActions) != "3" {
		t.Fatalf("report lock: %d %q %s", resp.StatusCode, resp.Header.Get(portal.HeaderDeviceActions), body)
	}
	resp, _ = d.report(ids[portal.ActionLock], portal.ActionResult{Status: portal.ActionDone, Time: lockTime})
	if resp.StatusCode != http.StatusNoContent {
		t.Errorf("repeated report: %d", resp.StatusCode)
	}
	resp, body = d.report(ids[portal.ActionLock], portal.ActionResult{Status: portal.ActionFailed})
	problemOf(t, resp, body, http.StatusConflict, portal.ProblemConflict)
	resp, body = d.report(ids[portal.ActionResync], portal.ActionResult{Status: portal.ActionFailed, Detail: "Tresor ist gesperrt"})
	if resp.StatusCode != http.StatusNoContent {
		t.Fatalf("report resync: %d %s", resp.StatusCode, body)
	}
	for name, tc := range map[string]struct {
		id     string
		res    any
		status int
		typ    string
	}{
		"bad status":     {ids[portal.ActionWipe], portal.ActionResult{Status: "maybe"}, 400, portal.ProblemBadRequest},
		"pending status": {ids[portal.ActionWipe], portal.ActionResult{Status: server.ActionPending}, 400, portal.ProblemBadRequest},
		"long detail":    {ids[portal.ActionWipe], portal.ActionResult{Status: portal.ActionFailed, Detail: strings.Repeat("x", portal.MaxActionDetail+1)}, 400, portal.ProblemBadRequest},
		"not JSON":       {ids[portal.ActionWipe], "nope", 400, portal.ProblemBadRequest},
		"unknown action": {uuid.NewString(), portal.ActionResult{Status: portal.ActionDone}, 404, portal.ProblemNotFound},
		"no action ID":   {"", portal.ActionResult{Status: portal.ActionDone}, 404, portal.ProblemNotFound},
	} {
		b, _ := json.Marshal(tc.res)
		resp, body := d.do(http.MethodPost, portal.PathDeviceActions+tc.id, nil, b)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
			continue
		}
		problemOf(t, resp, body, tc.status, tc.typ)
	}
	resp, body = d.do(http.MethodGet, portal.PathDeviceActions+ids[portal.ActionWipe], nil, nil)
	problemOf(t, resp, body, http.StatusMethodNotAllowed, portal.ProblemBadRequest)

	// Another device cannot see or report this device's actions.
	other := p.enroll()
	if info := other.deviceInfo(); len(info.Actions) != 0 {
		t.Errorf("other device sees %+v", info.Actions)
	}
	resp, body = other.report(ids[portal.ActionWipe], portal.ActionResult{Status: portal.ActionDone})
	problemOf(t, resp, body, http.StatusNotFound, portal.ProblemNotFound)

	// device show: outcomes, the remaining ones pending and delivered.
	det, err := st.DeviceDetails(d.id)
	if err != nil {
		t.Fatal(err)
	}
	if det.State != "active" || det.PendingActions != 2 || len(det.Actions) != 4 {
		t.Fatalf("details: %+v", det)
	}
	byKind := map[string]server.DeviceAction{}
	for _, a := range det.Actions {
		byKind[a.Kind] = a
		if a.Seen.IsZero() {
			t.Errorf("%s: not marked as delivered", a.Kind)
		}
	}
	if a := byKind[portal.ActionLock]; a.Status != portal.ActionDone || !a.Time.Equal(lockTime) || a.Reported.IsZero() {
		t.Errorf("lock: %+v", a)
	}
	if a := byKind[portal.ActionResync]; a.Status != portal.ActionFailed || a.Detail != "Tresor ist gesperrt" || a.Time.IsZero() {
		t.Errorf("resync: %+v", a)
	}
	if a := byKind[portal.ActionWipe]; a.Status != server.ActionPending {
		t.Errorf("wipe: %+v", a)
	}

	// Cancel: a pending one goes, a finished one cannot.
	if a, err := st.CancelAction(d.id, ids[portal.ActionRotateCert]); err != nil || a.Status != server.ActionCancelled {
		t.Errorf("cancel: %+v %v", a, err)
	}
	if _, err := st.CancelAction(d.id, ids[portal.ActionLock]); !errors.Is(err, server.ErrConflict) {
		t.Errorf("cancel a done action: %v", err)
	}
	if h := d.pendingHeader(portal.PathPolicy); h != "1" {
		t.Errorf("after cancel: Device-Actions %q", h)
	}

	// Wipe: reported done, the device is marked wiped and refused from then on.
	wipeTime := time.Now().UTC().Truncate(time.Second)
	resp, body = d.report(ids[portal.ActionWipe], portal.ActionResult{Status: portal.ActionDone, Time: wipeTime})
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get(portal.HeaderDeviceActions) != "0" {
		t.Fatalf("report wipe: %d %s", resp.StatusCode, body)
	}
	for _, path := range []string{portal.PathDevice, portal.PathPolicy, portal.PathChanges} {
		resp, body := d.do(http.MethodGet, path, nil, nil)
		problemOf(t, resp, body, http.StatusForbidden, portal.ProblemDeviceRevoked)
	}
	resp, body = d.report(ids[portal.ActionWipe], portal.ActionResult{Status: portal.ActionDone, Time: wipeTime})
	problemOf(t, resp, body, http.StatusForbidden, portal.ProblemDeviceRevoked)
	det, _ = st.DeviceDetails(d.id)
	if det.State != "wiped" || !det.Wiped.Equal(wipeTime) || det.IsRevoked() || det.PendingActions != 0 {
		t.Errorf("after wipe: %+v", det)
	}
	if _, err := st.QueueAction(d.id, portal.ActionLock); !errors.Is(err, server.ErrInvalidInput) {
		t.Errorf("queue for a wiped device: %v", err)
	}
	// The other device is untouched.
	if info := other.deviceInfo(); info.DeviceID != other.id {
		t.Errorf("other device: %+v", info)
	}

	// Revocation: no actions for a revoked device; pending ones are cancelled.
	a, err := st.QueueAction(other.id, portal.ActionResync)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.RevokeDevice(other.id); err != nil {
		t.Fatal(err)
	}
	if _, err := st.QueueAction(other.id, portal.ActionWipe); !errors.Is(err, server.ErrInvalidInput) {
		t.Errorf("wipe of a revoked device: %v", err)
	}
	det, _ = st.DeviceDetails(other.id)
	if det.State != "revoked" || det.PendingActions != 0 || det.Actions[0].ID != a.ID || det.Actions[0].Status != server.ActionCancelled {
		t.Errorf("revoked device: %+v", det)
	}

	// Everything survives a restart; the log has no detail text.
	p.restart()
	if det, err := p.store().DeviceDetails(d.id); err != nil || len(det.Actions) != 4 || det.State != "wiped" {
		t.Errorf("after restart: %+v %v", det, err)
	}
	checkLogClean(t, p.logs.String(), "Tresor ist gesperrt")
}

// TestRemoteActionsOverSocket: the admin operations through a running server's socket.
func TestRemoteActionsOverSocket(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	a, via, err := server.OpenAdmin(p.dir)
	if err != nil || via != "socket" {
		t.Fatalf("OpenAdmin: %v %s", err, via)
	}
	defer a.Close()
	act, err := a.QueueAction(d.id, portal.ActionLock)
	if err != nil || act.Kind != portal.ActionLock || act.Status != server.ActionPending {
		t.Fatalf("QueueAction: %+v %v", act, err)
	}
	if _, err := a.QueueAction(d.id, "explode"); !errors.Is(err, server.ErrInvalidInput) {
		t.Errorf("bad kind over the socket: %v", err)
	}
	if _, err := a.QueueAction(uuid.NewString(), portal.ActionLock); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("unknown device over the socket: %v", err)
	}
	info := d.deviceInfo()
	if len(info.Actions) != 1 || info.Actions[0].ID != act.ID {
		t.Fatalf("device sees %+v", info.Actions)
	}
	if resp, body := d.report(act.ID, portal.ActionResult{Status: portal.ActionDone}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("report: %d %s", resp.StatusCode, body)
	}
	det, err := a.DeviceDetails(d.id)
	if err != nil || len(det.Actions) != 1 || det.Actions[0].Status != portal.ActionDone || det.LastSeen.IsZero() || det.PolicyCurrent != 2 {
		t.Fatalf("DeviceDetails: %+v %v", det, err)
	}
	if _, err := a.CancelAction(d.id, act.ID); !errors.Is(err, server.ErrConflict) {
		t.Errorf("cancel of a done action over the socket: %v", err)
	}
	if _, err := a.CancelAction(d.id, uuid.NewString()); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("cancel of an unknown action: %v", err)
	}
	if _, err := a.DeviceDetails("nope"); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("details of an unknown device: %v", err)
	}
	pub, err := a.RecoveryPublicKey()
	if err != nil || pub != d.resp.Recovery {
		t.Errorf("RecoveryPublicKey: %v %q", err, pub)
	}
}

func TestLastContactAndPolicyVersion(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys() // policy version 2
	d := p.enroll()
	st := p.store()
	det, _ := st.DeviceDetails(d.id)
	if det.PolicyVersion != 2 || det.PolicyFetched.IsZero() {
		t.Errorf("after enrollment: policy %d at %v", det.PolicyVersion, det.PolicyFetched)
	}

	// Every call is a contact, also within the same minute.
	base := time.Now()
	for i, path := range []string{portal.PathForms, portal.PathDevice, portal.PathChanges} {
		now := base.Add(time.Duration(i) * 10 * time.Second)
		server.SetClock(st, func() time.Time { return now })
		d.do(http.MethodGet, path, nil, nil)
		if dev, _ := st.Device(d.id); !dev.LastSeen.Equal(now.UTC()) {
			t.Errorf("after GET %s: last seen %v, want %v", path, dev.LastSeen, now.UTC())
		}
	}
	server.SetClock(st, time.Now)

	// The policy version the device fetched, a 304 included.
	if _, err := st.SetPolicy(map[string]string{"pcrs": "7,14"}); err != nil {
		t.Fatal(err)
	}
	if det, _ := st.DeviceDetails(d.id); det.PolicyVersion != 2 || det.PolicyCurrent != 3 {
		t.Errorf("before fetching: %d/%d", det.PolicyVersion, det.PolicyCurrent)
	}
	var pol portal.Policy
	d.getJSON(portal.PathPolicy, &pol)
	if pol.Version != 3 || len(pol.PCRs) != 2 || pol.PCRs[0] != 7 || pol.PCRs[1] != 14 {
		t.Errorf("policy %+v", pol)
	}
	if det, _ := st.DeviceDetails(d.id); det.PolicyVersion != 3 {
		t.Errorf("after fetching: %d", det.PolicyVersion)
	}
	if _, err := st.SetPolicy(map[string]string{"idle_lock_minutes": "5"}); err != nil {
		t.Fatal(err)
	}
	resp, _ := d.do(http.MethodGet, portal.PathPolicy, http.Header{"If-None-Match": {`"policy-4"`}}, nil)
	if det, _ := st.DeviceDetails(d.id); resp.StatusCode != http.StatusNotModified || det.PolicyVersion != 4 {
		t.Errorf("after a 304: %d %d", resp.StatusCode, det.PolicyVersion)
	}

	// The last contact reaches portal.db at Close.
	last := time.Now().Add(30 * time.Second)
	server.SetClock(st, func() time.Time { return last })
	d.do(http.MethodGet, portal.PathForms, nil, nil)
	p.stop()
	s2, err := server.OpenStore(p.dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s2.Close()
	if dev, _ := s2.Device(d.id); !dev.LastSeen.Equal(last.UTC()) {
		t.Errorf("after Close: last seen %v, want %v", dev.LastSeen, last.UTC())
	}
}

func TestRotateCertificate(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	st := p.store()
	act, err := st.QueueAction(d.id, portal.ActionRotateCert)
	if err != nil {
		t.Fatal(err)
	}
	if info := d.deviceInfo(); len(info.Actions) != 1 || info.Actions[0].Kind != portal.ActionRotateCert {
		t.Fatalf("actions %+v", info.Actions)
	}
	oldCert, _ := x509.ParseCertificate(d.resp.Certificate)

	post := func(dev *testDevice, req any) (*http.Response, []byte) {
		b, _ := json.Marshal(req)
		return dev.do(http.MethodPost, portal.PathDeviceCertificate, http.Header{"Content-Type": {"application/json"}}, b)
	}
	// Bad requests.
	_, csr384 := newCSR(t, elliptic.P384())
	resp, body := post(d, portal.CertificateRequest{CSR: csr384, TPMKind: "none", Software: true})
	problemOf(t, resp, body, http.StatusBadRequest, portal.ProblemBadRequest)
	resp, body = post(d, portal.CertificateRequest{})
	problemOf(t, resp, body, http.StatusBadRequest, portal.ProblemBadRequest)
	resp, body = d.do(http.MethodGet, portal.PathDeviceCertificate, nil, nil)
	problemOf(t, resp, body, http.StatusMethodNotAllowed, portal.ProblemBadRequest)

	// A new key (software, allowed by the policy): a new certificate, same device.
	key, csr := newCSR(t, elliptic.P256())
	issue := func(dev *testDevice) portal.CertificateResponse {
		t.Helper()
		resp, body := post(dev, portal.CertificateRequest{CSR: csr, TPMKind: "none", Software: true})
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("POST /v1/device/certificate: %d %s", resp.StatusCode, body)
		}
		var cr portal.CertificateResponse
		mustJSON(t, body, &cr)
		return cr
	}
	cr := issue(d)
	cert, err := x509.ParseCertificate(cr.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(cr.CA)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("new certificate does not verify: %v", err)
	}
	switch {
	case cert.Subject.CommonName != d.id || cert.Subject.OrganizationalUnit[0] != oldCert.Subject.OrganizationalUnit[0]:
		t.Errorf("subject %v, want CN %s", cert.Subject, d.id)
	case cert.SerialNumber.Cmp(oldCert.SerialNumber) == 0 || cr.Serial != cert.SerialNumber.Text(16):
		t.Errorf("serial %s (answer %s), old %s", cert.SerialNumber.Text(16), cr.Serial, oldCert.SerialNumber.Text(16))
	case !cr.Expires.Equal(cert.NotAfter) || time.Until(cert.NotAfter) < 360*24*time.Hour:
		t.Errorf("expires %v / %v", cr.Expires, cert.NotAfter)
	case server.Fingerprint(cr.CA) != st.CAFingerprint():
		t.Error("CA in the answer")
	}

	// A lost answer: the old certificate still works and may ask again; the
	// certificate of the lost answer is replaced.
	info := d.deviceInfo()
	if info.DeviceID != d.id {
		t.Fatalf("old certificate after rotation: %+v", info)
	}
	lost := cert
	cr = issue(d)
	cert, _ = x509.ParseCertificate(cr.Certificate)
	if cert.SerialNumber.Cmp(lost.SerialNumber) == 0 {
		t.Fatal("the second answer repeats the first certificate")
	}
	lostResp := d.resp
	lostResp.Certificate = lost.Raw
	lostDev := &testDevice{t: t, id: d.id, base: p.url, client: deviceClient(lostResp, key)}
	resp, body = lostDev.do(http.MethodGet, portal.PathDevice, nil, nil)
	problemOf(t, resp, body, http.StatusUnauthorized, portal.ProblemUnauthenticated)

	// The device switches: from its first call with the new certificate the old one
	// is refused.
	newResp := d.resp
	newResp.Certificate = cr.Certificate
	nd := &testDevice{t: t, id: d.id, base: p.url, client: deviceClient(newResp, key), resp: newResp}
	if det, _ := st.DeviceDetails(d.id); det.PrevCertSerial != oldCert.SerialNumber.Text(16) || det.CertSerial != cr.Serial {
		t.Errorf("before the switch: %+v", det.Device)
	}
	if resp, body := nd.report(act.ID, portal.ActionResult{Status: portal.ActionDone}); resp.StatusCode != http.StatusNoContent {
		t.Fatalf("report with the new certificate: %d %s", resp.StatusCode, body)
	}
	if info := nd.deviceInfo(); info.DeviceID != d.id || len(info.Actions) != 0 || !info.CertExpires.Equal(cr.Expires) {
		t.Errorf("new certificate: %+v", info)
	}
	d.client.CloseIdleConnections()
	resp, body = d.do(http.MethodGet, portal.PathDevice, nil, nil)
	problemOf(t, resp, body, http.StatusUnauthorized, portal.ProblemUnauthenticated)
	det, _ := st.DeviceDetails(d.id)
	if det.PrevCertSerial != "" || det.CertSerial != cr.Serial || det.CertRotated.IsZero() || det.Actions[0].Status != portal.ActionDone {
		t.Errorf("after the switch: %+v", det)
	}

	// A software key under a policy that forbids them is refused.
	if _, err := st.SetPolicy(map[string]string{"allow_software_keys": "false"}); err != nil {
		t.Fatal(err)
	}
	resp, body = post(nd, portal.CertificateRequest{CSR: csr, TPMKind: "none", Software: true})
	problemOf(t, resp, body, http.StatusForbidden, portal.ProblemSoftwareKey)
	resp, body = post(nd, portal.CertificateRequest{CSR: csr}) // the recorded kind: software
	problemOf(t, resp, body, http.StatusForbidden, portal.ProblemSoftwareKey)
}

func TestServicesRestriction(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	c, create := newAnmeldung(t, "Yilmaz")
	if _, err := p.store().SetPolicy(map[string]string{"services": "gewerbeanmeldung, personalausweis"}); err != nil {
		t.Fatal(err)
	}
	r := d.push(create)[0]
	if r.Status != portal.ResultRejected || r.Reason != "Diese Leistung darf auf diesem Gerät nicht erfasst werden" || r.Fields["service"] == "" {
		t.Fatalf("create of a service outside the policy: %+v", r)
	}
	if _, err := p.store().Case(c.ID); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("the refused case exists: %v", err)
	}
	// The refusal is the op's answer for good (a retry is a duplicate of it).
	if r := d.push(create)[0]; r.Status != portal.ResultDuplicate || r.First != portal.ResultRejected {
		t.Errorf("retry: %+v", r)
	}
	// With the service allowed, a new capture goes through.
	if _, err := p.store().SetPolicy(map[string]string{"services": "anmeldung"}); err != nil {
		t.Fatal(err)
	}
	c2, create2 := newAnmeldung(t, "Kowalski")
	if r := d.push(create2)[0]; r.Status != portal.ResultApplied {
		t.Fatalf("allowed create: %+v", r)
	}
	// Restricted again: edits of the existing case still apply (only new captures are
	// refused), and so does an empty list (all services).
	if _, err := p.store().SetPolicy(map[string]string{"services": "gewerbeanmeldung"}); err != nil {
		t.Fatal(err)
	}
	if r := d.push(patchOp(c2.ID, 1, "patch", map[string][2]string{"values.telefon": {"0221 123456", "0221 654321"}}))[0]; r.Status != portal.ResultApplied {
		t.Errorf("patch of an existing case: %+v", r)
	}
	if _, err := p.store().SetPolicy(map[string]string{"services": ""}); err != nil {
		t.Fatal(err)
	}
	_, create3 := newAnmeldung(t, "Berg")
	if r := d.push(create3)[0]; r.Status != portal.ResultApplied {
		t.Errorf("create with no restriction: %+v", r)
	}
}

func TestRecoveryExport(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	pub, err := p.store().RecoveryPublicKey()
	if err != nil || pub != d.resp.Recovery {
		t.Fatalf("RecoveryPublicKey: %v", err)
	}
	out := filepath.Join(t.TempDir(), "recovery-export.pem")
	if err := server.ExportRecoveryKey(p.dir, out, pub, false); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(out)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("exported file: %v %v", err, fi)
	}
	raw, _ := os.ReadFile(out)
	key, err := crypto.ParseRecoveryPrivateKey(raw)
	if err != nil {
		t.Fatalf("the export is not a recovery private key: %v", err)
	}
	devPub, _ := crypto.ParseRecoveryPublicKey([]byte(d.resp.Recovery))
	if !key.PublicKey().Equal(devPub) {
		t.Error("the exported key does not belong to the public key devices hold")
	}
	// Refuses to overwrite, whatever is there.
	if err := server.ExportRecoveryKey(p.dir, out, pub, false); !errors.Is(err, server.ErrExists) {
		t.Errorf("second export: %v", err)
	}
	if again, _ := os.ReadFile(out); string(again) != string(raw) {
		t.Error("the existing file was changed")
	}
	// A key that does not match the public key is not exported.
	other, _ := crypto.GenerateRecoveryKey()
	otherPub, _ := crypto.MarshalRecoveryPublicKey(other.PublicKey())
	if err := server.ExportRecoveryKey(p.dir, filepath.Join(t.TempDir(), "x.pem"), string(otherPub), false); err == nil {
		t.Error("exported a key for another public key")
	}
	// --remove: exported, then gone from the portal directory.
	out2 := filepath.Join(t.TempDir(), "second.pem")
	if err := server.ExportRecoveryKey(p.dir, out2, pub, true); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(p.dir, "recovery.key")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("recovery.key after --remove: %v", err)
	}
	if err := server.ExportRecoveryKey(p.dir, filepath.Join(t.TempDir(), "third.pem"), pub, false); err == nil || !strings.Contains(err.Error(), "recovery.key") {
		t.Errorf("export without recovery.key: %v", err)
	}
}

// TestOpenAddsActionBuckets: a portal.db written before remote actions existed opens,
// and takes actions.
func TestOpenAddsActionBuckets(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	p.stop()
	db, err := bolt.Open(filepath.Join(p.dir, "portal.db"), 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		return errors.Join(tx.DeleteBucket([]byte("actions")), tx.DeleteBucket([]byte("pending")))
	})
	if cerr := db.Close(); err != nil || cerr != nil {
		t.Fatal(err, cerr)
	}
	p.start()
	if _, err := p.store().QueueAction(d.id, portal.ActionLock); err != nil {
		t.Fatal(err)
	}
	d.base = p.url
	if info := d.deviceInfo(); len(info.Actions) != 1 {
		t.Errorf("actions %+v", info.Actions)
	}
}

// TestOpenAPIHasTheEndpoints: the contract names every path and header of the wire.
func TestOpenAPIHasTheEndpoints(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("..", "openapi.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	spec := string(raw)
	for _, s := range []string{
		portal.PathEnroll + ":", portal.PathPolicy + ":", portal.PathForms + ":", portal.PathDevice + ":",
		portal.PathDeviceActions + "{id}:", portal.PathDeviceCertificate + ":", portal.PathChanges + ":", portal.PathOps + ":",
		portal.PathBlobs + "{sha256}:", portal.HeaderDeviceActions + ":", "ActionResult:", "CertificateRequest:", "CertificateResponse:",
	} {
		if !strings.Contains(spec, "\n  "+s) && !strings.Contains(spec, " "+s) {
			t.Errorf("openapi.yaml lacks %q", s)
		}
	}
	for _, kind := range portal.ActionKinds {
		if !strings.Contains(spec, kind) {
			t.Errorf("openapi.yaml lacks action kind %q", kind)
		}
	}
}
