package faultnet

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// Direction selects which half of a proxied connection a fault applies to.
// Directions combine as a bit mask; [Both] is Up|Down.
type Direction uint8

const (
	// Up is client → upstream: requests and uploads.
	Up Direction = 1 << iota
	// Down is upstream → client: responses and downloads.
	Down
	// Both is Up|Down.
	Both = Up | Down
)

// String returns "up", "down", "both" or "none".
func (d Direction) String() string {
	switch d & Both {
	case Up:
		return "up"
	case Down:
		return "down"
	case Both:
		return "both"
	}
	return "none"
}

// DirFaults are the faults of one direction. The zero value forwards
// bytes untouched. Negative numbers are treated as zero.
type DirFaults struct {
	// Latency delays every chunk of bytes by Latency ± Jitter, counted from
	// the moment the proxy read it. Chunks keep their order: a chunk whose
	// own delay has already passed still waits for the one before it.
	// Latency is pipelined (a long transfer is not slowed down by Latency
	// per chunk), like the propagation delay of a real link.
	Latency time.Duration
	// Jitter is the half-width of the uniform random spread around Latency.
	// A delay below zero is clamped to zero.
	Jitter time.Duration

	// Bandwidth limits the direction to this many bytes per second, per
	// connection, with a token bucket whose burst is 1/20 s worth of bytes
	// (at least 1 byte, at most 32 KiB). 0 means unlimited.
	Bandwidth int64

	// ResetAfter resets the connection (TCP RST to both the client and
	// upstream) once this many bytes have been forwarded in this direction
	// on it, counted from when the rule was armed (see ResetConns). At
	// most ResetAfter bytes are forwarded; the peer may read fewer, as a
	// reset can discard data still in flight. 0 disables the rule.
	ResetAfter int64
	// ResetConns bounds how many connections the ResetAfter rule hits:
	// 0 means every connection that reaches the threshold; n > 0 means
	// the first n that reach it, after which the rule is spent and
	// connections pass untouched. The count is per direction.
	ResetConns int

	// Stall stops forwarding in this direction: the proxy keeps the
	// connection open and reads ahead into a bounded queue, then stops
	// reading, so the sender's writes eventually block. Nothing, not even
	// an end-of-stream, is delivered until Stall is cleared (the queued
	// bytes then flow) or the connection is torn down (a reset from either
	// peer, [Proxy.ResetAll], [Proxy.Close]).
	Stall bool
}

// Faults is the whole fault configuration of a [Proxy]. The zero value
// injects nothing.
type Faults struct {
	Up   DirFaults // client → upstream
	Down DirFaults // upstream → client
	// Refuse makes the proxy accept each new connection and reset it at
	// once, without dialing upstream: the portal is down. Connections
	// already open are not affected.
	Refuse bool
}

func (f *Faults) dir(d Direction) *DirFaults {
	if d == Down {
		return &f.Down
	}
	return &f.Up
}

func (f *Faults) normalize() {
	for _, df := range []*DirFaults{&f.Up, &f.Down} {
		df.Latency = max(df.Latency, 0)
		df.Jitter = max(df.Jitter, 0)
		df.Bandwidth = max(df.Bandwidth, 0)
		df.ResetAfter = max(df.ResetAfter, 0)
		df.ResetConns = max(df.ResetConns, 0)
	}
}

// Stats are the proxy's counters since [New]. All are monotonic except Active.
//
// Bytes are counted just after they are written, so a peer may read the last
// chunk a moment before it shows here; once a connection has ended (Active
// has dropped), its counts are final. A reset is counted before either peer
// can see it.
type Stats struct {
	Accepted   int64 // connections accepted by the listener, refused ones included
	Refused    int64 // connections reset at once because of Faults.Refuse
	DialErrors int64 // connections reset because upstream could not be dialed
	Active     int64 // proxied connections open now
	BytesUp    int64 // bytes written to upstream (client → upstream)
	BytesDown  int64 // bytes written to clients (upstream → client)
	// Resets counts connections the proxy reset on purpose: by a
	// ResetAfter rule or by [Proxy.ResetAll]. Refused connections are
	// counted in Refused, not here; resets that a peer sent and the proxy
	// passed on are not counted.
	Resets int64
}

// resetRule is one arming of a ResetAfter rule; its identity tells links
// that the rule was (re)armed and their byte count starts over.
type resetRule struct {
	n       int64
	limited bool
	left    atomic.Int64
}

