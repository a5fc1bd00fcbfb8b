package faultnet

import (
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"sync"
	"syscall"
	"time"
)

const (
	readBufSize = 32 << 10 // largest chunk a reader produces
	queueLen    = 64       // chunks in flight per direction, between reader and writer
)

// link is one proxied connection: a client conn, its upstream conn and two
// pipes (up and down), each a reader goroutine feeding a writer goroutine
// through a bounded queue.
type link struct {
	p      *Proxy
	client net.Conn
	done   chan struct{} // closed by teardown

	mu       sync.Mutex // guards upstream, torn
	upstream net.Conn
	torn     bool
}

// setUpstream records the dialed upstream conn; false if the link was torn
// down meanwhile (the caller then closes up).
func (l *link) setUpstream(up net.Conn) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.torn {
		return false
	}
	l.upstream = up
	return true
}

// teardown closes both conns, with a TCP RST if reset, and wakes every
// goroutine of the link. Only the first call acts; it reports whether this
// call was the one.
func (l *link) teardown(reset bool) bool {
	return l.close(reset, false)
}

// inject is teardown by a fault: it resets the link and counts it in
// Stats.Resets (before any peer can see the reset).
func (l *link) inject() bool {
	return l.close(true, true)
}

func (l *link) close(reset, injected bool) bool {
	l.mu.Lock()
	if l.torn {
		l.mu.Unlock()
		return false
	}
	l.torn = true
	up := l.upstream
	l.mu.Unlock()
	if injected {
		l.p.resets.Add(1)
	}
	close(l.done)
	for _, c := range []net.Conn{l.client, up} {
		if c == nil {
			continue
		}
		if reset {
			resetConn(c)
		} else {
			_ = c.Close()
		}
	}
	return true
}

// abort tears the link down after an I/O error: a reset received from one
// peer is passed on to the other as a reset, anything else as a close.
func (l *link) abort(err error) {
	l.teardown(errors.Is(err, syscall.ECONNRESET))
}

// run forwards both directions until each has delivered its end of stream,
// or the link is torn down, and returns when all its goroutines have.
func (l *link) run() {
	pipes := []*pipe{
		{l: l, dir: Up, src: l.client, dst: l.upstream},
		{l: l, dir: Down, src: l.upstream, dst: l.client},
	}
	var readers, writers sync.WaitGroup
	for _, pp := range pipes {
		pp.q = make(chan chunk, queueLen)
		readers.Add(1)
		writers.Add(1)
		go func() { defer readers.Done(); pp.read() }()
		go func() { defer writers.Done(); pp.write() }()
	}
	writers.Wait()
	// Both ends of stream delivered (half-closes done), or torn down.
	l.teardown(false)
	readers.Wait()
}

// chunk is what a reader read in one call, or the end of stream.
type chunk struct {
	data []byte
	eof  bool
	read time.Time // when the proxy read it
	frac float64   // jitter sample in [-1, 1)
}

// pipe forwards one direction of a link.
type pipe struct {
	l        *link
	dir      Direction
	src, dst net.Conn
	q        chan chunk

	// Writer-only state.
	bucket   bucket
	written  int64      // bytes forwarded by this pipe
	rule     *resetRule // last ResetAfter rule seen
	ruleBase int64      // written when rule was first seen
	exempt   bool       // rule's budget was spent when this pipe reached it
}

func (pp *pipe) read() {
	buf := make([]byte, readBufSize)
	for {
		n, err := pp.src.Read(buf)
		if n > 0 {
			c := chunk{data: append([]byte(nil), buf[:n]...), read: time.Now(), frac: rand.Float64()*2 - 1}
			if !pp.send(c) {
				return
			}
		}
		if err != nil {
			if err == io.EOF {
				pp.send(chunk{eof: true, read: time.Now(), frac: rand.Float64()*2 - 1})
			} else {
				pp.l.abort(err) // no-op if the error comes from our own teardown
			}
			return
		}
	}
}

func (pp *pipe) send(c chunk) bool {
	select {
	case pp.q <- c:
		return true
	case <-pp.l.done:
		return false
	}
}

func (pp *pipe) write() {
	for {
		var c chunk
		select {
		case c = <-pp.q:
		case <-pp.l.done:
			return
		}
		if !pp.delay(c) {
			return
		}
		if c.eof {
			if pp.waitStall() == nil {
				return
			}
			if err := closeWrite(pp.dst); err != nil {
				pp.l.abort(err)
			}
			return
		}
		if !pp.forward(c.data) {
			return
		}
	}
}

