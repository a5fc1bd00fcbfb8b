package faultnet

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestPassThroughIntegrity10MiB(t *testing.T) {
	checkLeaks(t)
	p := newProxy(t, startEcho(t))
	c := dial(t, p.Addr())

	const size = 10 << 20
	data := pattern(size)
	werr := make(chan error, 1)
	go func() {
		_, err := c.Write(data)
		if err == nil {
			err = c.CloseWrite()
		}
		werr <- err
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	if err := <-werr; err != nil {
		t.Fatalf("write: %v", err)
	}
	if len(got) != size || sha256.Sum256(got) != sha256.Sum256(data) {
		t.Fatalf("echoed %d bytes that differ from the %d sent", len(got), size)
	}
	eventually(t, "byte counters reach 10 MiB", func() bool {
		s := p.Stats()
		return s.BytesUp == size && s.BytesDown == size
	})
	if s := p.Stats(); s.Accepted != 1 || s.Resets != 0 || s.Refused != 0 {
		t.Errorf("stats = %+v, want 1 accepted, no resets or refusals", s)
	}
}

func TestHalfClose(t *testing.T) {
	checkLeaks(t)
	payload := pattern(100 << 10)

	// The client half-closes first: the server reads to EOF, then answers.
	clientFirst := startTCP(t, func(c *net.TCPConn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "got %d", n)
		c.CloseWrite()
	})
	// The server half-closes first: it greets, closes its writing half,
	// then keeps reading; it reports what it read.
	serverRead := make(chan int64, 10)
	serverFirst := startTCP(t, func(c *net.TCPConn) {
		io.WriteString(c, "hello")
		c.CloseWrite()
		n, _ := io.Copy(io.Discard, c)
		serverRead <- n
	})

	for _, tc := range []struct {
		name   string
		faults Faults
	}{
		{"no faults", Faults{}},
		{"latency", Faults{Up: DirFaults{Latency: 20 * time.Millisecond}, Down: DirFaults{Latency: 20 * time.Millisecond, Jitter: 10 * time.Millisecond}}},
		{"bandwidth", Faults{Up: DirFaults{Bandwidth: 1 << 20}, Down: DirFaults{Bandwidth: 1 << 20}}},
	} {
		t.Run(tc.name+"/client closes first", func(t *testing.T) {
			p := newProxy(t, clientFirst)
			p.SetFaults(tc.faults)
			c := dial(t, p.Addr())
			if _, err := c.Write(payload); err != nil {
				t.Fatal(err)
			}
			if err := c.CloseWrite(); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(c)
			if err != nil {
				t.Fatalf("read after CloseWrite: %v", err)
			}
			if want := fmt.Sprintf("got %d", len(payload)); string(got) != want {
				t.Fatalf("server answered %q, want %q", got, want)
			}
		})
		t.Run(tc.name+"/server closes first", func(t *testing.T) {
			p := newProxy(t, serverFirst)
			p.SetFaults(tc.faults)
			c := dial(t, p.Addr())
			got, err := io.ReadAll(c) // EOF must come through while Up stays open
			if err != nil || string(got) != "hello" {
				t.Fatalf("read = %q, %v; want hello, EOF", got, err)
			}
			if _, err := c.Write(payload); err != nil {
				t.Fatalf("write after the server's half-close: %v", err)
			}
			c.CloseWrite()
			select {
			case n := <-serverRead:
				if n != int64(len(payload)) {
					t.Fatalf("server read %d bytes, want %d", n, len(payload))
				}
			case <-time.After(5 * time.Second):
				t.Fatal("server never saw the client's half-close")
			}
		})
	}
}

