package server

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"fieldoffice/portal"
)

// Request body limits.
const (
	maxEnrollBody = 64 << 10
	maxActionBody = 16 << 10
	maxOpsBody    = 32 << 20
	maxIdemKeyLen = 200
)

// api is the device API (/v1) over a store.
type api struct {
	store *Store
	log   *slog.Logger
}

var _ http.Handler = (*api)(nil)

// handlerFunc is a handler of an authenticated device call.
type handlerFunc func(w http.ResponseWriter, r *http.Request, d Device)

// ServeHTTP routes by path and method. Every route but enrollment needs the client
// certificate of a known, unrevoked device.
func (a *api) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch p := r.URL.Path; {
	case p == portal.PathEnroll:
		if allow(w, r, http.MethodPost) {
			a.enroll(w, r)
		}
	case p == portal.PathPolicy:
		a.device(w, r, map[string]handlerFunc{http.MethodGet: a.policy})
	case p == portal.PathForms:
		a.device(w, r, map[string]handlerFunc{http.MethodGet: a.forms})
	case p == portal.PathDevice:
		a.device(w, r, map[string]handlerFunc{http.MethodGet: a.deviceInfo})
	case p == portal.PathDeviceCertificate:
		a.device(w, r, map[string]handlerFunc{http.MethodPost: a.rotateCert})
	case strings.HasPrefix(p, portal.PathDeviceActions):
		a.device(w, r, map[string]handlerFunc{http.MethodPost: a.reportAction})
	case p == portal.PathChanges:
		a.device(w, r, map[string]handlerFunc{http.MethodGet: a.changes})
	case p == portal.PathOps:
		a.device(w, r, map[string]handlerFunc{http.MethodPost: a.ops})
	case strings.HasPrefix(p, portal.PathBlobs):
		a.device(w, r, map[string]handlerFunc{http.MethodHead: a.blobHead, http.MethodGet: a.blobGet, http.MethodPut: a.blobPut})
	default:
		writeProblem(w, r, newProblem(http.StatusNotFound, portal.ProblemNotFound, "no such endpoint"))
	}
}

// allow answers 405 unless r's method is one of methods.
func allow(w http.ResponseWriter, r *http.Request, methods ...string) bool {
	if slices.Contains(methods, r.Method) {
		return true
	}
	w.Header().Set("Allow", strings.Join(methods, ", "))
	writeProblem(w, r, newProblem(http.StatusMethodNotAllowed, portal.ProblemBadRequest, "method "+r.Method+" not allowed here"))
	return false
}

// device checks the method, authenticates the device and calls the handler.
func (a *api) device(w http.ResponseWriter, r *http.Request, handlers map[string]handlerFunc) {
	methods := make([]string, 0, len(handlers))
	for m := range handlers {
		methods = append(methods, m)
	}
	slices.Sort(methods)
	if !allow(w, r, methods...) {
		return
	}
	d, pending, p := a.authenticate(r)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	setPendingActions(w, pending)
	handlers[r.Method](w, r, d)
}

// setPendingActions sets the Device-Actions header: how many remote actions wait.
func setPendingActions(w http.ResponseWriter, n int) {
	w.Header().Set(portal.HeaderDeviceActions, strconv.Itoa(n))
}

// clientSerial returns the serial number (hex) of the verified client certificate.
func clientSerial(r *http.Request) string {
	return r.TLS.VerifiedChains[0][0].SerialNumber.Text(16)
}

