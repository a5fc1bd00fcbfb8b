package server

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"fieldoffice/portal"
)

// problemTitles are the titles of the problem types (RFC 9457 "title": the same for
// every occurrence of a type).
var problemTitles = map[string]string{
	portal.ProblemBadRequest:       "Bad request",
	portal.ProblemInvalidToken:     "Enrollment token invalid",
	portal.ProblemUnauthenticated:  "Client certificate required",
	portal.ProblemDeviceRevoked:    "Device revoked",
	portal.ProblemSoftwareKey:      "Software keys not allowed",
	portal.ProblemNotFound:         "Not found",
	portal.ProblemConflict:         "Conflict",
	portal.ProblemUploadOffset:     "Upload offset mismatch",
	portal.ProblemHashMismatch:     "Hash mismatch",
	portal.ProblemTooLarge:         "Too large",
	portal.ProblemRangeUnsatisfied: "Range not satisfiable",
	portal.ProblemRateLimited:      "Too many requests",
	portal.ProblemUnavailable:      "Service unavailable",
	portal.ProblemInternal:         "Internal error",
}

// newProblem returns a problem of type typ with its title.
func newProblem(status int, typ, detail string) *portal.Problem {
	return &portal.Problem{Type: typ, Title: problemTitles[typ], Status: status, Detail: detail}
}

// writeProblem sends p as application/problem+json; Instance is the request path.
func writeProblem(w http.ResponseWriter, r *http.Request, p *portal.Problem) {
	if p.Instance == "" {
		p.Instance = r.URL.Path
	}
	body, err := json.Marshal(p)
	if err != nil {
		body = []byte(`{"type":"` + portal.ProblemInternal + `","title":"Internal error","status":500}`)
		p.Status = http.StatusInternalServerError
	}
	h := w.Header()
	h.Set("Content-Type", portal.MediaTypeProblem)
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(p.Status)
	if r.Method != http.MethodHead {
		w.Write(body)
	}
}

// errorProblem maps an error of the store to the problem the device sees. Internal
// errors are logged and answered without detail.
func errorProblem(log *slog.Logger, r *http.Request, err error) *portal.Problem {
	var off *OffsetError
	switch {
	case errors.As(err, &off):
		p := newProblem(http.StatusConflict, portal.ProblemUploadOffset, off.Error())
		p.Received = &off.Received
		return p
	case errors.Is(err, ErrInvalidToken):
		return newProblem(http.StatusUnauthorized, portal.ProblemInvalidToken, ErrInvalidToken.Error())
	case errors.Is(err, ErrSoftwareKey):
		return newProblem(http.StatusForbidden, portal.ProblemSoftwareKey, "Die Geräterichtlinie erlaubt keine Software-Schlüssel: das Gerät braucht ein TPM")
	case errors.Is(err, ErrInvalidInput), errors.Is(err, ErrBadCSR), errors.Is(err, ErrCursorAhead):
		return newProblem(http.StatusBadRequest, portal.ProblemBadRequest, err.Error())
	case errors.Is(err, ErrNotFound):
		return newProblem(http.StatusNotFound, portal.ProblemNotFound, err.Error())
	case errors.Is(err, ErrConflict):
		return newProblem(http.StatusConflict, portal.ProblemConflict, err.Error())
	case errors.Is(err, ErrHashMismatch):
		return newProblem(http.StatusUnprocessableEntity, portal.ProblemHashMismatch, "the uploaded bytes do not hash to the blob's address; the upload was discarded, start again at 0")
	case errors.Is(err, ErrTooLarge):
		return newProblem(http.StatusRequestEntityTooLarge, portal.ProblemTooLarge, err.Error())
	}
	log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	return newProblem(http.StatusInternalServerError, portal.ProblemInternal, "")
}

// writeJSON sends v as application/json with status.
func writeJSON(w http.ResponseWriter, r *http.Request, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		writeProblem(w, r, newProblem(http.StatusInternalServerError, portal.ProblemInternal, ""))
		return
	}
	writeJSONBytes(w, status, body)
}

func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	if h.Get("Cache-Control") == "" {
		h.Set("Cache-Control", "no-store")
	}
	w.WriteHeader(status)
	w.Write(body)
}

// notModified reports whether If-None-Match names etag (or is "*").
func notModified(r *http.Request, etag string) bool {
	inm := r.Header.Get("If-None-Match")
	if inm == "" {
		return false
	}
	for _, t := range strings.Split(inm, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == etag {
			return true
		}
	}
	return false
}

// --- request log --------------------------------------------------------------------

// reqInfo is what the request log learns while a request runs.
type reqInfo struct {
	device string
}

type reqInfoKey struct{}

func infoOf(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{}
}

// recorder remembers the status and size of an answer.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *recorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *recorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection.
func (w *recorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests logs one line per request: method, path (never the query), status,
// device ID, duration and bytes sent. Nothing of the request or answer body.
func logRequests(log *slog.Logger, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{}
		rec := &recorder{ResponseWriter: w}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				log.Error("handler panic", "method", r.Method, "path", r.URL.Path, "panic", v)
				if rec.status == 0 {
					writeProblem(rec, r, newProblem(http.StatusInternalServerError, portal.ProblemInternal, ""))
				}
			}
			status := rec.status
			if status == 0 {
				status = http.StatusOK
			}
			log.LogAttrs(r.Context(), slog.LevelInfo, "request",
				slog.String("method", r.Method), slog.String("path", r.URL.Path), slog.Int("status", status),
				slog.String("device", info.device), slog.Duration("duration", time.Since(start)), slog.Int64("bytes", rec.bytes))
		}()
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info)))
	})
}