func TestLatency(t *testing.T) {
	checkLeaks(t)
	addr := startEcho(t)
	const ms = time.Millisecond
	for _, tc := range []struct {
		name     string
		set      func(p *Proxy)
		minRound time.Duration // lower bound of an echo round trip
	}{
		{"up only", func(p *Proxy) { p.SetLatency(Up, 80*ms, 0) }, 80 * ms},
		{"down only", func(p *Proxy) { p.SetLatency(Down, 80*ms, 0) }, 80 * ms},
		{"both", func(p *Proxy) { p.SetLatency(Both, 50*ms, 0) }, 100 * ms},
		{"both with jitter", func(p *Proxy) { p.SetLatency(Both, 60*ms, 20*ms) }, 80 * ms},
		{"via SetFaults", func(p *Proxy) {
			p.SetFaults(Faults{Up: DirFaults{Latency: 30 * ms}, Down: DirFaults{Latency: 70 * ms, Jitter: 10 * ms}})
		}, 90 * ms},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, addr)
			tc.set(p)
			c := dial(t, p.Addr())
			buf := make([]byte, 1)
			for i := range 3 {
				start := time.Now()
				if _, err := c.Write([]byte{byte(i)}); err != nil {
					t.Fatal(err)
				}
				if _, err := io.ReadFull(c, buf); err != nil {
					t.Fatal(err)
				}
				// Lower bound only; 1 ms of slack for clock granularity.
				if rtt := time.Since(start); rtt < tc.minRound-time.Millisecond {
					t.Errorf("round trip %d took %v, want ≥ %v", i, rtt, tc.minRound)
				}
			}
		})
	}
}

// With jitter larger than the gap between writes, chunks would overtake each
// other if the proxy did not keep them in order.
func TestLatencyJitterKeepsOrder(t *testing.T) {
	checkLeaks(t)
	p := newProxy(t, startEcho(t))
	p.SetLatency(Both, 5*time.Millisecond, 5*time.Millisecond)
	c := dial(t, p.Addr())
	var sent bytes.Buffer
	go func() {
		for i := range 300 {
			msg := fmt.Appendf(nil, "%05d;", i)
			sent.Write(msg) // only this goroutine touches sent until CloseWrite
			c.Write(msg)
			time.Sleep(100 * time.Microsecond)
		}
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, sent.Bytes()) {
		t.Fatalf("echo out of order or corrupted:\n got %.80q…\nwant %.80q…", got, sent.Bytes())
	}
}

func TestBandwidth(t *testing.T) {
	checkLeaks(t)
	const (
		size = 200_000
		rate = 100_000 // bytes per second
		// (size - burst) / rate is about 1.95 s; the bound leaves slack.
		minDur = 1500 * time.Millisecond
	)
	data := pattern(size)
	// Reads everything, then says how much.
	sink := startTCP(t, func(c *net.TCPConn) {
		n, _ := io.Copy(io.Discard, c)
		fmt.Fprintf(c, "%d", n)
	})
	source := startTCP(t, func(c *net.TCPConn) { c.Write(data) })

	for _, tc := range []struct {
		name     string
		dir      Direction
		upstream string
		transfer func(t *testing.T, c *net.TCPConn)
	}{
		{"upload", Up, sink, func(t *testing.T, c *net.TCPConn) {
			if _, err := c.Write(data); err != nil {
				t.Fatal(err)
			}
			c.CloseWrite()
			got, err := io.ReadAll(c)
			if err != nil || string(got) != strconv.Itoa(size) {
				t.Fatalf("sink answered %q, %v", got, err)
			}
		}},
		{"download", Down, source, func(t *testing.T, c *net.TCPConn) {
			got, err := io.ReadAll(c)
			if err != nil || !bytes.Equal(got, data) {
				t.Fatalf("downloaded %d bytes, %v; want %d intact", len(got), err, size)
			}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := newProxy(t, tc.upstream)
			p.SetBandwidth(tc.dir, rate)
			c := dial(t, p.Addr())
			start := time.Now()
			tc.transfer(t, c)
			if d := time.Since(start); d < minDur {
				t.Errorf("%d bytes at %d B/s took %v, want ≥ %v", size, rate, d, minDur)
			}
			s := p.Stats()
			if got := map[Direction]int64{Up: s.BytesUp, Down: s.BytesDown}[tc.dir]; got != size {
				t.Errorf("bytes forwarded %s = %d, want %d", tc.dir, got, size)
			}
		})
	}
}

// The token bucket on a simulated clock: the long-run rate is the one asked
// for, from 1 B/s to 10 MB/s.
func TestBucketRate(t *testing.T) {
	for _, rate := range []int64{1, 1_000, 100_000, 10_000_000} {
		t.Run(strconv.FormatInt(rate, 10), func(t *testing.T) {
			var b bucket
			total := 10 * rate // ten seconds' worth
			piece := int64(pieceSize(rate))
			now := time.Unix(0, 0)
			start := now
			for sent := int64(0); sent < total; {
				n := min(piece, total-sent)
				now = now.Add(b.reserve(rate, int(n), now))
				sent += n
			}
			want := time.Duration(float64(total-piece) / float64(rate) * float64(time.Second))
			if got := now.Sub(start); got < want-time.Millisecond || got > want+time.Millisecond {
				t.Errorf("sending %d bytes took %v of simulated time, want %v", total, got, want)
			}
		})
	}
}