// authenticate finds the device of the verified client certificate: its subject CN is
// the device ID, its serial number the current one (issued at enrollment or the last
// rotation) or, until the device first uses the current one, the one before it. It
// returns the device and the number of its pending remote actions.
func (a *api) authenticate(r *http.Request) (Device, int, *portal.Problem) {
	if r.TLS == nil || len(r.TLS.VerifiedChains) == 0 || len(r.TLS.VerifiedChains[0]) == 0 {
		return Device{}, 0, newProblem(http.StatusUnauthorized, portal.ProblemUnauthenticated, "this call needs the device's client certificate (enroll first)")
	}
	leaf := r.TLS.VerifiedChains[0][0]
	serial := leaf.SerialNumber.Text(16)
	d, pending, err := a.store.authDevice(leaf.Subject.CommonName)
	switch {
	case errors.Is(err, ErrNotFound), err == nil && serial != d.CertSerial && (d.PrevCertSerial == "" || serial != d.PrevCertSerial):
		return Device{}, 0, newProblem(http.StatusUnauthorized, portal.ProblemUnauthenticated, "the client certificate belongs to no enrolled device")
	case err != nil:
		return Device{}, 0, errorProblem(a.log, r, err)
	}
	infoOf(r).device = d.ID
	switch {
	case d.IsWiped():
		return Device{}, 0, newProblem(http.StatusForbidden, portal.ProblemDeviceRevoked, "this device reported its remote wipe: forget the enrollment")
	case d.IsRevoked():
		return Device{}, 0, newProblem(http.StatusForbidden, portal.ProblemDeviceRevoked, "this device was revoked: wipe the local store")
	}
	a.store.touchDevice(d, serial)
	return d, pending, nil
}

// decodeBody reads at most limit bytes of JSON into v.
func decodeBody(w http.ResponseWriter, r *http.Request, limit int64, v any) ([]byte, *portal.Problem) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		return nil, newProblem(http.StatusRequestEntityTooLarge, portal.ProblemTooLarge, fmt.Sprintf("request body above %d bytes", limit))
	case err != nil:
		return nil, newProblem(http.StatusBadRequest, portal.ProblemBadRequest, "reading the request body failed")
	}
	if err := json.Unmarshal(body, v); err != nil {
		return nil, newProblem(http.StatusBadRequest, portal.ProblemBadRequest, "request body is not the expected JSON: "+err.Error())
	}
	return body, nil
}

