package sync

import (
	"context"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-resty/resty/v2"

	"fieldoffice/portal"
)

// Errors of the transport. A *portal.Problem is returned for every other error answer.
var (
	// ErrRevoked: the portal revoked this device (403 device-revoked). The caller must
	// wipe the store.
	ErrRevoked = errors.New("this device was revoked by the portal")
	// ErrPortalUnreachable: no answer from the portal after the retries (network down,
	// portal down, timeouts).
	ErrPortalUnreachable = errors.New("the portal cannot be reached")
	// ErrBadAnswer: the portal answered something that does not follow the protocol.
	ErrBadAnswer = errors.New("the portal's answer does not follow the protocol")
	// ErrNotModified is returned by the conditional GETs when the ETag still matches.
	ErrNotModified = errors.New("not modified")
)

// ClientConfig says how to reach the portal.
type ClientConfig struct {
	URL string // https://host:port
	// CA is the portal CA to verify the server with (after enrollment). Before
	// enrollment it is nil and CAPin (the token's CA SHA-256) is used instead.
	CA    *x509.Certificate
	CAPin string
	// Certificate is the device's client certificate with its (TPM) key; nil for
	// enrollment.
	Certificate *tls.Certificate

	Timeout    time.Duration // per HTTP attempt; default 30 s
	Retries    int           // retries after the first attempt; default 4
	RetryWait  time.Duration // first backoff; default 250 ms (exponential, with jitter)
	RetryMax   time.Duration // backoff cap, also for Retry-After; default 20 s
	Logger     *slog.Logger
	DialerFunc func(ctx context.Context, network, addr string) (net.Conn, error) // tests
}

// Client speaks the portal API (package portal) over resty: TLS 1.3 with the portal's
// CA, the device certificate, timeouts, and retries with exponential backoff and
// jitter on network errors, 408, 429 and 502–504, honouring Retry-After. A POST of
// ops is retried too: the Idempotency-Key makes a replay harmless.
type Client struct {
	cfg  ClientConfig
	http *resty.Client
	base *url.URL

	actions atomic.Int64 // the portal's last Device-Actions count; -1 before any answer
	cert    *atomic.Pointer[tls.Certificate]
}

// SetCertificate switches the client certificate for new connections (after a
// rotation) and closes idle ones, so the next call presents it.
func (c *Client) SetCertificate(cert *tls.Certificate) {
	c.cert.Store(cert)
	c.http.GetClient().CloseIdleConnections()
}

// PendingActions returns how many remote actions the portal said are waiting for this
// device in its last answer (the Device-Actions header), -1 when it has not said.
func (c *Client) PendingActions() int { return int(c.actions.Load()) }

// noteActions records the Device-Actions header of an answer.
func (c *Client) noteActions(h http.Header) {
	if v := h.Get(portal.HeaderDeviceActions); v != "" {
		if n, err := strconv.Atoi(v); err == nil && n >= 0 {
			c.actions.Store(int64(n))
		}
	}
}

