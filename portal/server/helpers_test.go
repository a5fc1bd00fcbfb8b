package server_test

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/portal"
	"fieldoffice/portal/server"
)

// syncBuffer collects the server's log for checks that nothing secret is in it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// testPortal is a portal running in-process on 127.0.0.1:0.
type testPortal struct {
	t    *testing.T
	dir  string
	srv  *server.Server
	url  string
	logs *syncBuffer
	done chan error
}

// newPortal initialises a portal in a temporary directory and serves it.
func newPortal(t *testing.T) *testPortal {
	t.Helper()
	dir := t.TempDir()
	if err := server.Init(dir, []string{"portal.test"}); err != nil {
		t.Fatal(err)
	}
	p := &testPortal{t: t, dir: dir, logs: &syncBuffer{}}
	p.start()
	t.Cleanup(p.stop)
	return p
}

// start opens and serves the portal on a new loopback port.
func (p *testPortal) start() {
	p.t.Helper()
	srv, err := server.Open(p.dir, slog.New(slog.NewTextHandler(p.logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		p.t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		p.t.Fatal(err)
	}
	p.srv, p.done = srv, make(chan error, 1)
	go func() { p.done <- srv.Serve(l) }()
	deadline := time.Now().Add(5 * time.Second)
	for srv.URL() == "" {
		if time.Now().After(deadline) {
			p.t.Fatal("server did not start")
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.url = srv.URL()
}

// stop closes the server and checks that Serve returned cleanly.
func (p *testPortal) stop() {
	if p.srv == nil {
		return
	}
	if err := p.srv.Close(); err != nil {
		p.t.Errorf("Close: %v", err)
	}
	if err := <-p.done; err != nil {
		p.t.Errorf("Serve: %v", err)
	}
	p.srv = nil
}

// restart stops the server and serves the same directory again (on a new port).
func (p *testPortal) restart() {
	p.t.Helper()
	p.stop()
	p.start()
}

func (p *testPortal) store() *server.Store { return p.srv.Store() }

// allowSoftwareKeys sets the policy so that a test device (software key) may enroll.
func (p *testPortal) allowSoftwareKeys() {
	p.t.Helper()
	if _, err := p.store().SetPolicy(map[string]string{"allow_software_keys": "true"}); err != nil {
		p.t.Fatal(err)
	}
}

// token creates an enrollment token for the running server's URL.
func (p *testPortal) token() portal.EnrollToken {
	p.t.Helper()
	info, err := p.store().CreateToken("Bürgerbüro Mitte", time.Hour, p.url)
	if err != nil {
		p.t.Fatal(err)
	}
	tok, err := portal.ParseToken(info.Token)
	if err != nil {
		p.t.Fatal(err)
	}
	return tok
}

// testDevice is a device: its software key, certificate and an mTLS client.
type testDevice struct {
	t      *testing.T
	id     string
	key    *ecdsa.PrivateKey
	resp   portal.EnrollResponse
	client *http.Client
	base   string
}

// pinnedClient is the client a new device uses to enroll: it trusts the server
// certificate only if the chain carries a CA whose SHA-256 is the token's and the
// leaf verifies against that CA for the URL's host.
func pinnedClient(tok portal.EnrollToken) *http.Client {
	u, _ := url.Parse(tok.URL)
	host := u.Hostname()
	cfg := &tls.Config{
		MinVersion:         tls.VersionTLS13,
		InsecureSkipVerify: true, // verified below against the pinned CA
		VerifyConnection: func(cs tls.ConnectionState) error {
			for _, c := range cs.PeerCertificates {
				if !c.IsCA || server.Fingerprint(c.Raw) != tok.CASHA256 {
					continue
				}
				pool := x509.NewCertPool()
				pool.AddCert(c)
				_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{Roots: pool, DNSName: host})
				return err
			}
			return errors.New("no CA with the token's SHA-256 in the server's chain")
		},
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// newCSR returns a software P-256 key and a CSR for it.
func newCSR(t *testing.T, curve elliptic.Curve) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(curve, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	csr, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{Subject: pkix.Name{CommonName: "test device"}}, key)
	if err != nil {
		t.Fatal(err)
	}
	return key, csr
}

// enrollRaw posts an enrollment and returns the status and body.
func enrollRaw(t *testing.T, tok portal.EnrollToken, req portal.EnrollRequest) (int, []byte) {
	t.Helper()
	body, _ := json.Marshal(req)
	resp, err := pinnedClient(tok).Post(tok.URL+portal.PathEnroll, "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// enroll enrolls a software-key device with a new token; the policy must allow it.
func (p *testPortal) enroll() *testDevice {
	p.t.Helper()
	tok := p.token()
	key, csr := newCSR(p.t, elliptic.P256())
	status, body := enrollRaw(p.t, tok, portal.EnrollRequest{Secret: tok.Secret, CSR: csr, DeviceName: "tablet-07", User: "m.schulz", TPMKind: "none", Software: true})
	if status != http.StatusOK {
		p.t.Fatalf("enroll: %d %s", status, body)
	}
	d := &testDevice{t: p.t, key: key, base: p.url}
	if err := json.Unmarshal(body, &d.resp); err != nil {
		p.t.Fatal(err)
	}
	d.id = d.resp.DeviceID
	d.client = deviceClient(d.resp, key)
	return d
}

// deviceClient is the mTLS client of an enrolled device.
func deviceClient(r portal.EnrollResponse, key *ecdsa.PrivateKey) *http.Client {
	ca, _ := x509.ParseCertificate(r.CA)
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	cfg := &tls.Config{
		MinVersion:   tls.VersionTLS13,
		RootCAs:      pool,
		Certificates: []tls.Certificate{{Certificate: [][]byte{r.Certificate}, PrivateKey: key}},
	}
	return &http.Client{Transport: &http.Transport{TLSClientConfig: cfg}, Timeout: 30 * time.Second}
}

// do sends a request and returns the answer with its body read.
func (d *testDevice) do(method, path string, hdr http.Header, body []byte) (*http.Response, []byte) {
	d.t.Helper()
	var r io.Reader
	if body != nil {
		r = bytes.NewReader(body)
	}
	req, err := http.NewRequest(method, d.base+path, r)
	if err != nil {
		d.t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		d.t.Fatalf("%s %s: reading answer: %v", method, path, err)
	}
	return resp, b
}

// getJSON GETs path and decodes a 200 answer into v.
func (d *testDevice) getJSON(path string, v any) {
	d.t.Helper()
	resp, body := d.do(http.MethodGet, path, nil, nil)
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if err := json.Unmarshal(body, v); err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
}

// pull reads one page of the change feed.
func (d *testDevice) pull(cursor string, limit int) portal.ChangesPage {
	d.t.Helper()
	var page portal.ChangesPage
	d.getJSON(fmt.Sprintf("%s?since=%s&limit=%d", portal.PathChanges, url.QueryEscape(cursor), limit), &page)
	return page
}

// pullAll reads the whole feed after cursor and returns the changes and the last cursor.
func (d *testDevice) pullAll(cursor string) ([]portal.Change, string) {
	d.t.Helper()
	var all []portal.Change
	for {
		page := d.pull(cursor, portal.MaxChangesLimit)
		all = append(all, page.Changes...)
		cursor = page.Next
		if !page.More {
			return all, cursor
		}
	}
}

// push sends a batch under a fresh Idempotency-Key and returns the results.
func (d *testDevice) push(ops ...portal.Op) []portal.OpResult {
	d.t.Helper()
	resp, body := d.pushRaw(uuid.NewString(), portal.OpsRequest{Ops: ops})
	if resp.StatusCode != http.StatusOK {
		d.t.Fatalf("POST /v1/ops: %d %s", resp.StatusCode, body)
	}
	var out portal.OpsResponse
	if err := json.Unmarshal(body, &out); err != nil || len(out.Results) != len(ops) {
		d.t.Fatalf("POST /v1/ops: %v, %d results for %d ops", err, len(out.Results), len(ops))
	}
	return out.Results
}

func (d *testDevice) pushRaw(key string, req any) (*http.Response, []byte) {
	d.t.Helper()
	body, err := json.Marshal(req)
	if err != nil {
		d.t.Fatal(err)
	}
	hdr := http.Header{"Content-Type": {"application/json"}}
	if key != "" {
		hdr.Set(portal.HeaderIdempotencyKey, key)
	}
	return d.do(http.MethodPost, portal.PathOps, hdr, body)
}

// problemOf decodes a problem answer and checks its status, type and media type.
func problemOf(t *testing.T, resp *http.Response, body []byte, status int, typ string) portal.Problem {
	t.Helper()
	var p portal.Problem
	if resp.StatusCode != status || resp.Header.Get("Content-Type") != portal.MediaTypeProblem {
		t.Fatalf("want %d %s, got %d %s: %s", status, typ, resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	if err := json.Unmarshal(body, &p); err != nil || p.Type != typ || p.Status != status || p.Title == "" {
		t.Fatalf("want problem %s, got %s (%v)", typ, body, err)
	}
	return p
}

// newAnmeldung returns a valid new residence registration and its create op.
func newAnmeldung(t *testing.T, family string) (*cases.Case, portal.Op) {
	t.Helper()
	s, err := assets.Schemas{}.Schema("anmeldung")
	if err != nil {
		t.Fatal(err)
	}
	c, err := s.NewCase(time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"familienname": family, "vornamen": "Anna", "geburtsdatum": "1985-04-12", "geburtsort": "Köln",
		"neue_wohnung.strasse": "Lindenstraße", "neue_wohnung.hausnummer": "12", "neue_wohnung.plz": "50667",
		"neue_wohnung.ort": "Köln", "einzugsdatum": "2026-01-15", "wohnungsstatus": "alleinige",
		"telefon": "0221 123456",
	} {
		c.Values[k] = v
	}
	s.FillApplicant(c)
	return c, portal.Op{OpID: uuid.NewString(), CaseID: c.ID, Kind: server.KindCreate, Service: c.Service,
		Patch: cases.Diff(nil, c), User: "m.schulz", Created: c.Created}
}

// patchOp returns an op changing fields of a case: field → [old, new].
func patchOp(caseID string, base int64, kind string, changes map[string][2]string) portal.Op {
	op := portal.Op{OpID: uuid.NewString(), CaseID: caseID, BaseRevision: base, Kind: kind, User: "m.schulz", Created: time.Now()}
	for f, on := range changes {
		op.Patch = append(op.Patch, cases.FieldChange{Field: f, Old: on[0], New: on[1]})
	}
	return op
}

func decodeCase(t *testing.T, raw json.RawMessage) *cases.Case {
	t.Helper()
	var c cases.Case
	if err := json.Unmarshal(raw, &c); err != nil {
		t.Fatalf("case JSON: %v: %s", err, raw)
	}
	return &c
}

// checkLogClean fails if the log holds any of the secrets.
func checkLogClean(t *testing.T, logs string, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(logs, s) {
			t.Errorf("the log contains %q", s)
		}
	}
}

func contains(body []byte, s string) bool { return bytes.Contains(body, []byte(s)) }

func mustJSON(t *testing.T, body []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(body, v); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
}

func sha256hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