func TestResetAfterHTTP(t *testing.T) {
	checkLeaks(t)
	body := pattern(1 << 20)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			n, err := io.Copy(io.Discard, r.Body)
			if err != nil {
				return // the connection was reset under us
			}
			fmt.Fprintf(w, "%d", n)
			return
		}
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name     string
		dir      Direction
		conns    int
		wantFail []bool // per request, each on a new connection
	}{
		{"download once", Down, 1, []bool{true, false, false}},
		{"download every connection", Down, 0, []bool{true, true, true}},
		{"download twice", Down, 2, []bool{true, true, false}},
		{"upload once", Up, 1, []bool{true, false}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, srv.Listener.Addr().String())
			client := newHTTPClient(t, 10*time.Second)
			client.Transport.(*http.Transport).DisableKeepAlives = true
			p.SetResetAfter(tc.dir, 64<<10, tc.conns)

			wantResets := int64(0)
			for i, wantFail := range tc.wantFail {
				var err error
				if tc.dir == Down {
					err = get(client, "http://"+p.Addr(), body)
				} else {
					err = put(client, "http://"+p.Addr(), body)
				}
				if wantFail {
					wantResets++
					if err == nil {
						t.Fatalf("request %d succeeded; want it cut by the reset", i)
					}
					if tc.dir == Down && !isResetOrTruncated(err) {
						t.Errorf("request %d: error %v, want ECONNRESET or unexpected EOF", i, err)
					}
				} else if err != nil {
					t.Fatalf("request %d: %v; want success (rule spent)", i, err)
				}
				if got := p.Stats().Resets; got != wantResets {
					t.Fatalf("after request %d: Resets = %d, want %d", i, got, wantResets)
				}
			}
		})
	}
}

// get fetches url and checks the body is want.
func get(client *http.Client, url string, want []byte) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if !bytes.Equal(got, want) {
		return fmt.Errorf("body: %d bytes, differing from the %d expected", len(got), len(want))
	}
	return nil
}

// put uploads body to url and checks the server read all of it.
func put(client *http.Client, url string, body []byte) error {
	req, err := http.NewRequest(http.MethodPut, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if string(got) != strconv.Itoa(len(body)) {
		return fmt.Errorf("server read %q bytes, want %d", got, len(body))
	}
	return nil
}

// ResetAfter forwards exactly n bytes, resets both sides, and counts from
// when the rule is armed on a connection that is already open.
func TestResetAfterExactBytes(t *testing.T) {
	checkLeaks(t)
	p := newProxy(t, startEcho(t))
	c := dial(t, p.Addr())

	roundTrip := func(n int) {
		t.Helper()
		msg := pattern(n)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, n)
		if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo of %d bytes: %v", n, err)
		}
	}
	roundTrip(3000)                                  // before the rule: not counted
	p.SetResetAfter(Up, 1000, 0)                     // armed now
	roundTrip(999)                                   // one byte short
	if _, err := c.Write([]byte("xy")); err != nil { // 1 more passes, then reset
		t.Fatal(err)
	}
	_, err := io.ReadAll(c)
	if !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read after the threshold: %v, want ECONNRESET", err)
	}
	s := p.Stats()
	if s.BytesUp != 3000+1000 || s.Resets != 1 {
		t.Fatalf("stats = %+v; want BytesUp 4000, Resets 1", s)
	}
	eventually(t, "the reset connection is gone", func() bool { return p.Stats().Active == 0 })
}

func TestStallHTTP(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)

	for _, dir := range []Direction{Up, Down, Both} {
		t.Run(dir.String(), func(t *testing.T) {
			p := newProxy(t, srv.Listener.Addr().String())
			client := newHTTPClient(t, 300*time.Millisecond)
			target := "http://" + p.Addr()

			p.SetStall(dir, true)
			err := get(client, target, []byte("ok"))
			var ue *url.Error
			if !errors.As(err, &ue) || !ue.Timeout() {
				t.Fatalf("stalled request: err = %v, want a client timeout", err)
			}
			p.SetStall(dir, false)
			if err := get(client, target, []byte("ok")); err != nil {
				t.Fatalf("request after clearing the stall: %v", err)
			}
		})
	}
}