// forward writes b to dst piece by piece, applying stall, bandwidth and
// ResetAfter. It returns false if the link is gone.
func (pp *pipe) forward(b []byte) bool {
	for len(b) > 0 {
		st := pp.waitStall()
		if st == nil {
			return false
		}
		df := st.f.dir(pp.dir)
		n := len(b)
		if rate := df.Bandwidth; rate > 0 {
			n = min(n, pieceSize(rate))
			if d := pp.bucket.reserve(rate, n, time.Now()); d > 0 {
				if !pp.throttle(rate, time.Now().Add(d)) {
					return false
				}
				// A stall may have been set meanwhile.
				if st = pp.waitStall(); st == nil {
					return false
				}
			}
		} else {
			pp.bucket.rate = 0
		}

		reset := false
		if r := st.rules[ruleIndex(pp.dir)]; r != nil {
			if r != pp.rule {
				pp.rule, pp.ruleBase, pp.exempt = r, pp.written, false
			}
			if !pp.exempt {
				left := r.n - (pp.written - pp.ruleBase)
				if int64(n) >= left {
					if r.claim() {
						n, reset = int(left), true
					} else {
						pp.exempt = true
					}
				}
			}
		}

		if n > 0 {
			w, err := pp.dst.Write(b[:n])
			pp.written += int64(w)
			if pp.dir == Up {
				pp.l.p.bytesUp.Add(int64(w))
			} else {
				pp.l.p.bytesDown.Add(int64(w))
			}
			if err != nil {
				pp.l.abort(err)
				return false
			}
		}
		b = b[n:]
		if reset {
			pp.l.inject()
			return false
		}
	}
	return true
}

// waitStall returns the configuration once this direction is not stalled,
// or nil if the link was torn down first.
func (pp *pipe) waitStall() *state {
	for {
		st := pp.l.p.st.Load()
		if !st.f.dir(pp.dir).Stall {
			return st
		}
		select {
		case <-st.changed:
		case <-pp.l.done:
			return nil
		}
	}
}

// delay waits until c is due under the latency in force (re-evaluated when
// the configuration changes). It returns false if the link is gone.
func (pp *pipe) delay(c chunk) bool {
	for {
		st := pp.l.p.st.Load()
		df := st.f.dir(pp.dir)
		d := df.Latency + time.Duration(c.frac*float64(df.Jitter))
		wait := time.Until(c.read.Add(d))
		if wait <= 0 {
			return true
		}
		switch pp.sleep(wait, st.changed) {
		case slept:
			return true
		case linkGone:
			return false
		}
	}
}

// throttle waits until deadline, cut short if the bandwidth changes from
// rate. It returns false if the link is gone.
func (pp *pipe) throttle(rate int64, deadline time.Time) bool {
	for {
		st := pp.l.p.st.Load()
		wait := time.Until(deadline)
		if st.f.dir(pp.dir).Bandwidth != rate || wait <= 0 {
			return true
		}
		if pp.sleep(wait, st.changed) == linkGone {
			return false
		}
	}
}

type wakeReason int

const (
	slept wakeReason = iota
	configChanged
	linkGone
)

func (pp *pipe) sleep(d time.Duration, changed <-chan struct{}) wakeReason {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return slept
	case <-changed:
		return configChanged
	case <-pp.l.done:
		return linkGone
	}
}

func closeWrite(c net.Conn) error {
	if cw, ok := c.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return c.Close()
}

// pieceSize is the most a writer sends at once under a bandwidth limit, and
// the bucket's burst: 1/20 s worth of bytes, within [1, readBufSize].
func pieceSize(rate int64) int {
	return int(min(max(rate/20, 1), readBufSize))
}

// bucket is a token bucket for one pipe. Tokens may go negative: reserve
// takes n tokens and says how long to wait for the debt to be paid.
type bucket struct {
	rate   int64 // 0: not in use; a new rate starts a full bucket
	tokens float64
	last   time.Time
}

func (b *bucket) reserve(rate int64, n int, now time.Time) time.Duration {
	burst := float64(pieceSize(rate))
	if rate != b.rate {
		b.rate, b.tokens, b.last = rate, burst, now
	} else {
		b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*float64(rate))
		b.last = now
	}
	b.tokens -= float64(n)
	if b.tokens >= 0 {
		return 0
	}
	return time.Duration(-b.tokens / float64(rate) * float64(time.Second))
}