func newResetRule(df DirFaults) *resetRule {
	if df.ResetAfter <= 0 {
		return nil
	}
	r := &resetRule{n: df.ResetAfter, limited: df.ResetConns > 0}
	r.left.Store(int64(df.ResetConns))
	return r
}

// claim reports whether this rule may still reset one more connection, and
// if so uses up one of its hits.
func (r *resetRule) claim() bool {
	if !r.limited {
		return true
	}
	for {
		v := r.left.Load()
		if v <= 0 {
			return false
		}
		if r.left.CompareAndSwap(v, v-1) {
			return true
		}
	}
}

// state is an immutable snapshot of the configuration. Every change
// publishes a new one and closes the old one's changed channel, which wakes
// any pipe waiting on the old configuration.
type state struct {
	f       Faults
	rules   [2]*resetRule // [0] up, [1] down
	changed chan struct{}
}

func ruleIndex(d Direction) int {
	if d == Down {
		return 1
	}
	return 0
}

// Proxy is a TCP proxy from a loopback listener to one upstream address that
// injects faults. All methods are safe for concurrent use; fault changes take
// effect on open connections at their next chunk of bytes.
type Proxy struct {
	upstream string
	ln       net.Listener
	dialer   net.Dialer
	ctx      context.Context // canceled by Close; aborts dials
	cancel   context.CancelFunc

	mu     sync.Mutex // guards st updates, links, closed
	st     atomic.Pointer[state]
	links  map[*link]struct{}
	closed bool
	wg     sync.WaitGroup // accept loop and connection handlers

	closeOnce sync.Once
	closeErr  error

	accepted, refused, dialErrors, active atomic.Int64
	bytesUp, bytesDown, resets            atomic.Int64
}

