package sync

import (
	"context"
	"errors"
	"net"
	"net/url"
	stdsync "sync"
	"time"
)

// Reasons a background run starts (Background.OnResult gets them).
const (
	ReasonUnlock   = "unlock"   // the vault was unlocked
	ReasonNow      = "now"      // the user asked ("Jetzt synchronisieren")
	ReasonEdit     = "edit"     // shortly after a local change
	ReasonNetwork  = "network"  // the portal became reachable again
	ReasonInterval = "interval" // the policy's sync interval passed
)

// Background runs syncs for the GUI: on unlock, when asked, shortly after a local
// edit (edits in quick succession make one run), when the network comes back after a
// run failed for lack of it, and every Interval. Never two runs at a time: a trigger
// during a run makes one more run afterwards.
type Background struct {
	// Run performs one sync (normally Engine.Run). Required.
	Run func(ctx context.Context) (Summary, error)
	// OnResult is told about every run, on the background goroutine.
	OnResult func(reason string, s Summary, err error)
	// Interval between periodic runs (the policy's sync interval); 0 = none.
	Interval time.Duration
	// EditDelay is how long after the last local edit a run starts; default 5 s.
	EditDelay time.Duration
	// Probe reports whether the portal is reachable (default: a TCP connect to
	// ProbeAddr). Used after a run failed with ErrPortalUnreachable, every ProbeEvery.
	Probe      func(ctx context.Context) bool
	ProbeAddr  string        // host:port of the portal
	ProbeEvery time.Duration // default 15 s

	mu      stdsync.Mutex
	trigger chan string
	edit    chan struct{}
	cancel  context.CancelFunc
	done    chan struct{}
	running bool
}

// ProbeAddrOf returns host:port of a portal URL for Background.ProbeAddr.
func ProbeAddrOf(portalURL string) string {
	u, err := url.Parse(portalURL)
	if err != nil {
		return ""
	}
	if u.Port() == "" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return u.Host
}

// Start starts the loop; Stop ends it. Start on a started Background does nothing.
func (b *Background) Start(ctx context.Context) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.running {
		return
	}
	if b.EditDelay <= 0 {
		b.EditDelay = 5 * time.Second
	}
	if b.ProbeEvery <= 0 {
		b.ProbeEvery = 15 * time.Second
	}
	if b.Probe == nil {
		addr := b.ProbeAddr
		b.Probe = func(ctx context.Context) bool {
			if addr == "" {
				return true
			}
			d := net.Dialer{Timeout: 3 * time.Second}
			c, err := d.DialContext(ctx, "tcp", addr)
			if err != nil {
				return false
			}
			c.Close()
			return true
		}
	}
	ctx, b.cancel = context.WithCancel(ctx)
	b.trigger = make(chan string, 1)
	b.edit = make(chan struct{}, 1)
	b.done = make(chan struct{})
	b.running = true
	go b.loop(ctx)
}

// Stop ends the loop and waits for a run in progress to end (its context is
// cancelled).
func (b *Background) Stop() {
	b.mu.Lock()
	if !b.running {
		b.mu.Unlock()
		return
	}
	b.running = false
	cancel, done := b.cancel, b.done
	b.mu.Unlock()
	cancel()
	<-done
}

// Trigger asks for a run now (reason ReasonUnlock or ReasonNow).
func (b *Background) Trigger(reason string) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running {
		return
	}
	select {
	case b.trigger <- reason:
	default: // a run is asked for already
	}
}

// Edited tells the loop that the user changed something locally.
func (b *Background) Edited() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.running {
		return
	}
	select {
	case b.edit <- struct{}{}:
	default:
	}
}

func (b *Background) loop(ctx context.Context) {
	defer close(b.done)
	var interval <-chan time.Time
	if b.Interval > 0 {
		t := time.NewTicker(b.Interval)
		defer t.Stop()
		interval = t.C
	}
	var editTimer *time.Timer
	var editC <-chan time.Time
	var probe <-chan time.Time
	var probeTicker *time.Ticker
	stopProbe := func() {
		if probeTicker != nil {
			probeTicker.Stop()
			probeTicker, probe = nil, nil
		}
	}
	defer stopProbe()
	run := func(reason string) {
		s, err := b.Run(ctx)
		if b.OnResult != nil && ctx.Err() == nil {
			b.OnResult(reason, s, err)
		}
		if errors.Is(err, ErrPortalUnreachable) {
			if probeTicker == nil {
				probeTicker = time.NewTicker(b.ProbeEvery)
				probe = probeTicker.C
			}
		} else {
			stopProbe()
		}
	}
	for {
		select {
		case <-ctx.Done():
			if editTimer != nil {
				editTimer.Stop()
			}
			return
		case reason := <-b.trigger:
			run(reason)
		case <-b.edit:
			if editTimer == nil {
				editTimer = time.NewTimer(b.EditDelay)
			} else {
				editTimer.Reset(b.EditDelay)
			}
			editC = editTimer.C
		case <-editC:
			editC = nil
			run(ReasonEdit)
		case <-interval:
			run(ReasonInterval)
		case <-probe:
			if b.Probe(ctx) {
				stopProbe()
				run(ReasonNetwork)
			}
		}
	}
}
