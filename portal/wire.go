package portal

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"fieldoffice/cases"
)

// Paths of the API (all under /v1). A device authenticates every call except
// PathEnroll with its client certificate (mTLS).
const (
	PathEnroll  = "/v1/enroll"  // POST EnrollRequest → EnrollResponse (no client certificate; the token authorises)
	PathPolicy  = "/v1/policy"  // GET → Policy (ETag, If-None-Match → 304)
	PathForms   = "/v1/forms"   // GET → FormsResponse (ETag, If-None-Match → 304)
	PathChanges = "/v1/changes" // GET ?since=CURSOR&limit=N → ChangesPage
	PathOps     = "/v1/ops"     // POST OpsRequest (header Idempotency-Key) → OpsResponse
	PathBlobs   = "/v1/blobs/"  // + SHA-256 (64 lowercase hex): HEAD, PUT (Content-Range), GET (Range)
	PathDevice  = "/v1/device"  // GET → DeviceInfo (the calling device as the portal sees it, with its pending actions)
	// PathDeviceActions + action ID: POST ActionResult → 204 (the device reports the
	// outcome of a remote action).
	PathDeviceActions = "/v1/device/actions/"
	// PathDeviceCertificate: POST CertificateRequest → CertificateResponse (a new client
	// certificate for the calling device: same device ID, new serial).
	PathDeviceCertificate = "/v1/device/certificate"
)

// Headers of the blob protocol and the op batch.
const (
	HeaderIdempotencyKey = "Idempotency-Key"
	// HeaderBlobReceived on HEAD and PUT answers: how many bytes of the blob the portal
	// holds (a PUT continues there).
	HeaderBlobReceived = "Blob-Received"
	// HeaderBlobComplete on HEAD and PUT answers: "true" once the portal has the whole
	// blob and checked its SHA-256.
	HeaderBlobComplete = "Blob-Complete"
	// HeaderBlobSize on a PUT: the blob's total size (also in Content-Range).
	HeaderBlobSize = "Blob-Size"
	// HeaderDeviceActions on every answer to an authenticated call (success or
	// problem, after the device was recognised): how many remote actions are pending
	// for the device, in decimal ("0" when none). Above 0 the device fetches GET
	// /v1/device to learn them.
	HeaderDeviceActions = "Device-Actions"
)

// MaxChangesLimit is the largest page GET /v1/changes returns; DefaultChangesLimit
// when limit is absent.
const (
	MaxChangesLimit     = 1000
	DefaultChangesLimit = 200
	// MaxOpsPerBatch is the largest op batch POST /v1/ops accepts.
	MaxOpsPerBatch = 500
)

// EnrollToken is what `portald token create` prints, encoded (see EncodeToken): it
// tells a new device where the portal is, how to recognise it (the SHA-256 of the
// portal CA certificate's DER bytes, as kubeadm join does) and carries a one-time
// secret.
type EnrollToken struct {
	URL      string    `json:"url"`       // https://host:port of the portal
	CASHA256 string    `json:"ca_sha256"` // lowercase hex of SHA-256 over the CA certificate (DER)
	Secret   string    `json:"secret"`    // base64url, 32 random bytes; the portal stores only its hash
	Office   string    `json:"office"`    // the office (Dienststelle) the device will belong to
	Expires  time.Time `json:"expires"`
}

// EnrollRequest is POST /v1/enroll.
type EnrollRequest struct {
	Secret     string `json:"secret"`      // the token's secret
	CSR        []byte `json:"csr"`         // DER PKCS#10, ECDSA P-256, signed by the device key
	DeviceName string `json:"device_name"` // host name or what the admin typed
	User       string `json:"user"`        // the first user of the device
	TPMKind    string `json:"tpm_kind"`    // device, mssim, sim, none
	Hardware   bool   `json:"hardware"`    // the device key is in a hardware TPM
	Software   bool   `json:"software"`    // the device key is a software key (no TPM)
}

