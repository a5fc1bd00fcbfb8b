package sync

import (
	"context"
	"crypto"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"fieldoffice/cases"
	"fieldoffice/portal"
	"fieldoffice/storage"
)

// Phases of a run, in order (Event.Phase).
const (
	PhaseConnect = "connect" // policy, forms, device state
	PhasePull    = "pull"    // the change feed
	PhaseUpload  = "upload"  // attachments the outbox refers to
	PhasePush    = "push"    // the outbox
	PhaseDone    = "done"
)

// Event is a progress report of a run; the GUI shows it, `sync --json` prints it.
type Event struct {
	Phase string `json:"phase"`
	Done  int    `json:"done"`            // pages, blobs or ops done in this phase
	Total int    `json:"total,omitempty"` // of them, when known
	Bytes int64  `json:"bytes,omitempty"` // bytes moved in this phase (attachments)
}

// Summary is what a run did.
type Summary struct {
	Pulled     int           `json:"pulled"`    // cases brought in
	Merged     int           `json:"merged"`    // of them merged with local changes
	Pushed     int           `json:"pushed"`    // ops the portal applied (incl. replays of applied ones)
	Conflicts  int           `json:"conflicts"` // cases in conflict (or with refused changes) after the run
	Rejected   int           `json:"rejected"`  // ops the portal refused
	Requeued   int           `json:"requeued,omitempty"`
	BlobsUp    int           `json:"blobs_uploaded"`
	BytesUp    int64         `json:"bytes_uploaded"`
	Pending    int           `json:"pending"` // ops still waiting after the run
	Duration   time.Duration `json:"-"`
	DurationMS int64         `json:"duration_ms"`
}

// Engine runs syncs of one vault with one portal. The vault must be unlocked for Run.
type Engine struct {
	Vault   *storage.Vault
	Client  *Client
	Device  *Device
	DataDir string // where Device is saved (contact times, policy)
	Role    string // the workflow role sent with ops; default "sachbearbeitung"

	PageSize   int           // change-feed page; default 200
	BatchSize  int           // ops per POST; default 100
	RunTimeout time.Duration // deadline of one run; default 10 minutes
	// Key is the device key (for certificate rotation); Actions carries out the
	// remote actions that need the app or the CLI (nil: they wait, see actions.go).
	Key     crypto.Signer
	Actions ActionHandler
	OnEvent func(Event) // progress; called on the run's goroutine
	Logger  *slog.Logger
}

func (e *Engine) emit(ev Event) {
	if e.OnEvent != nil {
		e.OnEvent(ev)
	}
}

func (e *Engine) log() *slog.Logger {
	if e.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Logger
}

// Run performs one sync. On ErrRevoked the caller must wipe the store (Wipe). A
// failed run leaves everything stored so far in place; the next run continues.
func (e *Engine) Run(ctx context.Context) (sum Summary, err error) {
	start := time.Now()
	timeout := e.RunTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	_ = e.Vault.UpdateSyncState(func(s *storage.SyncState) { s.LastAttempt = start.UTC() })
	defer func() {
		sum.Duration = time.Since(start)
		sum.DurationMS = sum.Duration.Milliseconds()
		if n, lerr := e.Vault.OutboxLen(); lerr == nil {
			sum.Pending = n
		}
		if ids, lerr := e.Vault.ConflictCases(); lerr == nil {
			sum.Conflicts = len(ids)
		}
		e.finish(sum, err)
	}()

	if err := e.connect(ctx); err != nil {
		return sum, err
	}
	if err := e.pull(ctx, &sum); err != nil {
		return sum, err
	}
	if err := e.upload(ctx, &sum); err != nil {
		return sum, err
	}
	if err := e.push(ctx, &sum); err != nil {
		return sum, err
	}
	e.emit(Event{Phase: PhaseDone})
	return sum, nil
}

// finish records the run's outcome in the vault and the device record.
func (e *Engine) finish(sum Summary, err error) {
	now := time.Now().UTC()
	serr := e.Vault.UpdateSyncState(func(s *storage.SyncState) {
		if err != nil {
			s.LastError = err.Error()
			s.Failures++
			return
		}
		s.LastError, s.Failures = "", 0
		s.LastSuccess = now
		s.Runs++
		s.LastPulled, s.LastPushed, s.LastSeconds = sum.Pulled, sum.Pushed, sum.Duration.Seconds()
		if ids, cerr := e.Vault.ConflictCases(); cerr == nil {
			s.Conflicts = len(ids)
		}
	})
	if serr != nil {
		e.log().Warn("could not record the sync state", "err", serr)
	}
	if err == nil && e.Device != nil && e.DataDir != "" {
		e.Device.LastSync = now
		if serr := e.Device.Save(e.DataDir); serr != nil {
			e.log().Warn("could not save the enrollment record", "err", serr)
		}
	}
}

