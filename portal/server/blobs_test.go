package server_test

import (
	"crypto/rand"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"testing"
	"time"

	"fieldoffice/cases"
	"fieldoffice/portal"
	"fieldoffice/portal/server"
)

// putPart uploads data[start:end] of a blob of len(data) bytes.
func (d *testDevice) putPart(sha string, data []byte, start, end int) (*http.Response, []byte) {
	d.t.Helper()
	hdr := http.Header{
		"Content-Range":       {fmt.Sprintf("bytes %d-%d/%d", start, end-1, len(data))},
		portal.HeaderBlobSize: {strconv.Itoa(len(data))},
		"Content-Type":        {"application/octet-stream"},
	}
	return d.do(http.MethodPut, portal.PathBlobs+sha, hdr, data[start:end])
}

// head returns what the portal says it holds of sha (status, received, complete).
func (d *testDevice) head(sha string) (int, int64, bool) {
	d.t.Helper()
	resp, _ := d.do(http.MethodHead, portal.PathBlobs+sha, nil, nil)
	n, _ := strconv.ParseInt(resp.Header.Get(portal.HeaderBlobReceived), 10, 64)
	return resp.StatusCode, n, resp.Header.Get(portal.HeaderBlobComplete) == "true"
}

func blobState(t *testing.T, resp *http.Response, body []byte, received int64, complete bool) {
	t.Helper()
	if resp.StatusCode != http.StatusNoContent || resp.Header.Get(portal.HeaderBlobReceived) != strconv.FormatInt(received, 10) ||
		resp.Header.Get(portal.HeaderBlobComplete) != strconv.FormatBool(complete) {
		t.Fatalf("want 204 received %d complete %v, got %d %v: %s", received, complete, resp.StatusCode, resp.Header, body)
	}
}

// dropUpload starts a PUT of data[start:end] on a raw connection, sends only the
// first sent bytes of the part and closes the connection.
func (d *testDevice) dropUpload(sha string, data []byte, start, end, sent int) {
	d.t.Helper()
	u, _ := url.Parse(d.base)
	cfg := d.client.Transport.(*http.Transport).TLSClientConfig.Clone()
	conn, err := tls.Dial("tcp", u.Host, cfg)
	if err != nil {
		d.t.Fatal(err)
	}
	fmt.Fprintf(conn, "PUT %s%s HTTP/1.1\r\nHost: %s\r\nContent-Range: bytes %d-%d/%d\r\nContent-Length: %d\r\n\r\n",
		portal.PathBlobs, sha, u.Host, start, end-1, len(data), end-start)
	if _, err := conn.Write(data[start : start+sent]); err != nil {
		d.t.Fatal(err)
	}
	conn.Close()
}

