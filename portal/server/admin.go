package server

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"fieldoffice/cases"
	"fieldoffice/portal"
)

// Admin is what the admin commands of portald do. *Store implements it directly on
// portal.db; *AdminClient over the admin socket of a running server. Errors match
// the package's sentinels ([ErrNotFound], [ErrInvalidInput], …) either way; a refused
// case edit is a *[ValidationError].
type Admin interface {
	// CreateToken: see Store.CreateToken.
	CreateToken(office string, ttl time.Duration, portalURL string) (TokenInfo, error)
	Devices() ([]Device, error)
	RevokeDevice(id string) (Device, error)
	Seed(n int, seed int64) (int, error)
	Cases() ([]CaseInfo, error)
	Case(id string) (*cases.Case, error)
	SetCaseFields(id string, fields map[string]string) (*cases.Case, error)
	AssignCase(id, user string) (*cases.Case, error)
	Policy() (portal.Policy, error)
	SetPolicy(changes map[string]string) (portal.Policy, error)
	// DeviceDetails, QueueAction, CancelAction: see the Store methods.
	DeviceDetails(id string) (DeviceDetails, error)
	QueueAction(deviceID, kind string) (DeviceAction, error)
	CancelAction(deviceID, actionID string) (DeviceAction, error)
	RecoveryPublicKey() (string, error)
	// Close releases the store or the connection.
	Close() error
}

// OpenAdmin returns the admin operations of the portal in dir: through the admin
// socket when a server runs there, else on portal.db directly. The second result says
// which ("socket" or "store").
func OpenAdmin(dir string) (Admin, string, error) {
	c, err := DialAdmin(dir)
	if err == nil {
		return c, "socket", nil
	}
	if !errors.Is(err, errNoServer) {
		return nil, "", err
	}
	st, err := OpenStore(dir, nil)
	if errors.Is(err, ErrInUse) {
		return nil, "", fmt.Errorf("%w, but its admin socket does not answer (is `portald serve` starting or stuck?)", err)
	}
	if err != nil {
		return nil, "", err
	}
	return st, "store", nil
}

// Timeouts of the admin client.
const (
	pingTimeout = 5 * time.Second
	callTimeout = 10 * time.Minute
)

// errNoServer: no server listens on the admin socket.
var errNoServer = errors.New("no portal server runs on this directory")

// --- the socket's server side ----------------------------------------------------------

// adminRequest is the body of the admin socket's POST calls.
type adminRequest struct {
	Office string            `json:"office,omitempty"`
	TTL    string            `json:"ttl,omitempty"` // Go duration
	URL    string            `json:"url,omitempty"`
	Cases  int               `json:"cases,omitempty"`
	Seed   int64             `json:"seed,omitempty"`
	Fields map[string]string `json:"fields,omitempty"` // case fields or policy settings
	User   string            `json:"user,omitempty"`
	Kind   string            `json:"kind,omitempty"` // remote action
}