// EnrollResponse answers an accepted enrollment.
type EnrollResponse struct {
	DeviceID    string            `json:"device_id"`   // UUID; the certificate's subject CN
	Office      string            `json:"office"`      //
	Certificate []byte            `json:"certificate"` // DER X.509 of the device, issued by the CA
	CA          []byte            `json:"ca"`          // DER X.509 of the portal CA (its SHA-256 is the token's)
	Policy      Policy            `json:"policy"`
	Forms       []json.RawMessage `json:"forms"`        // form schemas (cases.ParseSchema)
	Recovery    string            `json:"recovery_pem"` // PEM of the organisation's X25519 recovery public key
	Cursor      string            `json:"cursor"`       // "" (a new device pulls from the start)
}

// Policy is the device policy, versioned; the portal delivers it at enrollment and
// with GET /v1/policy.
type Policy struct {
	Version             int      `json:"version"`
	IdleLockMinutes     int      `json:"idle_lock_minutes"`
	MaxOfflineDays      int      `json:"max_offline_days"`
	MinPINLength        int      `json:"min_pin_length"`
	PCRs                []int    `json:"pcrs"`
	AllowSoftwareKeys   bool     `json:"allow_software_keys"`
	Services            []string `json:"services"` // services the device may capture; empty = all
	MaxAttachmentBytes  int64    `json:"max_attachment_bytes"`
	SyncIntervalMinutes int      `json:"sync_interval_minutes"`
}

// DefaultPolicy is the policy of a new portal.
func DefaultPolicy() Policy {
	return Policy{
		Version: 1, IdleLockMinutes: 10, MaxOfflineDays: 14, MinPINLength: 6, PCRs: []int{7},
		AllowSoftwareKeys: false, MaxAttachmentBytes: 100 << 20, SyncIntervalMinutes: 15,
	}
}

// FormsResponse is GET /v1/forms.
type FormsResponse struct {
	Forms []json.RawMessage `json:"forms"`
}

// Change is one entry of the change feed: the case as the portal holds it now.
type Change struct {
	Seq  uint64          `json:"seq"`  // position in the feed
	Case json.RawMessage `json:"case"` // JSON of cases.Case, Revision set; stored by the device as it came
}

// ChangesPage is GET /v1/changes: the changes after the cursor, in server order.
type ChangesPage struct {
	Changes []Change `json:"changes"`
	Next    string   `json:"next"` // the cursor to ask with next (also when Changes is empty)
	More    bool     `json:"more"` // another page is ready now
}

// Cursor returns the opaque cursor for feed position seq.
func Cursor(seq uint64) string { return "c" + strconv.FormatUint(seq, 10) }

// ParseCursor returns the feed position of a cursor; "" is the start.
func ParseCursor(c string) (uint64, error) {
	if c == "" {
		return 0, nil
	}
	if len(c) < 2 || c[0] != 'c' {
		return 0, fmt.Errorf("invalid cursor %q", c)
	}
	return strconv.ParseUint(c[1:], 10, 64)
}

// Op is one local change pushed to the portal. Kind and patch as in the device's
// outbox (storage.OutboxEntry): "create" carries the whole case as a patch from empty.
type Op struct {
	OpID         string      `json:"op_id"` // UUID; the portal applies each op ID at most once
	CaseID       string      `json:"case_id"`
	BaseRevision int64       `json:"base_revision"`
	Kind         string      `json:"kind"` // create, patch, transition, note, attach
	Patch        cases.Patch `json:"patch"`
	User         string      `json:"user"` // the device user who made the change
	Role         string      `json:"role,omitempty"`
	Created      time.Time   `json:"created"`
	// Service is the service type of the case ("anmeldung", …). A create must carry
	// it (a patch has no field for it); the portal ignores it on other kinds and
	// answers conflict on field "service" when a create names another service than
	// the existing case's.
	Service string `json:"service,omitempty"`
}

// OpsRequest is POST /v1/ops.
type OpsRequest struct {
	Ops []Op `json:"ops"`
}

// Op results.
const (
	ResultApplied   = "applied"   // the op changed the case; Revision and Case are the new state
	ResultDuplicate = "duplicate" // the op ID was seen before; the fields are the first answer's
	ResultConflict  = "conflict"  // a field's old value did not match; Case is the portal's current case
	ResultRejected  = "rejected"  // invalid values or a refused transition; Fields/Reason say why
)