// A stall holds back data and the end of stream alike; clearing it delivers
// both, in order.
func TestStallHoldsEOF(t *testing.T) {
	checkLeaks(t)
	p := newProxy(t, startTCP(t, func(c *net.TCPConn) { io.WriteString(c, "late") }))
	p.SetStall(Down, true)
	c := dial(t, p.Addr())

	c.SetReadDeadline(time.Now().Add(200 * time.Millisecond))
	n, err := c.Read(make([]byte, 10))
	var ne net.Error
	if n != 0 || !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read while stalled = %d, %v; want nothing until the deadline", n, err)
	}
	if s := p.Stats(); s.BytesDown != 0 {
		t.Fatalf("BytesDown = %d while stalled, want 0", s.BytesDown)
	}

	c.SetReadDeadline(time.Time{})
	p.Clear()
	got, err := io.ReadAll(c)
	if err != nil || string(got) != "late" {
		t.Fatalf("after Clear: %q, %v; want \"late\" then EOF", got, err)
	}
}

func TestRefuse(t *testing.T) {
	checkLeaks(t)
	var upstreamConns atomic.Int64
	addr := startTCP(t, func(c *net.TCPConn) {
		upstreamConns.Add(1)
		echo(c)
	})
	p := newProxy(t, addr)

	before := dial(t, p.Addr()) // opened while the portal is up
	echoOnce(t, before, "a")

	p.SetRefuse(true)
	for i := range 3 {
		if err := dialAndRead(p.Addr()); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
			t.Fatalf("refused conn %d: %v; want ECONNRESET or EOF", i, err)
		}
	}
	echoOnce(t, before, "b") // open connections carry on

	p.SetRefuse(false)
	echoOnce(t, dial(t, p.Addr()), "c")

	s := p.Stats()
	if s.Refused != 3 || s.Accepted != 5 || upstreamConns.Load() != 2 {
		t.Fatalf("stats = %+v, upstream saw %d conns; want 3 refused of 5 accepted, 2 upstream",
			s, upstreamConns.Load())
	}
}

func TestRefuseHTTP(t *testing.T) {
	checkLeaks(t)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok")
	}))
	t.Cleanup(srv.Close)
	p := newProxy(t, srv.Listener.Addr().String())
	client := newHTTPClient(t, 5*time.Second)
	client.Transport.(*http.Transport).DisableKeepAlives = true

	p.SetRefuse(true)
	if err := get(client, "http://"+p.Addr(), []byte("ok")); err == nil {
		t.Fatal("request to a refusing proxy succeeded")
	}
	if p.Stats().Refused == 0 {
		t.Fatal("Refused = 0: the fault never fired")
	}
	p.SetRefuse(false)
	if err := get(client, "http://"+p.Addr(), []byte("ok")); err != nil {
		t.Fatalf("after SetRefuse(false): %v", err)
	}
}

// dialAndRead connects to addr and reads one byte: the error of whichever
// fails. The proxy accepts and resets a refused connection so soon that the
// reset can arrive while connect is still returning.
func dialAndRead(addr string) error {
	c, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, err = c.Read(make([]byte, 1))
	return err
}

func echoOnce(t *testing.T, c net.Conn, msg string) {
	t.Helper()
	if _, err := io.WriteString(c, msg); err != nil {
		t.Fatalf("echo %q: %v", msg, err)
	}
	got := make([]byte, len(msg))
	if _, err := io.ReadFull(c, got); err != nil || string(got) != msg {
		t.Fatalf("echo %q: got %q, %v", msg, got, err)
	}
}