// connect fetches the policy (conditional) and records the contact.
func (e *Engine) connect(ctx context.Context) error {
	e.emit(Event{Phase: PhaseConnect})
	if e.Device == nil {
		return nil
	}
	return CheckInWithActions(ctx, e.Client, e.Device, e.DataDir, e.Key, e.actionHandler())
}

// actionHandler wraps the engine's ActionHandler: resync works on the engine's
// (unlocked) vault when the caller did not say otherwise.
func (e *Engine) actionHandler() ActionHandler {
	return engineActions{e: e, h: e.Actions}
}

type engineActions struct {
	e *Engine
	h ActionHandler
}

func (a engineActions) Wipe(ctx context.Context) (string, error) {
	if a.h == nil {
		return "", errActionWaits // for a program that can close the vault (app, CLI)
	}
	return a.h.Wipe(ctx)
}

func (a engineActions) Lock() (string, error) {
	if a.h == nil {
		return "no session open", nil
	}
	return a.h.Lock()
}

func (a engineActions) Resync() (bool, error) {
	if a.h != nil {
		return a.h.Resync()
	}
	if !a.e.Vault.Unlocked() {
		return false, nil
	}
	return true, a.e.Vault.UpdateSyncState(func(s *storage.SyncState) { s.Cursor = "" })
}

// CheckIn contacts the portal with the device key alone (no vault needed): it fetches
// policy and forms when they changed and records the contact, which lifts the offline lock
// (Device.CheckOffline). ErrRevoked means: wipe.
func CheckIn(ctx context.Context, c *Client, d *Device, dir string) error {
	p, tag, err := c.Policy(ctx, d.PolicyETag)
	switch {
	case errors.Is(err, ErrNotModified):
	case err != nil:
		return err
	default:
		d.Policy, d.PolicyETag = p, tag
	}
	forms, ftag, err := c.Forms(ctx, d.FormsETag)
	switch {
	case errors.Is(err, ErrNotModified):
	case err != nil:
		return err
	default:
		d.Forms, d.FormsETag = forms, ftag
	}
	d.LastContact = time.Now().UTC()
	if dir == "" {
		return nil
	}
	return d.Save(dir)
}

func (e *Engine) pull(ctx context.Context, sum *Summary) error {
	st, err := e.Vault.SyncState()
	if err != nil {
		return err
	}
	limit := e.PageSize
	if limit <= 0 {
		limit = portal.DefaultChangesLimit
	}
	cursor := st.Cursor
	for pages := 0; ; pages++ {
		page, err := e.Client.Changes(ctx, cursor, limit)
		var pe *portal.Problem
		if err != nil && pages == 0 && cursor != "" && errors.As(err, &pe) && pe.Type == portal.ProblemBadRequest {
			// The cursor is not of this portal's feed (another portal, or the portal was
			// restored from a backup): pull from the start; cases already here are
			// recognised by their revision.
			e.log().Warn("the portal does not know the stored cursor; pulling from the start", "cursor", cursor, "err", err)
			cursor = ""
			page, err = e.Client.Changes(ctx, cursor, limit)
		}
		if err != nil {
			return err
		}
		raws := make([][]byte, len(page.Changes))
		for i, ch := range page.Changes {
			raws[i] = ch.Case
		}
		ps, err := e.Vault.ApplyPull(raws, page.Next)
		if err != nil {
			return fmt.Errorf("store pulled changes: %w", err)
		}
		sum.Pulled += ps.New + ps.Updated + ps.Merged + ps.Conflicts
		sum.Merged += ps.Merged
		cursor = page.Next
		e.emit(Event{Phase: PhasePull, Done: sum.Pulled})
		if !page.More {
			return nil
		}
		if err := ctx.Err(); err != nil {
			return err
		}
	}
}