// NewClient returns a client for cfg.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("portal URL %q: want https://HOST[:PORT]", cfg.URL)
	}
	if cfg.CA == nil && cfg.CAPin == "" {
		return nil, errors.New("portal client: neither the portal CA nor its pinned hash is known")
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Retries < 0 {
		cfg.Retries = 0
	} else if cfg.Retries == 0 {
		cfg.Retries = 4
	}
	if cfg.RetryWait <= 0 {
		cfg.RetryWait = 250 * time.Millisecond
	}
	if cfg.RetryMax <= 0 {
		cfg.RetryMax = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: u.Hostname()}
	if cfg.CA != nil {
		pool := x509.NewCertPool()
		pool.AddCert(cfg.CA)
		tlsCfg.RootCAs = pool
	} else {
		// Enrollment: trust the CA whose SHA-256 the token carries, as presented in
		// the server's chain, and verify the server certificate against it.
		tlsCfg.InsecureSkipVerify = true // replaced by VerifyConnection below
		pin := strings.ToLower(cfg.CAPin)
		tlsCfg.VerifyConnection = func(cs tls.ConnectionState) error { return verifyPinned(cs, pin) }
	}
	var certp atomic.Pointer[tls.Certificate]
	if cfg.Certificate != nil {
		cert := *cfg.Certificate
		certp.Store(&cert)
		tlsCfg.GetClientCertificate = func(*tls.CertificateRequestInfo) (*tls.Certificate, error) { return certp.Load(), nil }
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		TLSClientConfig:       tlsCfg,
		DialContext:           dialer.DialContext,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: cfg.Timeout,
		IdleConnTimeout:       60 * time.Second,
		MaxIdleConnsPerHost:   2,
		ForceAttemptHTTP2:     true,
	}
	if cfg.DialerFunc != nil {
		tr.DialContext = cfg.DialerFunc
	}
	rc := resty.New().
		SetTransport(tr).
		SetBaseURL(strings.TrimRight(cfg.URL, "/")).
		SetTimeout(cfg.Timeout).
		SetRetryCount(cfg.Retries).
		SetRetryWaitTime(cfg.RetryWait).
		SetRetryMaxWaitTime(cfg.RetryMax).
		SetRetryAfter(retryAfter).
		AddRetryCondition(retryable).
		SetHeader("User-Agent", "FieldOffice").
		SetLogger(restyLogger{cfg.Logger})
	cl := &Client{cfg: cfg, http: rc, base: u, cert: &certp}
	cl.actions.Store(-1)
	return cl, nil
}

// verifyPinned accepts the connection when one certificate of the presented chain
// hashes to pin, is a CA, and the leaf verifies against it for the server name.
func verifyPinned(cs tls.ConnectionState, pin string) error {
	if len(cs.PeerCertificates) == 0 {
		return errors.New("the portal presented no certificate")
	}
	for _, c := range cs.PeerCertificates {
		sum := sha256.Sum256(c.Raw)
		if hex.EncodeToString(sum[:]) != pin || !c.IsCA {
			continue
		}
		roots := x509.NewCertPool()
		roots.AddCert(c)
		inter := x509.NewCertPool()
		for _, ic := range cs.PeerCertificates[1:] {
			inter.AddCert(ic)
		}
		_, err := cs.PeerCertificates[0].Verify(x509.VerifyOptions{DNSName: cs.ServerName, Roots: roots, Intermediates: inter})
		if err != nil {
			return fmt.Errorf("the portal's certificate does not verify against the CA in the token: %w", err)
		}
		return nil
	}
	return errors.New("the portal's CA does not match the enrollment token (wrong portal, or someone in between)")
}

