package sync_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/platform"
	"fieldoffice/portal"
	"fieldoffice/portal/server"
	"fieldoffice/portal/servertest"
	"fieldoffice/storage"
	scrypto "fieldoffice/storage/crypto"
	fsync "fieldoffice/sync"
)

// portalHarness is the real reference portal on loopback (portal/servertest), with
// software keys allowed.
type portalHarness struct {
	*servertest.Portal
}

func startPortal(t testing.TB) *portalHarness {
	t.Helper()
	p := &portalHarness{servertest.Start(t)}
	if _, err := p.Store().SetPolicy(map[string]string{"allow_software_keys": "true"}); err != nil {
		t.Fatal(err)
	}
	return p
}

func (p *portalHarness) store() *server.Store { return p.Store() }

func (p *portalHarness) url() string { return p.URL() }

func (p *portalHarness) restart() { p.Restart() }

// device is an enrolled device with its vault (software key, no TPM: the TPM paths
// have their own tests in platform and cli).
type device struct {
	t      testing.TB
	dir    string
	vault  *storage.Vault
	dev    *fsync.Device
	key    platform.DeviceKey
	client *fsync.Client
	eng    *fsync.Engine
}

// fastClient retries quickly: the tests inject faults on purpose.
func fastClient() fsync.ClientConfig {
	return fsync.ClientConfig{Timeout: 5 * time.Second, Retries: 6, RetryWait: 20 * time.Millisecond, RetryMax: 300 * time.Millisecond}
}

// enrollDevice enrolls a new device through url (the portal or a proxy in front).
func enrollDevice(t testing.TB, p *portalHarness, url string) *device {
	t.Helper()
	tok, err := p.store().CreateToken("Bürgerbüro Mitte", time.Hour, url)
	if err != nil {
		t.Fatal(err)
	}
	key, err := platform.NewSoftwareDeviceKey()
	if err != nil {
		t.Fatal(err)
	}
	pemKey, _ := key.MarshalPEM()
	d := &device{t: t, dir: filepath.Join(t.TempDir(), "device"), key: key}
	d.dev, err = fsync.Enroll(context.Background(), fsync.EnrollParams{
		Token: tok.Token, User: "anna", DeviceName: "tablet-07", Key: key, KeyKind: fsync.KeySoftware,
		KeyBlob: pemKey, TPMKind: "none", Client: fastClient(),
	})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := scrypto.ParseRecoveryPublicKey([]byte(d.dev.RecoveryPEM))
	if err != nil {
		t.Fatalf("recovery key from the portal: %v", err)
	}
	d.vault, err = storage.Create(storage.Config{Dir: d.dir, Spec: platform.Spec{Kind: platform.KindNone},
		KDF: scrypto.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}},
		storage.CreateOptions{User: "anna", PIN: []byte("135790"), AllowSoftwareKey: true, RecoveryKey: rec})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.vault.Close() })
	d.vault.SetForms(assets.Schemas{})
	if err := d.dev.Save(d.dir); err != nil {
		t.Fatal(err)
	}
	d.connect(url)
	return d
}

// connect points the device's client at url.
func (d *device) connect(url string) {
	d.t.Helper()
	d.dev.PortalURL = url
	var err error
	if d.client, err = d.dev.Client(d.key, fastClient()); err != nil {
		d.t.Fatal(err)
	}
	d.eng = &fsync.Engine{Vault: d.vault, Client: d.client, Device: d.dev, DataDir: d.dir, PageSize: 50, BatchSize: 20}
}

func (d *device) sync() fsync.Summary {
	d.t.Helper()
	s, err := d.eng.Run(context.Background())
	if err != nil {
		d.t.Fatalf("sync: %v", err)
	}
	return s
}