// attachmentSHAs returns the SHA-256s of attachments an op adds.
func attachmentSHAs(op storage.OutboxEntry) []string {
	var out []string
	for _, ch := range op.Patch {
		sha, ok := strings.CutPrefix(ch.Field, "attachments.")
		if ok && ch.New != "" && cases.ValidSHA256(sha) {
			out = append(out, sha)
		}
	}
	return out
}

// upload sends the attachments of waiting ops that the portal does not have yet.
func (e *Engine) upload(ctx context.Context, sum *Summary) error {
	ops, err := e.Vault.Outbox()
	if err != nil {
		return err
	}
	var shas []string
	seen := map[string]bool{}
	for _, op := range ops {
		for _, sha := range attachmentSHAs(op) {
			if !seen[sha] {
				seen[sha] = true
				shas = append(shas, sha)
			}
		}
	}
	for i, sha := range shas {
		n, err := e.UploadBlob(ctx, sha, func(b int64) {
			e.emit(Event{Phase: PhaseUpload, Done: i, Total: len(shas), Bytes: sum.BytesUp + b})
		})
		if errors.Is(err, storage.ErrNotFound) {
			// The op refers to an attachment this device does not hold (it was deleted):
			// the portal will refuse the op and tell the user.
			e.log().Warn("attachment of a waiting op is missing", "sha256", sha)
			continue
		}
		if err != nil {
			return fmt.Errorf("upload attachment %s: %w", sha[:12], err)
		}
		if n > 0 {
			sum.BlobsUp++
			sum.BytesUp += n
		}
		e.emit(Event{Phase: PhaseUpload, Done: i + 1, Total: len(shas), Bytes: sum.BytesUp})
	}
	return nil
}

// UploadBlob makes sure the portal holds blob sha, sending only what it lacks: it asks
// HEAD, sends the rest from there, and after a dropped connection asks again and
// continues — never from zero, never twice. It returns the bytes sent.
func (e *Engine) UploadBlob(ctx context.Context, sha string, progress func(int64)) (int64, error) {
	var sent int64
	backoff := 200 * time.Millisecond
	var lastErr error
	for attempt := 0; attempt < 12; attempt++ {
		if attempt > 0 {
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
				return sent, ctx.Err()
			}
			backoff = min(backoff*2, 10*time.Second)
		}
		st, err := e.Client.BlobHead(ctx, sha)
		if err != nil {
			if retryableErr(err) {
				lastErr = err
				continue
			}
			return sent, err
		}
		if st.Complete {
			return sent, nil
		}
		if st.Received > 0 {
			e.log().Info("attachment upload resumes", "sha256", sha[:12], "offset", st.Received, "attempt", attempt+1)
		}
		r, info, err := e.Vault.OpenBlob(sha)
		if err != nil {
			return sent, err
		}
		if st.Received > info.Size {
			r.Close()
			return sent, fmt.Errorf("%w: the portal holds %d bytes of a %d-byte attachment", ErrBadAnswer, st.Received, info.Size)
		}
		if _, err := io.CopyN(io.Discard, r, st.Received); err != nil {
			r.Close()
			return sent, fmt.Errorf("read attachment %s: %w", sha[:12], err)
		}
		cr := &countingReader{r: r, onRead: func(n int64) {
			if progress != nil {
				progress(sent + n)
			}
		}}
		res, err := e.Client.BlobPut(ctx, sha, cr, st.Received, info.Size)
		r.Close()
		sent += cr.n
		if err == nil && res.Complete {
			return sent, nil
		}
		if err != nil && !retryableErr(err) && !isUploadOffset(err) {
			return sent, err
		}
		lastErr = err
	}
	return sent, fmt.Errorf("%w: upload of attachment %s did not complete: %v", ErrPortalUnreachable, sha[:12], lastErr)
}

func retryableErr(err error) bool {
	return errors.Is(err, ErrPortalUnreachable)
}

func isUploadOffset(err error) bool {
	var p *portal.Problem
	return errors.As(err, &p) && p.Type == portal.ProblemUploadOffset
}

type countingReader struct {
	r      io.Reader
	n      int64
	onRead func(int64)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if n > 0 && c.onRead != nil {
		c.onRead(c.n)
	}
	return n, err
}