func (a *api) enroll(w http.ResponseWriter, r *http.Request) {
	var req portal.EnrollRequest
	if _, p := decodeBody(w, r, maxEnrollBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	resp, err := a.store.Enroll(req)
	if err != nil {
		if errors.Is(err, ErrInvalidToken) || errors.Is(err, ErrSoftwareKey) || errors.Is(err, ErrBadCSR) {
			a.log.Info("enrollment refused", "reason", err.Error()) // never the secret
		}
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	infoOf(r).device = resp.DeviceID
	writeJSON(w, r, http.StatusOK, resp)
}

// policy answers GET /v1/policy and records the version the device now holds (a
// 304 means it holds the current one).
func (a *api) policy(w http.ResponseWriter, r *http.Request, d Device) {
	p, err := a.store.Policy()
	if err != nil {
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	etag := `"policy-` + strconv.Itoa(p.Version) + `"`
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	a.store.notePolicy(d, p.Version)
	if notModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, r, http.StatusOK, p)
}

func (a *api) forms(w http.ResponseWriter, r *http.Request, _ Device) {
	forms, etag := a.store.Forms()
	w.Header().Set("ETag", etag)
	w.Header().Set("Cache-Control", "no-cache")
	if notModified(r, etag) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	writeJSON(w, r, http.StatusOK, portal.FormsResponse{Forms: forms})
}

func (a *api) deviceInfo(w http.ResponseWriter, r *http.Request, d Device) {
	info, err := a.store.DeviceInfo(d)
	if err != nil {
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	writeJSON(w, r, http.StatusOK, info)
}

// reportAction answers POST /v1/device/actions/{id}: the device reports the outcome
// of a remote action (204). The Device-Actions header then counts what is left.
func (a *api) reportAction(w http.ResponseWriter, r *http.Request, d Device) {
	id := strings.TrimPrefix(r.URL.Path, portal.PathDeviceActions)
	if id == "" || strings.Contains(id, "/") {
		writeProblem(w, r, newProblem(http.StatusNotFound, portal.ProblemNotFound, "want /v1/device/actions/{action ID}"))
		return
	}
	var res portal.ActionResult
	if _, p := decodeBody(w, r, maxActionBody, &res); p != nil {
		writeProblem(w, r, p)
		return
	}
	if _, err := a.store.ReportAction(d.ID, id, res); err != nil {
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	if n, err := a.store.PendingActions(d.ID); err == nil {
		setPendingActions(w, n)
	}
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusNoContent)
}

// rotateCert answers POST /v1/device/certificate with a new client certificate for
// the calling device.
func (a *api) rotateCert(w http.ResponseWriter, r *http.Request, d Device) {
	var req portal.CertificateRequest
	if _, p := decodeBody(w, r, maxEnrollBody, &req); p != nil {
		writeProblem(w, r, p)
		return
	}
	resp, err := a.store.RotateCertificate(d, clientSerial(r), req)
	if err != nil {
		if errors.Is(err, ErrSoftwareKey) || errors.Is(err, ErrBadCSR) {
			a.log.Info("certificate request refused", "device", d.ID, "reason", err.Error())
		}
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	writeJSON(w, r, http.StatusOK, resp)
}

func (a *api) changes(w http.ResponseWriter, r *http.Request, _ Device) {
	q := r.URL.Query()
	since, err := portal.ParseCursor(q.Get("since"))
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusBadRequest, portal.ProblemBadRequest, "since: not a cursor of this portal"))
		return
	}
	limit := portal.DefaultChangesLimit
	if s := q.Get("limit"); s != "" {
		if limit, err = strconv.Atoi(s); err != nil || limit < 1 {
			writeProblem(w, r, newProblem(http.StatusBadRequest, portal.ProblemBadRequest, "limit: want a whole number ≥ 1"))
			return
		}
	}
	page, err := a.store.Changes(since, limit)
	if err != nil {
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	writeJSON(w, r, http.StatusOK, page)
}

// ops answers POST /v1/ops. The Idempotency-Key is scoped to the device: the same key
// with the same body (SHA-256) replays the recorded answer byte for byte (header
// Idempotency-Replayed: true); with another body it is a 409 conflict. A batch of the
// same key is processed once at a time.
func (a *api) ops(w http.ResponseWriter, r *http.Request, d Device) {
	key := r.Header.Get(portal.HeaderIdempotencyKey)
	if key == "" || len(key) > maxIdemKeyLen || strings.ContainsFunc(key, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
		writeProblem(w, r, newProblem(http.StatusBadRequest, portal.ProblemBadRequest, fmt.Sprintf("header %s: want 1 to %d visible ASCII characters (a UUID)", portal.HeaderIdempotencyKey, maxIdemKeyLen)))
		return
	}
	var req portal.OpsRequest
	body, p := decodeBody(w, r, maxOpsBody, &req)
	if p != nil {
		writeProblem(w, r, p)
		return
	}
	sum := sha256.Sum256(body)
	bodySHA := hex.EncodeToString(sum[:])
	unlock := a.store.locks.Lock("idem\x00" + d.ID + "\x00" + key)
	defer unlock()
	if rec, found, err := a.store.idempotent(d.ID, key); err != nil {
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	} else if found {
		a.replay(w, r, rec, bodySHA)
		return
	}
	if p := checkBatch(req); p != nil {
		writeProblem(w, r, p)
		return
	}
	results, err := a.store.ApplyOps(d.ID, req.Ops)
	if err != nil {
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	resp, err := json.Marshal(portal.OpsResponse{Results: results})
	if err == nil {
		err = a.store.recordIdempotent(d.ID, key, idemRecord{BodySHA: bodySHA, Response: resp, Created: a.store.now().UTC()})
	}
	if err != nil {
		// The ops are applied and recorded; a retry answers them as duplicates.
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	logOpResults(a.log, d.ID, results)
	writeJSONBytes(w, http.StatusOK, resp)
}

// logOpResults logs how many ops of a batch ended how (never their content).
func logOpResults(log *slog.Logger, deviceID string, results []portal.OpResult) {
	n := map[string]int{}
	for _, r := range results {
		n[r.Status]++
	}
	log.Info("ops", "device", deviceID, "applied", n[portal.ResultApplied], "duplicate", n[portal.ResultDuplicate],
		"conflict", n[portal.ResultConflict], "rejected", n[portal.ResultRejected])
}

func (a *api) replay(w http.ResponseWriter, r *http.Request, rec idemRecord, bodySHA string) {
	if rec.BodySHA != bodySHA {
		writeProblem(w, r, newProblem(http.StatusConflict, portal.ProblemConflict,
			"this Idempotency-Key was used for another request body; use a new key for a new batch"))
		return
	}
	w.Header().Set("Idempotency-Replayed", "true")
	writeJSONBytes(w, http.StatusOK, rec.Response)
}

// checkBatch checks the batch's size and every op's form before any is applied.
func checkBatch(req portal.OpsRequest) *portal.Problem {
	if len(req.Ops) > portal.MaxOpsPerBatch {
		return newProblem(http.StatusRequestEntityTooLarge, portal.ProblemTooLarge,
			fmt.Sprintf("%d ops in one batch, at most %d", len(req.Ops), portal.MaxOpsPerBatch))
	}
	for i, op := range req.Ops {
		if err := CheckOp(op); err != nil {
			return newProblem(http.StatusBadRequest, portal.ProblemBadRequest, fmt.Sprintf("ops[%d]: %v", i, err))
		}
	}
	return nil
}

// --- blobs --------------------------------------------------------------------------

// blobSHA returns the address of a blob URL, or answers 404.
func blobSHA(w http.ResponseWriter, r *http.Request) (string, bool) {
	sha := strings.TrimPrefix(r.URL.Path, portal.PathBlobs)
	if !ValidSHA256(sha) {
		writeProblem(w, r, newProblem(http.StatusNotFound, portal.ProblemNotFound, "a blob address is 64 lowercase hex digits (SHA-256)"))
		return "", false
	}
	return sha, true
}

func setBlobHeaders(w http.ResponseWriter, st BlobState) {
	w.Header().Set(portal.HeaderBlobReceived, strconv.FormatInt(st.Received, 10))
	w.Header().Set(portal.HeaderBlobComplete, strconv.FormatBool(st.Complete))
}

// blobHead answers how much of a blob the portal holds: 404 for nothing, else 200
// with Blob-Received and Blob-Complete (and Content-Length when complete).
func (a *api) blobHead(w http.ResponseWriter, r *http.Request, _ Device) {
	sha, ok := blobSHA(w, r)
	if !ok {
		return
	}
	st, err := a.store.blobs.state(sha)
	switch {
	case err != nil:
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	case !st.Exists:
		writeProblem(w, r, newProblem(http.StatusNotFound, portal.ProblemNotFound, "the portal holds nothing of this blob"))
		return
	}
	setBlobHeaders(w, st)
	if st.Complete {
		w.Header().Set("Content-Length", strconv.FormatInt(st.Received, 10))
		w.Header().Set("Accept-Ranges", "bytes")
		w.Header().Set("ETag", `"`+sha+`"`)
	}
	w.WriteHeader(http.StatusOK)
}

// blobPut appends Content-Range "bytes START-END/TOTAL" to the upload ("bytes */TOTAL"
// with an empty body only finishes an upload whose bytes are all there, or an empty
// blob). Answers 204 with Blob-Received and Blob-Complete.
func (a *api) blobPut(w http.ResponseWriter, r *http.Request, _ Device) {
	sha, ok := blobSHA(w, r)
	if !ok {
		return
	}
	start, n, total, err := parseContentRange(r.Header.Get("Content-Range"))
	if err == nil {
		err = checkUploadHeaders(r, n, total)
	}
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusBadRequest, portal.ProblemBadRequest, err.Error()))
		return
	}
	policy, err := a.store.Policy()
	if err != nil {
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	if total > policy.MaxAttachmentBytes {
		writeProblem(w, r, newProblem(http.StatusRequestEntityTooLarge, portal.ProblemTooLarge,
			fmt.Sprintf("blob of %d bytes, the policy allows %d", total, policy.MaxAttachmentBytes)))
		return
	}
	st, err := a.store.blobs.put(sha, start, n, total, r.Body)
	setBlobHeaders(w, st)
	if err != nil {
		if !errors.Is(err, ErrUploadOffset) && !errors.Is(err, ErrHashMismatch) && st.Exists {
			// The body ended early (a dropped connection): the bytes are kept.
			a.log.Info("upload interrupted", "path", r.URL.Path, "received", st.Received)
			writeProblem(w, r, newProblem(http.StatusBadRequest, portal.ProblemBadRequest, err.Error()))
			return
		}
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// checkUploadHeaders checks that Blob-Size (if sent) says total and Content-Length (if
// known) is the range's length.
func checkUploadHeaders(r *http.Request, n, total int64) error {
	if s := r.Header.Get(portal.HeaderBlobSize); s != "" {
		if size, err := strconv.ParseInt(s, 10, 64); err != nil || size != total {
			return fmt.Errorf("%s %q does not match the Content-Range total %d", portal.HeaderBlobSize, s, total)
		}
	}
	if r.ContentLength >= 0 && r.ContentLength != n {
		return fmt.Errorf("header Content-Length %d does not match the Content-Range length %d", r.ContentLength, n)
	}
	return nil
}

// parseContentRange parses "bytes START-END/TOTAL" (START ≤ END < TOTAL) into the
// start, length and total of the part, or "bytes */TOTAL" (no bytes) into start =
// total, length 0: all TOTAL bytes must be there already, and the upload is finished.
func parseContentRange(h string) (start, n, total int64, err error) {
	bad := fmt.Errorf("header Content-Range %q: want \"bytes START-END/TOTAL\" or \"bytes */TOTAL\"", h)
	spec, ok := strings.CutPrefix(h, "bytes ")
	if !ok {
		return 0, 0, 0, bad
	}
	rng, tot, ok := strings.Cut(spec, "/")
	if !ok {
		return 0, 0, 0, bad
	}
	if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total < 0 {
		return 0, 0, 0, bad
	}
	if rng == "*" {
		return total, 0, total, nil // finish: everything must be there
	}
	a, b, ok := strings.Cut(rng, "-")
	if !ok {
		return 0, 0, 0, bad
	}
	start, err1 := strconv.ParseInt(a, 10, 64)
	end, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || start < 0 || end < start || end >= total {
		return 0, 0, 0, bad
	}
	return start, end - start + 1, total, nil
}

// blobGet sends a complete blob, or with Range: bytes=A-B, A- or -N one part of it
// (206; 416 when it lies outside the blob). Several ranges are answered with the whole
// blob.
func (a *api) blobGet(w http.ResponseWriter, r *http.Request, _ Device) {
	sha, ok := blobSHA(w, r)
	if !ok {
		return
	}
	f, size, err := a.store.blobs.open(sha)
	if err != nil {
		writeProblem(w, r, errorProblem(a.log, r, err))
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Accept-Ranges", "bytes")
	h.Set("ETag", `"`+sha+`"`)
	h.Set("Content-Type", "application/octet-stream")
	h.Set("Cache-Control", "private, max-age=31536000, immutable")
	start, length, status := int64(0), size, http.StatusOK
	if rh := r.Header.Get("Range"); rh != "" && !strings.Contains(rh, ",") {
		var ok bool
		if start, length, ok = parseRange(rh, size); !ok {
			h.Set("Content-Range", fmt.Sprintf("bytes */%d", size))
			writeProblem(w, r, newProblem(http.StatusRequestedRangeNotSatisfiable, portal.ProblemRangeUnsatisfied,
				fmt.Sprintf("range %q lies outside the blob of %d bytes", rh, size)))
			return
		}
		status = http.StatusPartialContent
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+length-1, size))
	}
	h.Set("Content-Length", strconv.FormatInt(length, 10))
	w.WriteHeader(status)
	if _, err := io.Copy(w, io.NewSectionReader(f, start, length)); err != nil {
		a.log.Info("download interrupted", "path", r.URL.Path, "err", err)
	}
}

// parseRange parses one "bytes=A-B", "bytes=A-" or "bytes=-N" against size; ok is
// false when it is malformed or unsatisfiable.
func parseRange(h string, size int64) (start, length int64, ok bool) {
	spec, found := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	a, b, dash := strings.Cut(spec, "-")
	if !found || !dash {
		return 0, 0, false
	}
	if a == "" { // suffix: the last N bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		n = min(n, size)
		return size - n, n, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first < 0 || first >= size {
		return 0, 0, false
	}
	last := size - 1
	if b != "" {
		if last, err = strconv.ParseInt(b, 10, 64); err != nil || last < first {
			return 0, 0, false
		}
		last = min(last, size-1)
	}
	return first, last - first + 1, true
}