// syncUntilDone runs syncs until one completes and leaves nothing waiting.
func (d *device) syncUntilDone() {
	d.t.Helper()
	var err error
	for i := 0; i < 30; i++ {
		var s fsync.Summary
		s, err = d.eng.Run(context.Background())
		if err == nil && s.Pending == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	d.t.Fatalf("sync did not converge: %v", err)
}

func (d *device) set(id string, kv ...string) {
	d.t.Helper()
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	if _, err := d.vault.SetFields(id, m); err != nil {
		d.t.Fatal(err)
	}
}

func (d *device) get(id string) *cases.Case {
	d.t.Helper()
	c, err := d.vault.Case(id)
	if err != nil {
		d.t.Fatal(err)
	}
	return c
}

// converged checks that device and portal hold the same cases: values, status,
// notes (each exactly once) and attachments.
func converged(t testing.TB, p *portalHarness, d *device) {
	t.Helper()
	list, err := d.vault.Cases(storage.CaseQuery{})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range list {
		mine := d.get(s.ID)
		theirs, err := p.store().Case(s.ID)
		if err != nil {
			t.Fatalf("case %s not on the portal: %v", s.ID, err)
		}
		if diff := cases.Diff(theirs, mine); len(diff) > 0 {
			t.Fatalf("case %s differs between portal and device: %v", s.ID, diff.Fields())
		}
		noteIDs := map[string]int{}
		for _, n := range theirs.Notes {
			noteIDs[n.ID]++
			if noteIDs[n.ID] > 1 {
				t.Fatalf("note %s twice on the portal", n.ID)
			}
		}
	}
}

func TestE2EEnrollPullEditPush(t *testing.T) {
	p := startPortal(t)
	if n, err := p.store().Seed(120, 7); err != nil || n != 120 {
		t.Fatalf("seed: %d %v", n, err)
	}
	d := enrollDevice(t, p, p.url())
	if f, err := d.dev.Schemas(nil); err != nil || len(d.dev.Forms) != 4 {
		t.Fatalf("forms from enrollment: %d, %v", len(d.dev.Forms), err)
	} else if s, err := f.Schema("personalausweis"); err != nil || s.Workflow == nil {
		t.Fatalf("personalausweis form from the portal: %v", err)
	}
	s := d.sync()
	if s.Pulled != 120 || s.Pushed != 0 {
		t.Fatalf("first sync: %+v", s)
	}
	if st, _ := d.vault.SyncState(); st.Cursor == "" || st.LastSuccess.IsZero() {
		t.Fatalf("sync state: %+v", st)
	}
	if again := d.sync(); again.Pulled != 0 {
		t.Fatalf("second sync pulled %d again", again.Pulled)
	}
	list, _ := d.vault.Cases(storage.CaseQuery{Service: "anmeldung"})
	id := list[0].ID
	before, err := d.vault.Case(id) // the seeded case may have notes and attachments already
	if err != nil {
		t.Fatal(err)
	}

	// Offline work: a field, a note, an attachment, a new case.
	d.set(id, "telefon", "0341 9876543")
	if _, err := d.vault.AddNote(id, "Hausbesuch am Dienstag"); err != nil {
		t.Fatal(err)
	}
	blob := make([]byte, 700<<10)
	rand.Read(blob)
	info, err := d.vault.PutDraftBlob(bytes.NewReader(blob), 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.vault.AddAttachment(id, cases.AttachmentRef{SHA256: info.SHA256, Name: "Meldeschein.pdf", MediaType: "application/pdf", Size: info.Size}); err != nil {
		t.Fatal(err)
	}
	nc, err := d.vault.NewCase("bewohnerparkausweis", map[string]string{"familienname": "Öztürk", "vornamen": "Katrin"})
	if err != nil {
		t.Fatal(err)
	}
	s = d.sync()
	if s.Pushed != 4 || s.BlobsUp != 1 || s.Pending != 0 || s.Conflicts != 0 || s.Rejected != 0 {
		for _, cid := range []string{id, nc.ID} {
			rej, _ := d.vault.Rejections(cid)
			t.Logf("rejections of %s: %+v", cid, rej)
		}
		t.Fatalf("push: %+v", s)
	}
	pc, err := p.store().Case(id)
	if err != nil || pc.Values["telefon"] != "0341 9876543" || len(pc.Notes) != len(before.Notes)+1 ||
		pc.Notes[len(pc.Notes)-1].Text != "Hausbesuch am Dienstag" ||
		len(pc.Attachments) != len(before.Attachments)+1 || pc.Attachments[len(pc.Attachments)-1].SHA256 != info.SHA256 {
		t.Fatalf("portal case after push (before: %d notes, %d attachments): %+v %v", len(before.Notes), len(before.Attachments), pc, err)
	}
	if _, err := p.store().Case(nc.ID); err != nil {
		t.Fatalf("new case not on the portal: %v", err)
	}
	converged(t, p, d)
	if sum := d.vault; sum != nil {
		if list, _ := d.vault.Cases(storage.CaseQuery{Unsynced: true}); len(list) != 0 {
			t.Errorf("%d cases still unsynced", len(list))
		}
	}

	// A second device gets the case and fetches the attachment on demand.
	d2 := enrollDevice(t, p, p.url())
	d2.sync()
	if err := d2.eng.FetchBlob(context.Background(), info.SHA256); err != nil {
		t.Fatal(err)
	}
	r, _, err := d2.vault.OpenBlob(info.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(got, blob) {
		t.Fatal("attachment differs on the second device")
	}
}

func TestE2EMergeConflictResolve(t *testing.T) {
	p := startPortal(t)
	p.store().Seed(5, 3)
	d := enrollDevice(t, p, p.url())
	d.sync()
	list, _ := d.vault.Cases(storage.CaseQuery{Service: "anmeldung"})
	if len(list) == 0 {
		list, _ = d.vault.Cases(storage.CaseQuery{})
	}
	id := list[0].ID

	// Different fields: merged on both sides.
	d.set(id, "telefon", "030 1111111")
	if _, err := p.store().SetCaseFields(id, map[string]string{"email": "buero@example.org"}); err != nil {
		t.Fatal(err)
	}
	s := d.sync()
	if s.Conflicts != 0 || s.Pushed != 1 {
		t.Fatalf("merge sync: %+v", s)
	}
	if c := d.get(id); c.Values["telefon"] != "030 1111111" || c.Values["email"] != "buero@example.org" {
		t.Fatalf("device after merge: %v", c.Values)
	}
	converged(t, p, d)

	// The same field: conflict, resolved with the device's value.
	d.set(id, "telefon", "030 2222222")
	if _, err := p.store().SetCaseFields(id, map[string]string{"telefon": "030 3333333"}); err != nil {
		t.Fatal(err)
	}
	s = d.sync()
	if s.Conflicts == 0 {
		t.Fatalf("no conflict reported: %+v", s)
	}
	cs, err := d.vault.Conflicts(id)
	if err != nil || len(cs) != 1 || cs[0].Mine != "030 2222222" || cs[0].Theirs != "030 3333333" {
		t.Fatalf("conflicts: %+v %v", cs, err)
	}
	if ids, _ := d.vault.ConflictCases(); !slices.Equal(ids, []string{id}) {
		t.Fatalf("ConflictCases = %v", ids)
	}
	if _, err := d.vault.ResolveConflict(id, "values.telefon", storage.ResolveMine); err != nil {
		t.Fatal(err)
	}
	s = d.sync()
	if s.Conflicts != 0 || s.Pending != 0 {
		t.Fatalf("after resolve: %+v", s)
	}
	if pc, _ := p.store().Case(id); pc.Values["telefon"] != "030 2222222" {
		t.Fatalf("portal after resolve: %q", pc.Values["telefon"])
	}
	converged(t, p, d)

}

// TestE2ERejected: the portal checks the workflow itself; a step the device's role
// may not take is refused, set back on the device and explained.
func TestE2ERejected(t *testing.T) {
	p := startPortal(t)
	d := enrollDevice(t, p, p.url())
	nc, err := d.vault.NewCase("anmeldung", map[string]string{"familienname": "Wagner", "vornamen": "Jan"})
	if err != nil {
		t.Fatal(err)
	}
	id := nc.ID
	d.sync()
	before := d.get(id).Status
	d.set(id, "due_date", "2027-03-01")
	if _, err := d.vault.TransitionCase(id, "zurueckgestellt", "sachbearbeitung"); err != nil {
		t.Fatal(err)
	}
	d.eng.Role = "buergerbuero" // the portal knows this device's user as Bürgerbüro staff
	s := d.sync()
	if s.Rejected != 1 || s.Pushed != 1 || s.Pending != 0 {
		t.Fatalf("sync: %+v", s)
	}
	if c := d.get(id); c.Status != before || c.DueDate != "2027-03-01" {
		t.Fatalf("after the refusal: status %q due %q", c.Status, c.DueDate)
	}
	rej, err := d.vault.Rejections(id)
	if err != nil || len(rej) != 1 || rej[0].Reason == "" {
		t.Fatalf("rejections: %+v %v", rej, err)
	}
	converged(t, p, d)
}

func TestE2ERevoked(t *testing.T) {
	p := startPortal(t)
	d := enrollDevice(t, p, p.url())
	d.sync()
	if _, err := p.store().RevokeDevice(d.dev.DeviceID); err != nil {
		t.Fatal(err)
	}
	_, err := d.eng.Run(context.Background())
	if !errors.Is(err, fsync.ErrRevoked) {
		t.Fatalf("sync of a revoked device: %v", err)
	}
	d.vault.Close()
	rep, err := storage.Wipe(d.dir)
	if err != nil || !rep.Removed {
		t.Fatalf("wipe: %+v %v", rep, err)
	}
	if _, err := os.Stat(filepath.Join(d.dir, storage.FileName)); !errors.Is(err, os.ErrNotExist) {
		t.Fatal("vault still there")
	}
}

func TestE2EEnrollRefusals(t *testing.T) {
	p := startPortal(t)
	tok, _ := p.store().CreateToken("Ordnungsamt", time.Hour, p.url())
	key, _ := platform.NewSoftwareDeviceKey()
	params := fsync.EnrollParams{Token: tok.Token, User: "ben", DeviceName: "laptop-3", Key: key, KeyKind: fsync.KeySoftware, Client: fastClient()}

	// A token whose CA hash is not the portal's: refused before anything is sent.
	pt, err := portal.ParseToken(tok.Token)
	if err != nil {
		t.Fatal(err)
	}
	pt.CASHA256 = strings.Repeat("0", 64)
	params.Token, _ = portal.EncodeToken(pt)
	if _, err := fsync.Enroll(context.Background(), params); err == nil || !strings.Contains(err.Error(), "does not match the enrollment token") {
		t.Fatalf("enroll against a wrong CA pin: %v", err)
	}
	// Software keys refused by the default policy.
	if _, err := p.store().SetPolicy(map[string]string{"allow_software_keys": "false"}); err != nil {
		t.Fatal(err)
	}
	params.Token = tok.Token
	if _, err := fsync.Enroll(context.Background(), params); err == nil {
		t.Fatal("software key enrolled against the policy")
	}
	// A used token cannot enroll twice.
	p.store().SetPolicy(map[string]string{"allow_software_keys": "true"})
	if _, err := fsync.Enroll(context.Background(), params); err != nil {
		t.Fatal(err)
	}
	if _, err := fsync.Enroll(context.Background(), params); err == nil {
		t.Fatal("token used twice")
	}
}

// TestE2ECursorOfAnotherPortal: a cursor the portal does not know (restored backup)
// makes the device pull from the start, without duplicating anything.
func TestE2ECursorOfAnotherPortal(t *testing.T) {
	p := startPortal(t)
	p.store().Seed(10, 9)
	d := enrollDevice(t, p, p.url())
	d.sync()
	if err := d.vault.UpdateSyncState(func(s *storage.SyncState) { s.Cursor = "c999999" }); err != nil {
		t.Fatal(err)
	}
	p.store().Seed(3, 10)
	s := d.sync()
	if s.Pulled != 3 {
		t.Fatalf("pull after an unknown cursor: %+v", s)
	}
	if list, _ := d.vault.Cases(storage.CaseQuery{}); len(list) != 13 {
		t.Fatalf("%d cases on the device", len(list))
	}
	converged(t, p, d)
}

// errAfter is a reader that fails after n bytes (a connection dropped mid-upload).
type errAfter struct {
	r io.Reader
	n int64
}

func (e *errAfter) Read(p []byte) (int, error) {
	if e.n <= 0 {
		return 0, errors.New("connection dropped")
	}
	p = p[:min(int64(len(p)), e.n)]
	n, err := e.r.Read(p)
	e.n -= int64(n)
	return n, err
}

// TestE2EUploadResumes: an upload broken off after 300 KiB continues where the
// portal's copy ends; only the rest is sent.
func TestE2EUploadResumes(t *testing.T) {
	p := startPortal(t)
	d := enrollDevice(t, p, p.url())
	blob := make([]byte, 1<<20)
	rand.Read(blob)
	info, err := d.vault.PutBlob(bytes.NewReader(blob), 0)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := d.client.BlobPut(ctx, info.SHA256, &errAfter{r: bytes.NewReader(blob), n: 300 << 10}, 0, info.Size); err == nil {
		t.Fatal("a broken upload succeeded")
	}
	// Wait until the portal has finished storing what arrived of the broken upload
	// (the same count twice in a row), so the resume below has one offset to start at.
	var st fsync.BlobState
	waitUntil(t, func() bool {
		a, _ := d.client.BlobHead(ctx, info.SHA256)
		time.Sleep(100 * time.Millisecond)
		st, _ = d.client.BlobHead(ctx, info.SHA256)
		return st.Received > 0 && st.Received == a.Received
	})
	var logs lockedBuffer
	d.eng.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	sent, err := d.eng.UploadBlob(ctx, info.SHA256, nil)
	if err != nil {
		t.Fatal(err)
	}
	if sent != info.Size-st.Received || !strings.Contains(logs.String(), "offset="+strconv.FormatInt(st.Received, 10)) {
		t.Fatalf("sent %d of %d after the portal had %d; log: %s", sent, info.Size, st.Received, logs.String())
	}
	got, err := os.ReadFile(filepath.Join(p.Dir, "blobs", info.SHA256))
	if err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("attachment on the portal differs (%v)", err)
	}
}

func waitUntil(t testing.TB, cond func() bool) {
	t.Helper()
	for i := 0; i < 500; i++ {
		if cond() {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("condition never held")
}