// adminHandler is the admin API on the socket: JSON in and out, errors as
// problem+json, every call authorised by "Authorization: Bearer <admin.secret>".
func (s *Server) adminHandler() http.Handler {
	st := s.store
	mux := http.NewServeMux()
	handle := func(pattern string, fn func(r *http.Request, req adminRequest) (any, error)) {
		mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
			var req adminRequest
			if r.Method == http.MethodPost {
				if _, p := decodeBody(w, r, 1<<20, &req); p != nil {
					writeProblem(w, r, p)
					return
				}
			}
			v, err := fn(r, req)
			if err != nil {
				writeProblem(w, r, adminProblem(err))
				return
			}
			writeJSON(w, r, http.StatusOK, v)
		})
	}
	handle("GET /admin/ping", func(*http.Request, adminRequest) (any, error) {
		return map[string]string{"url": s.URL(), "ca_sha256": st.CAFingerprint()}, nil
	})
	handle("POST /admin/tokens", func(_ *http.Request, req adminRequest) (any, error) {
		ttl, err := time.ParseDuration(req.TTL)
		if err != nil {
			return nil, fmt.Errorf("%w: ttl %q is not a duration", ErrInvalidInput, req.TTL)
		}
		return st.CreateToken(req.Office, ttl, req.URL)
	})
	handle("GET /admin/devices", func(*http.Request, adminRequest) (any, error) { return st.Devices() })
	handle("POST /admin/devices/{id}/revoke", func(r *http.Request, _ adminRequest) (any, error) {
		return st.RevokeDevice(r.PathValue("id"))
	})
	handle("GET /admin/devices/{id}", func(r *http.Request, _ adminRequest) (any, error) {
		return st.DeviceDetails(r.PathValue("id"))
	})
	handle("POST /admin/devices/{id}/actions", func(r *http.Request, req adminRequest) (any, error) {
		return st.QueueAction(r.PathValue("id"), req.Kind)
	})
	handle("POST /admin/devices/{id}/actions/{action}/cancel", func(r *http.Request, _ adminRequest) (any, error) {
		return st.CancelAction(r.PathValue("id"), r.PathValue("action"))
	})
	handle("GET /admin/recovery", func(*http.Request, adminRequest) (any, error) {
		pub, err := st.RecoveryPublicKey()
		return map[string]string{"public_pem": pub}, err
	})
	handle("POST /admin/seed", func(_ *http.Request, req adminRequest) (any, error) {
		n, err := st.Seed(req.Cases, req.Seed)
		return map[string]int{"added": n}, err
	})
	handle("GET /admin/cases", func(*http.Request, adminRequest) (any, error) { return st.Cases() })
	handle("GET /admin/cases/{id}", func(r *http.Request, _ adminRequest) (any, error) { return st.Case(r.PathValue("id")) })
	handle("POST /admin/cases/{id}/fields", func(r *http.Request, req adminRequest) (any, error) {
		return st.SetCaseFields(r.PathValue("id"), req.Fields)
	})
	handle("POST /admin/cases/{id}/assign", func(r *http.Request, req adminRequest) (any, error) {
		return st.AssignCase(r.PathValue("id"), req.User)
	})
	handle("GET /admin/policy", func(*http.Request, adminRequest) (any, error) { return st.Policy() })
	handle("POST /admin/policy", func(_ *http.Request, req adminRequest) (any, error) { return st.SetPolicy(req.Fields) })
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(token), []byte(s.adminSecret)) != 1 {
			writeProblem(w, r, newProblem(http.StatusUnauthorized, portal.ProblemUnauthenticated, "admin secret missing or wrong"))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

// adminProblem maps an error to a problem for the admin client (which is trusted:
// the detail is the error's text).
func adminProblem(err error) *portal.Problem {
	var ve *ValidationError
	switch {
	case errors.As(err, &ve):
		p := newProblem(http.StatusUnprocessableEntity, portal.ProblemBadRequest, ve.Reason)
		p.Fields = ve.Fields
		return p
	case errors.Is(err, ErrNotFound):
		return newProblem(http.StatusNotFound, portal.ProblemNotFound, err.Error())
	case errors.Is(err, ErrConflict):
		return newProblem(http.StatusConflict, portal.ProblemConflict, err.Error())
	case errors.Is(err, ErrInvalidInput), errors.Is(err, ErrNoURL):
		return newProblem(http.StatusBadRequest, portal.ProblemBadRequest, err.Error())
	}
	return newProblem(http.StatusInternalServerError, portal.ProblemInternal, err.Error())
}

// --- the socket's client side ----------------------------------------------------------

// AdminClient calls the admin API of a running server over DIR/admin.sock.
type AdminClient struct {
	http   *http.Client
	secret string
}

var _ Admin = (*AdminClient)(nil)

// DialAdmin connects to the admin socket of the server running on dir and checks that
// it answers. With no server there it returns an error matching errNoServer (use
// OpenAdmin to fall back to the store).
func DialAdmin(dir string) (*AdminClient, error) {
	sock := filepath.Join(dir, fileAdminSock)
	if _, err := os.Stat(filepath.Join(dir, fileDB)); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotInitialized, dir)
	}
	secret, err := os.ReadFile(filepath.Join(dir, fileAdminSecret))
	if err != nil {
		return nil, fmt.Errorf("read admin secret: %w", err)
	}
	tr := &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConns: 2,
	}
	// The ping gets a short timeout (a hung server must not hang the CLI), the
	// operations a long one (seeding many cases takes a while).
	c := &AdminClient{http: &http.Client{Transport: tr, Timeout: pingTimeout}, secret: strings.TrimSpace(string(secret))}
	err = c.call(http.MethodGet, "/admin/ping", nil, nil)
	c.http.Timeout = callTimeout
	if err != nil {
		tr.CloseIdleConnections()
		if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.ECONNREFUSED) {
			return nil, fmt.Errorf("%w: %v", errNoServer, err)
		}
		return nil, err
	}
	return c, nil
}

// Close closes idle connections.
func (c *AdminClient) Close() error {
	c.http.CloseIdleConnections()
	return nil
}

// call sends in (JSON, nil for none) and decodes the answer into out (nil to ignore).
func (c *AdminClient) call(method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, "http://portald"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.secret)
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
	if err != nil {
		return fmt.Errorf("admin socket: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return problemError(resp.StatusCode, raw)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(raw, out); err != nil {
		return fmt.Errorf("admin socket: answer to %s %s: %w", method, path, err)
	}
	return nil
}