// retryable: network errors, 408, 429, 502, 503, 504. Never after the context ended.
func retryable(r *resty.Response, err error) bool {
	if r != nil && r.Request != nil && r.Request.Context().Err() != nil {
		return false
	}
	if err != nil {
		var pe *portal.Problem
		return !errors.As(err, &pe) && !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded)
	}
	if r == nil {
		return false
	}
	switch r.StatusCode() {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway,
		http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// retryAfter honours Retry-After (seconds or an HTTP date); 0 = resty's backoff.
func retryAfter(_ *resty.Client, r *resty.Response) (time.Duration, error) {
	if r == nil {
		return 0, nil
	}
	h := r.Header().Get("Retry-After")
	if h == "" {
		return 0, nil
	}
	if s, err := strconv.Atoi(h); err == nil && s >= 0 {
		return time.Duration(s) * time.Second, nil
	}
	if t, err := http.ParseTime(h); err == nil {
		return max(time.Until(t), time.Millisecond), nil
	}
	return 0, nil
}

// restyLogger sends resty's own messages to slog at debug level (never bodies).
type restyLogger struct{ l *slog.Logger }

func (r restyLogger) Errorf(f string, v ...any) { r.l.Debug("http", "msg", fmt.Sprintf(f, v...)) }
func (r restyLogger) Warnf(f string, v ...any)  { r.l.Debug("http", "msg", fmt.Sprintf(f, v...)) }
func (r restyLogger) Debugf(f string, v ...any) { r.l.Debug("http", "msg", fmt.Sprintf(f, v...)) }

// problemOf turns an error answer into an error: ErrRevoked for device-revoked, else
// the *portal.Problem (or a synthetic one when the body is not problem+json).
func problemOf(r *resty.Response) error {
	var p portal.Problem
	if err := json.Unmarshal(r.Body(), &p); err != nil || p.Type == "" {
		p = portal.Problem{Type: portal.ProblemInternal, Title: http.StatusText(r.StatusCode()), Status: r.StatusCode()}
	}
	if p.Status == 0 {
		p.Status = r.StatusCode()
	}
	if p.Type == portal.ProblemDeviceRevoked {
		return fmt.Errorf("%w (%s)", ErrRevoked, p.Detail)
	}
	return &p
}

// do runs req and maps transport failures and error answers.
func (c *Client) do(req *resty.Request, method, path string) (*resty.Response, error) {
	r, err := req.Execute(method, path)
	if r != nil && r.RawResponse != nil {
		c.noteActions(r.Header())
	}
	if err != nil {
		if ctxErr := req.Context().Err(); ctxErr != nil {
			return nil, fmt.Errorf("%s %s: %w", method, path, ctxErr)
		}
		return nil, fmt.Errorf("%w: %s %s: %v", ErrPortalUnreachable, method, path, err)
	}
	if r.StatusCode() >= 400 {
		if retryable(r, nil) {
			return r, fmt.Errorf("%w: %s %s: %w", ErrPortalUnreachable, method, path, problemOf(r))
		}
		return r, fmt.Errorf("%s %s: %w", method, path, problemOf(r))
	}
	return r, nil
}

func decodeJSON(r *resty.Response, v any) error {
	if err := json.Unmarshal(r.Body(), v); err != nil {
		return fmt.Errorf("%w: %s %s: %v", ErrBadAnswer, r.Request.Method, r.Request.URL, err)
	}
	return nil
}

// Enroll sends the enrollment request (no client certificate; the pinned CA).
func (c *Client) Enroll(ctx context.Context, req portal.EnrollRequest) (*portal.EnrollResponse, error) {
	r, err := c.do(c.http.R().SetContext(ctx).SetHeader("Content-Type", "application/json").SetBody(req), http.MethodPost, portal.PathEnroll)
	if err != nil {
		return nil, err
	}
	var out portal.EnrollResponse
	if err := decodeJSON(r, &out); err != nil {
		return nil, err
	}
	if out.DeviceID == "" || len(out.Certificate) == 0 || len(out.CA) == 0 {
		return nil, fmt.Errorf("%w: enrollment answer without device ID, certificate or CA", ErrBadAnswer)
	}
	return &out, nil
}

// getJSON fetches path into v with If-None-Match etag; it returns the new ETag or
// ErrNotModified.
func (c *Client) getJSON(ctx context.Context, path, etag string, v any) (string, error) {
	req := c.http.R().SetContext(ctx)
	if etag != "" {
		req.SetHeader("If-None-Match", etag)
	}
	r, err := c.do(req, http.MethodGet, path)
	if err != nil {
		return "", err
	}
	if r.StatusCode() == http.StatusNotModified {
		return etag, ErrNotModified
	}
	return r.Header().Get("ETag"), decodeJSON(r, v)
}

// Policy fetches the device policy (ErrNotModified when etag still matches).
func (c *Client) Policy(ctx context.Context, etag string) (portal.Policy, string, error) {
	var p portal.Policy
	tag, err := c.getJSON(ctx, portal.PathPolicy, etag, &p)
	return p, tag, err
}

// Forms fetches the form schemas (ErrNotModified when etag still matches).
func (c *Client) Forms(ctx context.Context, etag string) ([]json.RawMessage, string, error) {
	var f portal.FormsResponse
	tag, err := c.getJSON(ctx, portal.PathForms, etag, &f)
	return f.Forms, tag, err
}

// Device returns how the portal sees this device.
func (c *Client) Device(ctx context.Context) (portal.DeviceInfo, error) {
	var d portal.DeviceInfo
	_, err := c.getJSON(ctx, portal.PathDevice, "", &d)
	return d, err
}

// Changes fetches one page of the change feed after cursor.
func (c *Client) Changes(ctx context.Context, cursor string, limit int) (*portal.ChangesPage, error) {
	req := c.http.R().SetContext(ctx).SetQueryParam("limit", strconv.Itoa(limit))
	if cursor != "" {
		req.SetQueryParam("since", cursor)
	}
	r, err := c.do(req, http.MethodGet, portal.PathChanges)
	if err != nil {
		return nil, err
	}
	var p portal.ChangesPage
	if err := decodeJSON(r, &p); err != nil {
		return nil, err
	}
	if p.Next == "" {
		return nil, fmt.Errorf("%w: change page without next cursor", ErrBadAnswer)
	}
	return &p, nil
}

// PushOps sends a batch of ops. The Idempotency-Key is the SHA-256 of the body, so a
// retry (by resty, or by the next run after a crash) of the same batch replays the
// portal's stored answer.
func (c *Client) PushOps(ctx context.Context, ops []portal.Op) (*portal.OpsResponse, error) {
	body, err := json.Marshal(portal.OpsRequest{Ops: ops})
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(body)
	r, err := c.do(c.http.R().SetContext(ctx).
		SetHeader("Content-Type", "application/json").
		SetHeader(portal.HeaderIdempotencyKey, hex.EncodeToString(sum[:])).
		SetBody(body), http.MethodPost, portal.PathOps)
	if err != nil {
		return nil, err
	}
	var out portal.OpsResponse
	if err := decodeJSON(r, &out); err != nil {
		return nil, err
	}
	if len(out.Results) != len(ops) {
		return nil, fmt.Errorf("%w: %d results for %d ops", ErrBadAnswer, len(out.Results), len(ops))
	}
	for i, res := range out.Results {
		if res.OpID != ops[i].OpID {
			return nil, fmt.Errorf("%w: result %d is for op %s, not %s", ErrBadAnswer, i, res.OpID, ops[i].OpID)
		}
	}
	return &out, nil
}

// BlobState is what the portal holds of a blob.
type BlobState struct {
	Received int64
	Complete bool
}

// BlobHead asks how much of blob sha the portal has (zero when none).
func (c *Client) BlobHead(ctx context.Context, sha string) (BlobState, error) {
	r, err := c.http.R().SetContext(ctx).Head(portal.PathBlobs + sha)
	if err != nil {
		return BlobState{}, fmt.Errorf("%w: HEAD blob: %v", ErrPortalUnreachable, err)
	}
	switch {
	case r.StatusCode() == http.StatusNotFound:
		return BlobState{}, nil
	case r.StatusCode() >= 400:
		if r.StatusCode() == http.StatusForbidden {
			return BlobState{}, fmt.Errorf("%w (blob)", ErrRevoked)
		}
		return BlobState{}, fmt.Errorf("HEAD blob %s: %w", sha, problemOf(r))
	}
	return blobState(r.Header())
}

func blobState(h http.Header) (BlobState, error) {
	n, err := strconv.ParseInt(h.Get(portal.HeaderBlobReceived), 10, 64)
	if err != nil || n < 0 {
		return BlobState{}, fmt.Errorf("%w: %s header %q", ErrBadAnswer, portal.HeaderBlobReceived, h.Get(portal.HeaderBlobReceived))
	}
	return BlobState{Received: n, Complete: h.Get(portal.HeaderBlobComplete) == "true"}, nil
}

// BlobPut sends bytes [off, size) of blob sha read from r (positioned at off). It is
// one attempt, streamed with net/http (a body cannot be replayed): UploadBlob asks HEAD
// after a failure and continues where the portal stands.
func (c *Client) BlobPut(ctx context.Context, sha string, r io.Reader, off, size int64) (BlobState, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, c.http.BaseURL+portal.PathBlobs+sha, r)
	if err != nil {
		return BlobState{}, err
	}
	req.ContentLength = size - off
	if size-off == 0 {
		req.Body = http.NoBody
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	req.Header.Set(portal.HeaderBlobSize, strconv.FormatInt(size, 10))
	if size > 0 {
		req.Header.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", off, size-1, size))
	}
	resp, err := c.http.GetClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return BlobState{}, ctx.Err()
		}
		return BlobState{}, fmt.Errorf("%w: PUT blob: %v", ErrPortalUnreachable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 400 {
		return BlobState{}, fmt.Errorf("PUT blob %s: %w", sha, problemFromHTTP(resp))
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	return blobState(resp.Header)
}

// problemFromHTTP reads an error answer of a plain net/http call.
func problemFromHTTP(resp *http.Response) error {
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var p portal.Problem
	if err := json.Unmarshal(b, &p); err != nil || p.Type == "" {
		p = portal.Problem{Type: portal.ProblemInternal, Title: http.StatusText(resp.StatusCode), Status: resp.StatusCode}
	}
	if p.Status == 0 {
		p.Status = resp.StatusCode
	}
	if p.Type == portal.ProblemDeviceRevoked {
		return fmt.Errorf("%w (%s)", ErrRevoked, p.Detail)
	}
	if resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusRequestTimeout {
		return fmt.Errorf("%w: %w", ErrPortalUnreachable, &p)
	}
	return &p
}

// BlobGet opens blob sha from byte off on (Range). The caller closes the body.
func (c *Client) BlobGet(ctx context.Context, sha string, off int64) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.http.BaseURL+portal.PathBlobs+sha, nil)
	if err != nil {
		return nil, err
	}
	if off > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := c.http.GetClient().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, fmt.Errorf("%w: GET blob: %v", ErrPortalUnreachable, err)
	}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, fmt.Errorf("GET blob %s: %w", sha, problemFromHTTP(resp))
	}
	if off > 0 && resp.StatusCode != http.StatusPartialContent {
		resp.Body.Close()
		return nil, fmt.Errorf("%w: GET blob with Range answered %d", ErrBadAnswer, resp.StatusCode)
	}
	return resp.Body, nil
}

