package server_test

import (
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"fieldoffice/portal"
	"fieldoffice/portal/server"
	"fieldoffice/storage/crypto"
)

func TestInit(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "portal")
	if err := server.Init(dir, []string{"portal.example", "10.1.2.3"}); err != nil {
		t.Fatal(err)
	}
	if err := server.Init(dir, nil); !errors.Is(err, server.ErrAlreadyInitialized) {
		t.Fatalf("second Init: %v", err)
	}
	if fi, _ := os.Stat(dir); fi.Mode().Perm() != 0o700 {
		t.Errorf("dir mode %v", fi.Mode().Perm())
	}
	for _, f := range []string{"portal.db", "ca.crt", "ca.key", "server.crt", "server.key", "admin.secret", "recovery.key"} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("%s: %v %v", f, err, fi.Mode())
		}
	}
	if _, err := server.OpenStore(t.TempDir(), nil); !errors.Is(err, server.ErrNotInitialized) {
		t.Errorf("OpenStore of an empty dir: %v", err)
	}
	if err := server.Init(t.TempDir(), []string{"http://x:1"}); !errors.Is(err, server.ErrInvalidInput) {
		t.Errorf("Init with a URL as host: %v", err)
	}
	srv, err := server.Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	leaf := srv.TLSConfig().Certificates[0]
	if len(leaf.Certificate) != 2 {
		t.Fatalf("server chain has %d certificates, want leaf and CA", len(leaf.Certificate))
	}
	cert, _ := x509.ParseCertificate(leaf.Certificate[0])
	if err := cert.VerifyHostname("portal.example"); err != nil {
		t.Error(err)
	}
	for _, h := range []string{"10.1.2.3", "localhost", "127.0.0.1", "::1"} {
		if err := cert.VerifyHostname(h); err != nil {
			t.Error(err)
		}
	}
	if server.Fingerprint(leaf.Certificate[1]) != srv.Store().CAFingerprint() || srv.TLSConfig().MinVersion != 0x0304 {
		t.Error("chain's CA or TLS minimum")
	}
	// The recovery private key file belongs to the public key a device gets.
	if _, err := os.ReadFile(filepath.Join(dir, "recovery.key")); err != nil {
		t.Fatal(err)
	}
}

func TestEnroll(t *testing.T) {
	p := newPortal(t)
	tok := p.token()
	_, csr := newCSR(t, elliptic.P256())
	req := portal.EnrollRequest{Secret: tok.Secret, CSR: csr, DeviceName: "laptop-3", User: "a.yilmaz", TPMKind: "none", Software: true}

	// The default policy refuses software keys; the token stays usable.
	status, body := enrollRaw(t, tok, req)
	if status != http.StatusForbidden || !contains(body, portal.ProblemSoftwareKey) {
		t.Fatalf("software key under the default policy: %d %s", status, body)
	}
	p.allowSoftwareKeys()

	// Malformed requests, wrong secrets.
	_, csr384 := newCSR(t, elliptic.P384())
	for name, tc := range map[string]struct {
		req    portal.EnrollRequest
		status int
		typ    string
	}{
		"P-384 key":    {portal.EnrollRequest{Secret: tok.Secret, CSR: csr384, Software: true}, 400, portal.ProblemBadRequest},
		"garbage CSR":  {portal.EnrollRequest{Secret: tok.Secret, CSR: []byte("nope"), Software: true}, 400, portal.ProblemBadRequest},
		"wrong secret": {portal.EnrollRequest{Secret: "x" + tok.Secret, CSR: csr, Software: true}, 401, portal.ProblemInvalidToken},
		"no secret":    {portal.EnrollRequest{CSR: csr, Software: true}, 401, portal.ProblemInvalidToken},
	} {
		if status, body := enrollRaw(t, tok, tc.req); status != tc.status || !contains(body, tc.typ) {
			t.Errorf("%s: %d %s", name, status, body)
		}
	}

	status, body = enrollRaw(t, tok, req)
	if status != http.StatusOK {
		t.Fatalf("enroll: %d %s", status, body)
	}
	d := &testDevice{t: t, base: p.url}
	mustJSON(t, body, &d.resp)
	r := d.resp
	cert, err := x509.ParseCertificate(r.Certificate)
	if err != nil {
		t.Fatal(err)
	}
	switch {
	case server.Fingerprint(r.CA) != tok.CASHA256:
		t.Error("CA in the answer is not the token's")
	case cert.Subject.CommonName != r.DeviceID || r.Office != "Bürgerbüro Mitte":
		t.Errorf("certificate CN %q, device %q, office %q", cert.Subject.CommonName, r.DeviceID, r.Office)
	case cert.NotAfter.Sub(time.Now()) < 360*24*time.Hour || cert.ExtKeyUsage[0] != x509.ExtKeyUsageClientAuth:
		t.Errorf("certificate until %v, usage %v", cert.NotAfter, cert.ExtKeyUsage)
	case len(r.Forms) != 4 || !r.Policy.AllowSoftwareKeys || r.Policy.Version != 2 || r.Cursor != "":
		t.Errorf("forms %d, policy %+v, cursor %q", len(r.Forms), r.Policy, r.Cursor)
	}
	if _, err := crypto.ParseRecoveryPublicKey([]byte(r.Recovery)); err != nil {
		t.Errorf("recovery key: %v", err)
	}

	// One-time: the same token again is refused.
	if status, body := enrollRaw(t, tok, req); status != http.StatusUnauthorized || !contains(body, portal.ProblemInvalidToken) {
		t.Errorf("token reused: %d %s", status, body)
	}
	// An expired token is refused.
	expired := p.token()
	server.SetClock(p.store(), func() time.Time { return time.Now().Add(2 * time.Hour) })
	if status, body := enrollRaw(t, expired, portal.EnrollRequest{Secret: expired.Secret, CSR: csr, Software: true}); status != http.StatusUnauthorized {
		t.Errorf("expired token: %d %s", status, body)
	}
	server.SetClock(p.store(), time.Now)

	// The device is known, and its certificate opens the API.
	devs, err := p.store().Devices()
	if err != nil || len(devs) != 1 || devs[0].ID != r.DeviceID || !devs[0].Software || devs[0].Name != "laptop-3" {
		t.Fatalf("Devices: %v %+v", err, devs)
	}
	checkLogClean(t, p.logs.String(), tok.Secret, expired.Secret)
}