func TestResetAllDuringUpload(t *testing.T) {
	checkLeaks(t)
	const head = 256 << 10
	halfway := make(chan struct{})
	serverErr := make(chan error, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, err := io.CopyN(io.Discard, r.Body, head); err != nil {
			serverErr <- err
			return
		}
		close(halfway)
		_, err := io.Copy(io.Discard, r.Body) // never ends by itself
		serverErr <- err
	}))
	t.Cleanup(srv.Close)
	p := newProxy(t, srv.Listener.Addr().String())
	client := newHTTPClient(t, 10*time.Second)

	// An upload that never ends unless something breaks it.
	pr, pw := io.Pipe()
	t.Cleanup(func() { pr.Close() })
	go func() {
		chunk := pattern(32 << 10)
		for {
			if _, err := pw.Write(chunk); err != nil {
				return
			}
		}
	}()
	req, err := http.NewRequest(http.MethodPut, "http://"+p.Addr()+"/upload", pr)
	if err != nil {
		t.Fatal(err)
	}
	clientErr := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		clientErr <- err
	}()

	select {
	case <-halfway:
	case err := <-serverErr:
		t.Fatalf("server: %v before the reset", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the upload never got going")
	}
	if n := p.ResetAll(); n != 1 {
		t.Fatalf("ResetAll() = %d, want 1", n)
	}
	if err := <-clientErr; err == nil {
		t.Fatal("upload succeeded despite the reset")
	}
	if err := <-serverErr; err == nil || !isResetOrTruncated(err) {
		t.Fatalf("server read error %v, want a reset or a truncated body", err)
	}
	// Once the connection is gone, its counts are final.
	eventually(t, "the reset connection is gone", func() bool { return p.Stats().Active == 0 })
	s := p.Stats()
	if s.Resets != 1 || s.BytesUp < head {
		t.Fatalf("stats = %+v; want 1 reset, ≥ %d bytes up", s, head)
	}
	if n := p.ResetAll(); n != 0 {
		t.Fatalf("second ResetAll() = %d, want 0", n)
	}
}

func TestTLS(t *testing.T) {
	checkLeaks(t)
	body := pattern(1 << 20)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		w.Write(body)
	}))
	t.Cleanup(srv.Close)

	for _, tc := range []struct {
		name    string
		faults  Faults
		wantErr bool
	}{
		{"pass-through", Faults{}, false},
		{"latency and bandwidth", Faults{
			Up:   DirFaults{Latency: 10 * time.Millisecond, Jitter: 5 * time.Millisecond},
			Down: DirFaults{Latency: 10 * time.Millisecond, Bandwidth: 8 << 20},
		}, false},
		{"reset mid-body", Faults{Down: DirFaults{ResetAfter: 100 << 10}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := newProxy(t, srv.Listener.Addr().String())
			p.SetFaults(tc.faults)
			tr := srv.Client().Transport.(*http.Transport).Clone()
			t.Cleanup(tr.CloseIdleConnections)
			client := &http.Client{Transport: tr, Timeout: 10 * time.Second}

			err := get(client, "https://"+p.Addr(), body)
			if tc.wantErr {
				if err == nil || !isResetOrTruncated(err) {
					t.Fatalf("err = %v, want a reset mid-body", err)
				}
				if p.Stats().Resets != 1 {
					t.Fatalf("Resets = %d, want 1", p.Stats().Resets)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			// The client stops at Content-Length; the proxy counts a chunk
			// just after writing it, so the last one may not be counted yet.
			eventually(t, "BytesDown ≥ body size (body plus TLS overhead)", func() bool {
				return p.Stats().BytesDown >= int64(len(body))
			})
		})
	}
}

func TestCounters(t *testing.T) {
	checkLeaks(t)
	p := newProxy(t, startEcho(t))
	var conns []*net.TCPConn
	for i := range 3 {
		c := dial(t, p.Addr())
		echoOnce(t, c, string(pattern(100*(i+1))))
		conns = append(conns, c)
	}
	eventually(t, "3 active connections", func() bool { return p.Stats().Active == 3 })
	for _, c := range conns {
		c.Close()
	}
	eventually(t, "no active connection", func() bool { return p.Stats().Active == 0 })
	want := Stats{Accepted: 3, BytesUp: 600, BytesDown: 600}
	if s := p.Stats(); s != want {
		t.Fatalf("stats = %+v, want %+v", s, want)
	}
}

func TestDialError(t *testing.T) {
	checkLeaks(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more

	p := newProxy(t, addr)
	if err := dialAndRead(p.Addr()); !errors.Is(err, io.EOF) && !errors.Is(err, syscall.ECONNRESET) {
		t.Fatalf("read through a proxy whose upstream is down: %v; want ECONNRESET or EOF", err)
	}
	eventually(t, "a dial error", func() bool { return p.Stats().DialErrors == 1 })
}

// Faults change under traffic from another goroutine; the data still
// arrives intact, and the race detector sees the changes.
func TestRuntimeChanges(t *testing.T) {
	checkLeaks(t)
	p := newProxy(t, startEcho(t))
	c := dial(t, p.Addr())
	data := pattern(2 << 20)

	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(2 * time.Millisecond):
			}
			switch i % 5 {
			case 0:
				p.SetLatency(Both, time.Millisecond, time.Millisecond)
			case 1:
				p.SetBandwidth(Down, 20<<20)
			case 2:
				p.SetStall(Up, true)
			case 3:
				p.SetStall(Up, false)
				_ = p.Faults()
				_ = p.Stats()
			case 4:
				p.SetFaults(Faults{Down: DirFaults{Latency: time.Millisecond}})
			}
		}
	}()
	go func() {
		c.Write(data)
		c.CloseWrite()
	}()
	got, err := io.ReadAll(c)
	close(stop)
	wg.Wait()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("echo under changing faults: %d of %d bytes, %v", len(got), len(data), err)
	}
}