func TestBlobs(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	data := make([]byte, 3000)
	rand.Read(data)
	sha := sha256hex(data)

	if status, _, _ := d.head(sha); status != http.StatusNotFound {
		t.Fatalf("HEAD of an unknown blob: %d", status)
	}
	resp, body := d.putPart(sha, data, 0, 1000)
	blobState(t, resp, body, 1000, false)
	if status, n, complete := d.head(sha); status != 200 || n != 1000 || complete {
		t.Fatalf("HEAD after part 1: %d %d %v", status, n, complete)
	}
	// Not where the portal's copy ends: 409 with Received.
	resp, body = d.putPart(sha, data, 500, 1500)
	if pr := problemOf(t, resp, body, http.StatusConflict, portal.ProblemUploadOffset); pr.Received == nil || *pr.Received != 1000 {
		t.Fatalf("offset problem %+v", pr)
	}
	// "bytes */TOTAL" before all bytes are there: 409 too.
	resp, body = d.do(http.MethodPut, portal.PathBlobs+sha, http.Header{"Content-Range": {"bytes */3000"}}, nil)
	problemOf(t, resp, body, http.StatusConflict, portal.ProblemUploadOffset)

	// A connection dropped in the middle of part 2 keeps what arrived; the device
	// resumes from there.
	d.dropUpload(sha, data, 1000, 2000, 400)
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, n, _ := d.head(sha)
		if n == 1400 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the dropped upload the portal holds %d bytes, want 1400", n)
		}
		time.Sleep(5 * time.Millisecond)
	}
	resp, body = d.putPart(sha, data, 1400, 3000)
	blobState(t, resp, body, 3000, true)
	if status, n, complete := d.head(sha); status != 200 || n != 3000 || !complete {
		t.Fatalf("HEAD when complete: %d %d %v", status, n, complete)
	}
	resp, body = d.putPart(sha, data, 0, 3000) // again: nothing to do
	blobState(t, resp, body, 3000, true)

	// Downloads, whole and in ranges.
	resp, body = d.do(http.MethodGet, portal.PathBlobs+sha, nil, nil)
	if resp.StatusCode != 200 || string(body) != string(data) || resp.Header.Get("ETag") != `"`+sha+`"` {
		t.Fatalf("GET: %d, %d bytes", resp.StatusCode, len(body))
	}
	for _, tc := range []struct {
		rng          string
		status       int
		from, to     int
		contentRange string
	}{
		{"bytes=10-19", 206, 10, 20, "bytes 10-19/3000"},
		{"bytes=2990-", 206, 2990, 3000, "bytes 2990-2999/3000"},
		{"bytes=-5", 206, 2995, 3000, "bytes 2995-2999/3000"},
		{"bytes=2000-99999", 206, 2000, 3000, "bytes 2000-2999/3000"},
		{"bytes=0-1,5-6", 200, 0, 3000, ""},
		{"bytes=3000-", 416, 0, 0, "bytes */3000"},
		{"bytes=20-10", 416, 0, 0, "bytes */3000"},
		{"pages=1", 416, 0, 0, "bytes */3000"},
	} {
		resp, body := d.do(http.MethodGet, portal.PathBlobs+sha, http.Header{"Range": {tc.rng}}, nil)
		if resp.StatusCode != tc.status || resp.Header.Get("Content-Range") != tc.contentRange {
			t.Errorf("Range %s: %d %q", tc.rng, resp.StatusCode, resp.Header.Get("Content-Range"))
			continue
		}
		if tc.status == 416 {
			problemOf(t, resp, body, 416, portal.ProblemRangeUnsatisfied)
		} else if string(body) != string(data[tc.from:tc.to]) {
			t.Errorf("Range %s: wrong bytes", tc.rng)
		}
	}

	// Bytes that do not hash to the address: 422, and the upload is gone.
	other := make([]byte, 100)
	wrong := sha256hex([]byte("something else"))
	resp, body = d.putPart(wrong, other, 0, 100)
	problemOf(t, resp, body, http.StatusUnprocessableEntity, portal.ProblemHashMismatch)
	if status, _, _ := d.head(wrong); status != http.StatusNotFound {
		t.Errorf("HEAD after a hash mismatch: %d", status)
	}
	// The empty blob is finished by "bytes */0".
	empty := sha256hex(nil)
	resp, body = d.do(http.MethodPut, portal.PathBlobs+empty, http.Header{"Content-Range": {"bytes */0"}}, nil)
	blobState(t, resp, body, 0, true)

	// Malformed uploads and addresses.
	for name, hdr := range map[string]http.Header{
		"no Content-Range":   {},
		"end before start":   {"Content-Range": {"bytes 10-5/100"}},
		"end beyond total":   {"Content-Range": {"bytes 0-100/100"}},
		"Blob-Size mismatch": {"Content-Range": {"bytes 0-9/100"}, portal.HeaderBlobSize: {"99"}},
		"length mismatch":    {"Content-Range": {"bytes 0-19/100"}},
	} {
		resp, body := d.do(http.MethodPut, portal.PathBlobs+wrong, hdr, make([]byte, 10))
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: %d %s", name, resp.StatusCode, body)
		}
	}
	resp, body = d.do(http.MethodGet, portal.PathBlobs+"ABC", nil, nil)
	problemOf(t, resp, body, http.StatusNotFound, portal.ProblemNotFound)
	resp, body = d.do(http.MethodGet, portal.PathBlobs+wrong, nil, nil)
	problemOf(t, resp, body, http.StatusNotFound, portal.ProblemNotFound)

	// Above the policy's limit: 413.
	if _, err := p.store().SetPolicy(map[string]string{"max_attachment_bytes": "1000"}); err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 1001)
	resp, body = d.putPart(sha256hex(big), big, 0, 100)
	problemOf(t, resp, body, http.StatusRequestEntityTooLarge, portal.ProblemTooLarge)
}

// TestAttachNeedsBlob: an op adding an attachment is rejected until the blob is
// complete on the portal.
func TestAttachNeedsBlob(t *testing.T) {
	p := newPortal(t)
	p.allowSoftwareKeys()
	d := p.enroll()
	c, create := newAnmeldung(t, "Nowak")
	d.push(create)
	data := []byte("%PDF-1.7 Wohnungsgeberbestätigung")
	ref := cases.AttachmentRef{SHA256: sha256hex(data), Name: "wgb.pdf", MediaType: "application/pdf", Size: int64(len(data)), Added: time.Now().UTC()}
	b, _ := json.Marshal(ref)
	attach := func() portal.OpResult {
		return d.push(patchOp(c.ID, 1, server.KindAttach, map[string][2]string{"attachments." + ref.SHA256: {"", string(b)}}))[0]
	}
	if r := attach(); r.Status != portal.ResultRejected || r.Fields["attachments."+ref.SHA256] != "Anlage wurde noch nicht hochgeladen" {
		t.Fatalf("attach before upload: %+v", r)
	}
	resp, body := d.putPart(ref.SHA256, data, 0, len(data))
	blobState(t, resp, body, int64(len(data)), true)
	r := attach()
	if got := decodeCase(t, r.Case); r.Status != portal.ResultApplied || len(got.Attachments) != 1 || got.Attachments[0].Name != "wgb.pdf" {
		t.Fatalf("attach after upload: %+v", r)
	}
}