// New starts a proxy listening on 127.0.0.1 on a free port that forwards each
// accepted connection to upstream (host:port, dialed anew per connection).
// It starts with no faults. The caller must call [Proxy.Close].
func New(upstream string) (*Proxy, error) {
	if _, _, err := net.SplitHostPort(upstream); err != nil {
		return nil, fmt.Errorf("faultnet: upstream %q: %w", upstream, err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("faultnet: listen: %w", err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &Proxy{
		upstream: upstream,
		ln:       ln,
		dialer:   net.Dialer{Timeout: 10 * time.Second},
		ctx:      ctx,
		cancel:   cancel,
		links:    make(map[*link]struct{}),
	}
	p.st.Store(&state{changed: make(chan struct{})})
	p.wg.Add(1)
	go p.acceptLoop()
	return p, nil
}

// Addr returns the address clients connect to, "127.0.0.1:port".
func (p *Proxy) Addr() string { return p.ln.Addr().String() }

// Upstream returns the address given to [New].
func (p *Proxy) Upstream() string { return p.upstream }

// Close stops the listener, closes every open connection (a plain close,
// not a reset) and waits until all of the proxy's goroutines have returned.
// Later calls return the first call's result.
func (p *Proxy) Close() error {
	p.closeOnce.Do(func() {
		p.mu.Lock()
		p.closed = true
		links := p.snapshotLocked()
		p.mu.Unlock()
		p.closeErr = p.ln.Close()
		p.cancel()
		for _, l := range links {
			l.teardown(false)
		}
		p.wg.Wait()
	})
	return p.closeErr
}

// SetFaults replaces the whole configuration with f. Every ResetAfter rule in
// f is armed anew: its byte count starts over on every connection and its
// ResetConns budget is full again.
func (p *Proxy) SetFaults(f Faults) {
	f.normalize()
	p.update(func(s *state) {
		s.f = f
		s.rules[0] = newResetRule(f.Up)
		s.rules[1] = newResetRule(f.Down)
	})
}

// Faults returns the configuration in force.
func (p *Proxy) Faults() Faults { return p.st.Load().f }

// Clear removes every fault, as SetFaults(Faults{}). Stalled connections
// resume, and queued bytes are delivered without further delay.
func (p *Proxy) Clear() { p.SetFaults(Faults{}) }

// SetLatency sets Latency and Jitter of the directions in d, leaving other
// faults alone. Zero latency and jitter remove the fault.
func (p *Proxy) SetLatency(d Direction, latency, jitter time.Duration) {
	p.updateDirs(d, func(df *DirFaults, _ int) {
		df.Latency, df.Jitter = max(latency, 0), max(jitter, 0)
	})
}

// SetBandwidth limits the directions in d to bytesPerSecond each, per
// connection. 0 removes the limit.
func (p *Proxy) SetBandwidth(d Direction, bytesPerSecond int64) {
	p.updateDirs(d, func(df *DirFaults, _ int) { df.Bandwidth = max(bytesPerSecond, 0) })
}

// SetResetAfter arms (or re-arms) a ResetAfter rule in each direction of d:
// connections are reset once n bytes have passed in that direction, counted
// from now. conns is the number of connections to hit per direction, 0 for
// all of them. n = 0 removes the rule.
func (p *Proxy) SetResetAfter(d Direction, n int64, conns int) {
	p.updateDirs(d, func(df *DirFaults, _ int) {
		df.ResetAfter, df.ResetConns = max(n, 0), max(conns, 0)
	}, func(s *state, i int, df DirFaults) { s.rules[i] = newResetRule(df) })
}

// SetStall stalls (on) or resumes (off) the directions in d.
func (p *Proxy) SetStall(d Direction, on bool) {
	p.updateDirs(d, func(df *DirFaults, _ int) { df.Stall = on })
}

// SetRefuse makes new connections be reset at once (on), or proxied again (off).
func (p *Proxy) SetRefuse(on bool) {
	p.update(func(s *state) { s.f.Refuse = on })
}

// ResetAll resets every open connection now: both the client and upstream
// get a TCP RST. It returns how many connections it reset. Faults are left
// alone and new connections are accepted as usual.
func (p *Proxy) ResetAll() int {
	p.mu.Lock()
	links := p.snapshotLocked()
	p.mu.Unlock()
	n := 0
	for _, l := range links {
		if l.inject() {
			n++
		}
	}
	return n
}

// Stats returns a snapshot of the counters. Each counter is read atomically,
// but not all of them at one instant.
func (p *Proxy) Stats() Stats {
	return Stats{
		Accepted:   p.accepted.Load(),
		Refused:    p.refused.Load(),
		DialErrors: p.dialErrors.Load(),
		Active:     p.active.Load(),
		BytesUp:    p.bytesUp.Load(),
		BytesDown:  p.bytesDown.Load(),
		Resets:     p.resets.Load(),
	}
}

func (p *Proxy) update(fn func(s *state)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	old := p.st.Load()
	ns := &state{f: old.f, rules: old.rules, changed: make(chan struct{})}
	fn(ns)
	p.st.Store(ns)
	close(old.changed)
}

// updateDirs applies set to the DirFaults of each direction in d, then each
// of after (with the updated DirFaults).
func (p *Proxy) updateDirs(d Direction, set func(df *DirFaults, i int), after ...func(s *state, i int, df DirFaults)) {
	if d&Both == 0 {
		return
	}
	p.update(func(s *state) {
		for _, one := range []Direction{Up, Down} {
			if d&one == 0 {
				continue
			}
			i := ruleIndex(one)
			df := s.f.dir(one)
			set(df, i)
			for _, fn := range after {
				fn(s, i, *df)
			}
		}
	})
}

func (p *Proxy) snapshotLocked() []*link {
	links := make([]*link, 0, len(p.links))
	for l := range p.links {
		links = append(links, l)
	}
	return links
}

func (p *Proxy) acceptLoop() {
	defer p.wg.Done()
	var backoff time.Duration
	for {
		c, err := p.ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) || p.ctx.Err() != nil {
				return
			}
			// Transient (e.g. out of file descriptors): back off like net/http.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			select {
			case <-time.After(backoff):
				continue
			case <-p.ctx.Done():
				return
			}
		}
		backoff = 0
		p.accepted.Add(1)
		if p.st.Load().f.Refuse {
			p.refused.Add(1)
			resetConn(c)
			continue
		}
		l := &link{p: p, client: c, done: make(chan struct{})}
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			c.Close()
			return
		}
		p.links[l] = struct{}{}
		p.active.Add(1)
		p.wg.Add(1)
		p.mu.Unlock()
		go p.handle(l)
	}
}

func (p *Proxy) handle(l *link) {
	defer p.wg.Done()
	defer func() {
		p.mu.Lock()
		delete(p.links, l)
		p.mu.Unlock()
		p.active.Add(-1)
	}()

	up, err := p.dialer.DialContext(p.ctx, "tcp", p.upstream)
	if err != nil {
		if p.ctx.Err() == nil {
			p.dialErrors.Add(1)
		}
		// Upstream unreachable: reset the client, the nearest thing to
		// the "connection refused" it would get without the proxy.
		l.teardown(true)
		return
	}
	if !l.setUpstream(up) {
		up.Close() // torn down (ResetAll or Close) while dialing
		return
	}
	l.run()
}

// resetConn closes c with a TCP RST instead of a FIN.
func resetConn(c net.Conn) {
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	_ = c.Close()
}