// OpResult is the portal's answer to one op.
type OpResult struct {
	OpID     string            `json:"op_id"`
	Status   string            `json:"status"`
	Revision int64             `json:"revision,omitempty"`
	Case     json.RawMessage   `json:"case,omitempty"`      // applied, duplicate of applied, conflict
	Fields   map[string]string `json:"fields,omitempty"`    // rejected: message per field (German)
	Reason   string            `json:"reason,omitempty"`    // rejected or conflict: why, in German
	Conflict []string          `json:"conflicts,omitempty"` // conflict: the fields whose old value did not match
	// First is the status of the first answer when Status is duplicate.
	First string `json:"first,omitempty"`
}

// OpsResponse is the answer to POST /v1/ops: one result per op, in order.
type OpsResponse struct {
	Results []OpResult `json:"results"`
}

// DeviceInfo is GET /v1/device.
type DeviceInfo struct {
	DeviceID      string    `json:"device_id"`
	Office        string    `json:"office"`
	Name          string    `json:"name"`
	Enrolled      time.Time `json:"enrolled"`
	CertExpires   time.Time `json:"cert_expires"`
	PolicyVersion int       `json:"policy_version"`
	Revoked       bool      `json:"revoked"`
	// Actions are the remote actions pending for the device, oldest first (never
	// null; empty when none). The device carries them out in this order and reports
	// each with POST PathDeviceActions + ID.
	Actions []Action `json:"actions"`
}

// Kinds of remote actions (Action.Kind).
const (
	// ActionWipe: crypto-erase the store (vault keys, vault, outbox, attachments),
	// then report done with the time; the portal then marks the device wiped and
	// answers its further calls with 403 device-revoked, upon which the device forgets
	// its enrollment.
	ActionWipe = "wipe"
	// ActionLock: lock the app now; the next use needs the PIN.
	ActionLock = "lock"
	// ActionResync: drop the change-feed cursor and pull from the start (the outbox
	// is kept and pushed as usual).
	ActionResync = "resync"
	// ActionRotateCert: get a new client certificate with POST PathDeviceCertificate
	// (a CSR of the existing TPM key or of a new key), switch to it, then report.
	ActionRotateCert = "rotate-cert"
)

// ActionKinds are the kinds of remote actions, in the order of the constants.
var ActionKinds = []string{ActionWipe, ActionLock, ActionResync, ActionRotateCert}

// Outcomes a device reports (ActionResult.Status).
const (
	ActionDone   = "done"
	ActionFailed = "failed"
)

// Action is a remote action queued by an admin, carried out by the device at its
// next contact.
type Action struct {
	ID      string    `json:"id"`   // UUID
	Kind    string    `json:"kind"` // one of ActionKinds; a device refuses (reports failed) a kind it does not know
	Created time.Time `json:"created"`
}

// ActionResult is POST PathDeviceActions + ID: what became of an action.
type ActionResult struct {
	Status string    `json:"status"`           // ActionDone or ActionFailed
	Detail string    `json:"detail,omitempty"` // why it failed, or a note (at most MaxActionDetail bytes; no case content)
	Time   time.Time `json:"time"`             // when it happened on the device (zero: the portal's clock at the report)
}

// MaxActionDetail is the longest ActionResult.Detail the portal accepts (bytes).
const MaxActionDetail = 1000

// CertificateRequest is POST PathDeviceCertificate.
type CertificateRequest struct {
	CSR      []byte `json:"csr"`                // DER PKCS#10, ECDSA P-256, signed by the (existing or new) device key
	TPMKind  string `json:"tpm_kind,omitempty"` // as at enrollment; "" keeps the recorded one
	Hardware bool   `json:"hardware,omitempty"` // the key is in a hardware TPM
	Software bool   `json:"software,omitempty"` // the key is a software key (refused unless the policy allows software keys)
}

// CertificateResponse answers POST PathDeviceCertificate.
type CertificateResponse struct {
	Certificate []byte    `json:"certificate"` // DER X.509: CN = the same device ID, a new serial, one year
	CA          []byte    `json:"ca"`          // DER X.509 of the portal CA (unchanged)
	Serial      string    `json:"serial"`      // lowercase hex of the new serial number
	Expires     time.Time `json:"expires"`
}