// Close returns, and every goroutine ends, whatever state the connections
// are in: stalled with data queued, half-closed, waiting out a latency,
// throttled, idle, or still dialing.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	checkLeaks(t)
	addr := startEcho(t)
	hold := make(chan struct{})
	mute := startTCP(t, func(c *net.TCPConn) { // reads to EOF, never answers
		io.Copy(io.Discard, c)
		<-hold
	})
	t.Cleanup(func() { close(hold) })
	p := newProxy(t, mute)
	stalled := newProxyWith(t, addr, func(p *Proxy) { p.SetStall(Both, true) })
	slow := newProxyWith(t, addr, func(p *Proxy) {
		p.SetLatency(Down, time.Hour, 0)
		p.SetBandwidth(Up, 1)
	})

	var (
		clients []net.Conn
		writers sync.WaitGroup
	)
	open := func(addr string, send int) *net.TCPConn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		if send > 0 {
			// May block on a full proxy; Close unblocks it.
			writers.Add(1)
			go func() { defer writers.Done(); c.Write(pattern(send)) }()
		}
		return c.(*net.TCPConn)
	}
	open(p.Addr(), 0)              // idle
	open(p.Addr(), 0).CloseWrite() // half-closed
	open(stalled.Addr(), 4<<20)    // stalled, with the queue full
	open(slow.Addr(), 1<<10)       // throttled to 1 B/s, echo held for an hour
	eventually(t, "connections registered", func() bool {
		return p.Stats().Active == 2 && stalled.Stats().Active == 1 && slow.Stats().Active == 1
	})

	for _, p := range []*Proxy{p, stalled, slow} {
		done := make(chan error, 1)
		go func() { done <- p.Close() }()
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
		case <-time.After(5 * time.Second):
			t.Fatal("Close hung")
		}
		if err := p.Close(); err != nil { // idempotent
			t.Fatalf("second Close: %v", err)
		}
		if a := p.Stats().Active; a != 0 {
			t.Fatalf("Active = %d after Close", a)
		}
	}
	for _, c := range clients {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.ReadAll(c); err != nil && !isResetOrTruncated(err) {
			t.Errorf("client read after Close: %v, want EOF", err)
		}
		c.Close()
	}
	writers.Wait()
	p.SetFaults(Faults{Refuse: true}) // harmless after Close
	if c, err := net.Dial("tcp", p.Addr()); err == nil {
		c.Close()
		t.Error("proxy still accepts after Close")
	}
}

// New2 is New with faults set before any connection, closed by t.Cleanup.
func newProxyWith(t *testing.T, upstream string, set func(*Proxy)) *Proxy {
	p := newProxy(t, upstream)
	set(p)
	return p
}

func TestNewBadUpstream(t *testing.T) {
	if _, err := New("no-port"); err == nil {
		t.Fatal("New accepted an address without a port")
	}
}

func TestDirectionString(t *testing.T) {
	for d, want := range map[Direction]string{Up: "up", Down: "down", Both: "both", 0: "none"} {
		if got := d.String(); got != want {
			t.Errorf("Direction(%d).String() = %q, want %q", d, got, want)
		}
	}
}