func TestAuthentication(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()

	var info portal.DeviceInfo
	d.getJSON(portal.PathDevice, &info)
	if info.DeviceID != d.id || info.Revoked || info.PolicyVersion != 2 || info.Name != "tablet-07" {
		t.Fatalf("device info %+v", info)
	}

	// Without a client certificate (the enrollment client): 401.
	anon := &testDevice{t: t, base: p.url, client: pinnedClient(p.token())}
	for _, path := range []string{portal.PathPolicy, portal.PathChanges, portal.PathDevice, portal.PathBlobs + sha256hex([]byte("x"))} {
		resp, body := anon.do(http.MethodGet, path, nil, nil)
		problemOf(t, resp, body, http.StatusUnauthorized, portal.ProblemUnauthenticated)
	}
	// Unknown endpoint, wrong method.
	resp, body := d.do(http.MethodGet, "/v1/nothing", nil, nil)
	problemOf(t, resp, body, http.StatusNotFound, portal.ProblemNotFound)
	resp, body = d.do(http.MethodDelete, portal.PathPolicy, nil, nil)
	problemOf(t, resp, body, http.StatusMethodNotAllowed, portal.ProblemBadRequest)
	if resp.Header.Get("Allow") != "GET" {
		t.Errorf("Allow %q", resp.Header.Get("Allow"))
	}

	// Revoked: 403 device-revoked on every call, and the device says so.
	if _, err := p.store().RevokeDevice(d.id); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{portal.PathPolicy, portal.PathForms, portal.PathChanges, portal.PathDevice} {
		resp, body := d.do(http.MethodGet, path, nil, nil)
		problemOf(t, resp, body, http.StatusForbidden, portal.ProblemDeviceRevoked)
	}
	resp, body = d.pushRaw("k1", portal.OpsRequest{})
	problemOf(t, resp, body, http.StatusForbidden, portal.ProblemDeviceRevoked)
	devs, _ := p.store().Devices()
	if !devs[0].IsRevoked() {
		t.Error("device list does not show the revocation")
	}
	if _, err := p.store().RevokeDevice("no-such-device"); !errors.Is(err, server.ErrNotFound) {
		t.Errorf("revoke unknown: %v", err)
	}
	if logs := p.logs.String(); !contains([]byte(logs), "device="+d.id) || !contains([]byte(logs), "status=403") {
		t.Error("the request log lacks device ID or status")
	}
}

func TestPolicyAndFormsETag(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	for _, path := range []string{portal.PathPolicy, portal.PathForms} {
		resp, body := d.do(http.MethodGet, path, nil, nil)
		etag := resp.Header.Get("ETag")
		if resp.StatusCode != http.StatusOK || etag == "" || len(body) == 0 {
			t.Fatalf("GET %s: %d etag %q", path, resp.StatusCode, etag)
		}
		resp, body = d.do(http.MethodGet, path, http.Header{"If-None-Match": {`"other", ` + etag}}, nil)
		if resp.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("GET %s If-None-Match: %d", path, resp.StatusCode)
		}
	}
	var forms portal.FormsResponse
	d.getJSON(portal.PathForms, &forms)
	if len(forms.Forms) != 4 {
		t.Errorf("%d forms", len(forms.Forms))
	}
	resp, _ := d.do(http.MethodGet, portal.PathPolicy, nil, nil)
	old := resp.Header.Get("ETag")
	if _, err := p.store().SetPolicy(map[string]string{"max_offline_days": "7", "pcrs": "0,7", "services": "anmeldung"}); err != nil {
		t.Fatal(err)
	}
	resp, body := d.do(http.MethodGet, portal.PathPolicy, http.Header{"If-None-Match": {old}}, nil)
	var pol portal.Policy
	mustJSON(t, body, &pol)
	if resp.StatusCode != http.StatusOK || pol.Version != 3 || pol.MaxOfflineDays != 7 || len(pol.PCRs) != 2 || pol.Services[0] != "anmeldung" {
		t.Errorf("after policy set: %d %+v", resp.StatusCode, pol)
	}
	for _, bad := range []map[string]string{{"nope": "1"}, {"max_offline_days": "0"}, {"pcrs": "24"}, {"services": "kfz"}, {"allow_software_keys": "vielleicht"}, {}} {
		if _, err := p.store().SetPolicy(bad); !errors.Is(err, server.ErrInvalidInput) {
			t.Errorf("SetPolicy(%v): %v", bad, err)
		}
	}
}