// Ping asks the portal how it sees this device (GET /v1/device) and returns, besides,
// the portal's clock (the Date header) and the round-trip time — for `doctor`.
func (c *Client) Ping(ctx context.Context) (portal.DeviceInfo, time.Time, time.Duration, error) {
	start := time.Now()
	r, err := c.do(c.http.R().SetContext(ctx), http.MethodGet, portal.PathDevice)
	rtt := time.Since(start)
	if err != nil {
		return portal.DeviceInfo{}, time.Time{}, rtt, err
	}
	var d portal.DeviceInfo
	if err := decodeJSON(r, &d); err != nil {
		return d, time.Time{}, rtt, err
	}
	date, _ := http.ParseTime(r.Header().Get("Date"))
	return d, date, rtt, nil
}

// ReportAction tells the portal what became of remote action id.
func (c *Client) ReportAction(ctx context.Context, id string, res portal.ActionResult) error {
	if len(res.Detail) > portal.MaxActionDetail {
		res.Detail = res.Detail[:portal.MaxActionDetail]
	}
	_, err := c.do(c.http.R().SetContext(ctx).SetHeader("Content-Type", "application/json").SetBody(res),
		http.MethodPost, portal.PathDeviceActions+id)
	return err
}

// RotateCertificate asks for a new client certificate for the key that signed csr.
func (c *Client) RotateCertificate(ctx context.Context, req portal.CertificateRequest) (*portal.CertificateResponse, error) {
	r, err := c.do(c.http.R().SetContext(ctx).SetHeader("Content-Type", "application/json").SetBody(req),
		http.MethodPost, portal.PathDeviceCertificate)
	if err != nil {
		return nil, err
	}
	var out portal.CertificateResponse
	if err := decodeJSON(r, &out); err != nil {
		return nil, err
	}
	if len(out.Certificate) == 0 {
		return nil, fmt.Errorf("%w: certificate answer without a certificate", ErrBadAnswer)
	}
	return &out, nil
}