// push sends the outbox in batches and records each batch's answers in one
// transaction.
func (e *Engine) push(ctx context.Context, sum *Summary) error {
	size := e.BatchSize
	if size <= 0 {
		size = 100
	}
	size = min(size, portal.MaxOpsPerBatch)
	total, err := e.Vault.OutboxLen()
	if err != nil {
		return err
	}
	role := e.Role
	if role == "" {
		role = "sachbearbeitung"
	}
	done := 0
	// Requeued ops (after conflicts) are sent in the same run; the bound only stops a
	// portal that keeps answering nonsense.
	for rounds := 0; rounds < total/size+20; rounds++ {
		batch, err := e.Vault.OutboxBatch(size)
		if err != nil {
			return err
		}
		if len(batch) == 0 {
			return nil
		}
		ops := make([]portal.Op, len(batch))
		for i, b := range batch {
			ops[i] = portal.Op{OpID: b.OpID, CaseID: b.CaseID, Service: b.Service, BaseRevision: b.BaseRevision, Kind: b.Kind,
				Patch: b.Patch, User: b.User, Role: role, Created: b.Created}
		}
		resp, err := e.Client.PushOps(ctx, ops)
		if err != nil {
			return err
		}
		outs := make([]storage.OpOutcome, len(resp.Results))
		for i, r := range resp.Results {
			outs[i] = storage.OpOutcome{OpID: r.OpID, Status: r.Status, First: r.First, Case: r.Case,
				Fields: r.Fields, Reason: r.Reason, Conflicts: r.Conflict}
		}
		ps, err := e.Vault.RecordResults(outs)
		if err != nil {
			return fmt.Errorf("record the portal's answers: %w", err)
		}
		sum.Pushed += ps.Applied + ps.Duplicate
		sum.Rejected += ps.Rejected
		sum.Requeued += ps.Requeued
		done += len(batch)
		e.emit(Event{Phase: PhasePush, Done: done, Total: max(total, done)})
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	return fmt.Errorf("%w: the outbox does not drain", ErrBadAnswer)
}

// FetchBlob downloads attachment sha from the portal into the vault unless it is
// there already; a dropped connection resumes with Range where it stopped. The SHA-256
// is checked by the vault as it stores.
func (e *Engine) FetchBlob(ctx context.Context, sha string) error {
	if ok, err := e.Vault.HasBlob(sha); err != nil || ok {
		return err
	}
	rr := &resumingReader{ctx: ctx, c: e.Client, sha: sha}
	defer rr.close()
	info, err := e.Vault.PutBlob(rr, e.Device.maxBlob())
	if err != nil {
		return fmt.Errorf("download attachment %s: %w", sha[:12], err)
	}
	if info.SHA256 != sha {
		_ = e.Vault.DeleteBlob(info.SHA256)
		return fmt.Errorf("%w: attachment %s arrived with SHA-256 %s", ErrBadAnswer, sha[:12], info.SHA256[:12])
	}
	return nil
}

func (d *Device) maxBlob() int64 {
	if d == nil || d.Policy.MaxAttachmentBytes <= 0 {
		return storage.DefaultMaxBlobSize
	}
	return d.Policy.MaxAttachmentBytes
}

// resumingReader reads a blob from the portal and, when the connection drops,
// continues with a Range request from the offset reached.
type resumingReader struct {
	ctx      context.Context
	c        *Client
	sha      string
	body     io.ReadCloser
	off      int64
	attempts int
}

func (r *resumingReader) Read(p []byte) (int, error) {
	for {
		if r.body == nil {
			if r.attempts > 0 {
				select {
				case <-time.After(time.Duration(min(r.attempts, 6)) * 300 * time.Millisecond):
				case <-r.ctx.Done():
					return 0, r.ctx.Err()
				}
			}
			r.attempts++
			b, err := r.c.BlobGet(r.ctx, r.sha, r.off)
			if err != nil {
				if retryableErr(err) && r.attempts < 12 {
					continue
				}
				return 0, err
			}
			r.body = b
		}
		n, err := r.body.Read(p)
		r.off += int64(n)
		if err == io.EOF {
			return n, io.EOF
		}
		if err != nil {
			r.body.Close()
			r.body = nil
			if r.attempts >= 12 || r.ctx.Err() != nil {
				return n, fmt.Errorf("%w: download interrupted: %v", ErrPortalUnreachable, err)
			}
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, nil
	}
}

func (r *resumingReader) close() {
	if r.body != nil {
		r.body.Close()
	}
}