// Problem is an RFC 9457 problem detail (application/problem+json), the body of
// every error answer. Type is one of the Problem* URIs.
type Problem struct {
	Type     string            `json:"type"`
	Title    string            `json:"title"`
	Status   int               `json:"status"`
	Detail   string            `json:"detail,omitempty"`
	Instance string            `json:"instance,omitempty"`
	Fields   map[string]string `json:"fields,omitempty"`   // validation: message per field
	Received *int64            `json:"received,omitempty"` // blob upload out of order: bytes the portal holds
}

func (p *Problem) Error() string {
	s := fmt.Sprintf("portal: %s (%d)", p.Title, p.Status)
	if p.Detail != "" {
		s += ": " + p.Detail
	}
	return s
}

// MediaTypeProblem is the content type of a Problem.
const MediaTypeProblem = "application/problem+json"

// Problem types: stable URIs, part of the contract.
const (
	problemBase             = "https://fieldoffice.example/problems/"
	ProblemBadRequest       = problemBase + "bad-request"         // 400: malformed request
	ProblemInvalidToken     = problemBase + "invalid-token"       // 401: enrollment token unknown, used or expired
	ProblemUnauthenticated  = problemBase + "unauthenticated"     // 401: no or unknown client certificate
	ProblemDeviceRevoked    = problemBase + "device-revoked"      // 403: the device was revoked: wipe
	ProblemSoftwareKey      = problemBase + "software-key"        // 403: policy forbids software keys
	ProblemNotFound         = problemBase + "not-found"           // 404
	ProblemConflict         = problemBase + "conflict"            // 409: e.g. idempotency key reused with another body
	ProblemUploadOffset     = problemBase + "upload-offset"       // 409: Content-Range does not start at Blob-Received (Received says where)
	ProblemHashMismatch     = problemBase + "hash-mismatch"       // 422: the uploaded bytes do not hash to the address
	ProblemTooLarge         = problemBase + "too-large"           // 413: blob above the policy's limit, batch too big
	ProblemRangeUnsatisfied = problemBase + "range-not-satisfied" // 416
	ProblemRateLimited      = problemBase + "rate-limited"        // 429 (with Retry-After)
	ProblemUnavailable      = problemBase + "unavailable"         // 503 (with Retry-After)
	ProblemInternal         = problemBase + "internal"            // 500
)

// tokenPrefix starts every encoded enrollment token (format version 1).
const tokenPrefix = "FO1."

// EncodeToken returns the token as one line to paste or script:
// "FO1." + base64url(JSON of t), without padding.
func EncodeToken(t EnrollToken) (string, error) {
	b, err := json.Marshal(t)
	if err != nil {
		return "", err
	}
	return tokenPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}

// ErrBadToken is returned by ParseToken for a string that is not an enrollment token.
var ErrBadToken = errors.New("not a FieldOffice enrollment token (it starts with FO1.)")

// ParseToken decodes an enrollment token and checks that it is complete and says
// https. It does not check the expiry (the portal does, with its clock).
func ParseToken(s string) (EnrollToken, error) {
	var t EnrollToken
	rest, ok := strings.CutPrefix(strings.TrimSpace(s), tokenPrefix)
	if !ok {
		return t, ErrBadToken
	}
	b, err := base64.RawURLEncoding.DecodeString(rest)
	if err != nil {
		return t, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	if err := json.Unmarshal(b, &t); err != nil {
		return t, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	u, err := url.Parse(t.URL)
	switch {
	case err != nil || u.Scheme != "https" || u.Host == "":
		return t, fmt.Errorf("%w: portal URL %q is not https://HOST[:PORT]", ErrBadToken, t.URL)
	case len(t.CASHA256) != 64 || strings.Trim(t.CASHA256, "0123456789abcdef") != "":
		return t, fmt.Errorf("%w: CA hash is not 64 lowercase hex digits", ErrBadToken)
	case t.Secret == "":
		return t, fmt.Errorf("%w: no secret", ErrBadToken)
	}
	return t, nil
}