// problemError turns an admin problem answer back into the error the store returned.
func problemError(status int, raw []byte) error {
	var p portal.Problem
	if json.Unmarshal(raw, &p) != nil || p.Status == 0 {
		return fmt.Errorf("admin socket: HTTP %d: %s", status, bytes.TrimSpace(raw))
	}
	switch status {
	case http.StatusUnprocessableEntity:
		return &ValidationError{Reason: p.Detail, Fields: p.Fields}
	case http.StatusNotFound:
		return fmt.Errorf("%w (%s)", ErrNotFound, p.Detail)
	case http.StatusConflict:
		return fmt.Errorf("%w: %s", ErrConflict, strings.TrimPrefix(p.Detail, ErrConflict.Error()+": "))
	case http.StatusBadRequest:
		if p.Detail == ErrNoURL.Error() {
			return ErrNoURL
		}
		return fmt.Errorf("%w: %s", ErrInvalidInput, strings.TrimPrefix(p.Detail, ErrInvalidInput.Error()+": "))
	}
	return &p
}

// CreateToken does Store.CreateToken on the server.
func (c *AdminClient) CreateToken(office string, ttl time.Duration, portalURL string) (TokenInfo, error) {
	var t TokenInfo
	err := c.call(http.MethodPost, "/admin/tokens", adminRequest{Office: office, TTL: ttl.String(), URL: portalURL}, &t)
	return t, err
}

// Devices does Store.Devices on the server.
func (c *AdminClient) Devices() ([]Device, error) {
	var d []Device
	err := c.call(http.MethodGet, "/admin/devices", nil, &d)
	return d, err
}

// RevokeDevice does Store.RevokeDevice on the server.
func (c *AdminClient) RevokeDevice(id string) (Device, error) {
	var d Device
	err := c.call(http.MethodPost, "/admin/devices/"+pathEscape(id)+"/revoke", adminRequest{}, &d)
	return d, err
}

// Seed does Store.Seed on the server.
func (c *AdminClient) Seed(n int, seed int64) (int, error) {
	var out struct {
		Added int `json:"added"`
	}
	err := c.call(http.MethodPost, "/admin/seed", adminRequest{Cases: n, Seed: seed}, &out)
	return out.Added, err
}

// Cases does Store.Cases on the server.
func (c *AdminClient) Cases() ([]CaseInfo, error) {
	var out []CaseInfo
	err := c.call(http.MethodGet, "/admin/cases", nil, &out)
	return out, err
}

// Case does Store.Case on the server.
func (c *AdminClient) Case(id string) (*cases.Case, error) {
	var out cases.Case
	if err := c.call(http.MethodGet, "/admin/cases/"+pathEscape(id), nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// SetCaseFields does Store.SetCaseFields on the server.
func (c *AdminClient) SetCaseFields(id string, fields map[string]string) (*cases.Case, error) {
	var out cases.Case
	if err := c.call(http.MethodPost, "/admin/cases/"+pathEscape(id)+"/fields", adminRequest{Fields: fields}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// AssignCase does Store.AssignCase on the server.
func (c *AdminClient) AssignCase(id, user string) (*cases.Case, error) {
	var out cases.Case
	if err := c.call(http.MethodPost, "/admin/cases/"+pathEscape(id)+"/assign", adminRequest{User: user}, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// Policy does Store.Policy on the server.
func (c *AdminClient) Policy() (portal.Policy, error) {
	var p portal.Policy
	err := c.call(http.MethodGet, "/admin/policy", nil, &p)
	return p, err
}

// SetPolicy does Store.SetPolicy on the server.
func (c *AdminClient) SetPolicy(changes map[string]string) (portal.Policy, error) {
	var p portal.Policy
	err := c.call(http.MethodPost, "/admin/policy", adminRequest{Fields: changes}, &p)
	return p, err
}

// DeviceDetails does Store.DeviceDetails on the server.
func (c *AdminClient) DeviceDetails(id string) (DeviceDetails, error) {
	var d DeviceDetails
	err := c.call(http.MethodGet, "/admin/devices/"+pathEscape(id), nil, &d)
	return d, err
}

// QueueAction does Store.QueueAction on the server.
func (c *AdminClient) QueueAction(deviceID, kind string) (DeviceAction, error) {
	var a DeviceAction
	err := c.call(http.MethodPost, "/admin/devices/"+pathEscape(deviceID)+"/actions", adminRequest{Kind: kind}, &a)
	return a, err
}

// CancelAction does Store.CancelAction on the server.
func (c *AdminClient) CancelAction(deviceID, actionID string) (DeviceAction, error) {
	var a DeviceAction
	err := c.call(http.MethodPost, "/admin/devices/"+pathEscape(deviceID)+"/actions/"+pathEscape(actionID)+"/cancel", adminRequest{}, &a)
	return a, err
}

// RecoveryPublicKey does Store.RecoveryPublicKey on the server.
func (c *AdminClient) RecoveryPublicKey() (string, error) {
	var out struct {
		PublicPEM string `json:"public_pem"`
	}
	err := c.call(http.MethodGet, "/admin/recovery", nil, &out)
	return out.PublicPEM, err
}

// pathEscape keeps an ID a single path segment.
func pathEscape(s string) string { return url.PathEscape(s) }
