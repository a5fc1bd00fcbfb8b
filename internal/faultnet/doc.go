// Package faultnet is a TCP proxy for tests that injects network faults
// between a client (the sync engine) and a real server (the portal).
//
// It works on bytes, below any protocol: HTTP, TLS, or anything else passes
// through unchanged when no fault is set. It plays the role Toxiproxy plays
// elsewhere, in-process and with no daemon.
//
// # Setting up
//
// Start the real server, put a proxy in front of it, and point the client at
// the proxy instead of the server:
//
//	srv := httptest.NewServer(portalHandler)
//	t.Cleanup(srv.Close)
//	p, err := faultnet.New(srv.Listener.Addr().String())
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(func() { p.Close() })
//	client := syncengine.New("http://" + p.Addr())
//
// For a TLS server, dial the proxy with the server's TLS config: the proxy
// listens on 127.0.0.1, which the httptest certificates cover.
//
// Faults can be set, changed and cleared at any time, from any goroutine,
// while traffic flows. Open connections see a change at their next chunk of
// bytes. Set one fault at a time with the Set* methods, or the whole
// configuration at once with [Proxy.SetFaults]; [Proxy.Clear] removes all.
//
// # Directions
//
// Every fault but Refuse applies to one direction of the connection: [Up]
// is client → upstream (requests, uploads), [Down] is upstream → client
// (responses, downloads). Set methods take a [Direction] mask, so [Both]
// sets the same fault in each direction, independently (two bandwidth
// limits, two ResetAfter rules with a budget each).
//
// # The faults, and what they model
//
// Latency and jitter ([Proxy.SetLatency]) model a slow or distant link:
// every chunk the proxy reads is delivered Latency ± Jitter after it was
// read, in order. Latency is pipelined as on a real link: up to 64 chunks
// per direction are in flight at once, so a bulk transfer is not slowed down
// by the latency of every chunk. A request/response round trip gains the Up
// latency plus the Down latency.
//
//	p.SetLatency(faultnet.Both, 150*time.Millisecond, 50*time.Millisecond)
//
// Bandwidth ([Proxy.SetBandwidth]) models a thin pipe (a field office on a
// mobile connection): a token bucket per connection and direction, smooth
// from 1 byte/s to megabytes per second. Use it to make a transfer last long
// enough to interrupt it, or to check progress reporting and timeouts that
// must not fire on slow-but-alive transfers.
//
//	p.SetBandwidth(faultnet.Up, 50_000) // 50 KB/s uploads
//
// ResetAfter ([Proxy.SetResetAfter]) models a connection that dies in the
// middle of a transfer (a NAT box dropping state, a mobile handover): once n
// bytes have gone through in that direction, both the client and upstream
// get a TCP RST. The client sees ECONNRESET, or an unexpected EOF if it read
// a length-delimited body. The rule hits every connection, or only the
// first few to reach the threshold, which is how to test that a retry on a
// fresh connection succeeds:
//
//	// The first download dies after 64 KiB; the retry gets through.
//	p.SetResetAfter(faultnet.Down, 64<<10, 1)
//
// Stall ([Proxy.SetStall]) models a black hole: the connection stays open
// but nothing arrives, no data and no FIN. Only the client's own timeouts
// get it out. Clearing the stall delivers what was held back. A client that
// gives up and closes its socket does not end a stalled connection inside
// the proxy (a close looks like a half-close until something is written to
// it); that connection ends when the stall is cleared, or by ResetAll or
// Close.
//
//	p.SetStall(faultnet.Down, true)   // the server "never answers"
//	_, err := client.Do(req)          // fails by the client's timeout
//	p.SetStall(faultnet.Down, false)
//
// Refuse ([Proxy.SetRefuse]) models the portal being down: every new
// connection is accepted and reset at once, without reaching upstream.
// Connections already open carry on.
//
// ResetAll ([Proxy.ResetAll]) is the one-shot fault: it resets every open
// connection right now, e.g. in the middle of an upload once the server has
// seen part of it.
//
// # Checking that a fault fired
//
// A test that sets a fault should check that it fired, or it may pass for
// the wrong reason. [Proxy.Stats] counts accepted and refused connections,
// bytes forwarded per direction, and the resets the proxy injected:
//
//	p.SetResetAfter(faultnet.Down, 64<<10, 1)
//	err := engine.Sync(ctx)
//	if got := p.Stats().Resets; got != 1 {
//		t.Fatalf("resets = %d, want 1 (the fault never fired)", got)
//	}
//
// # Connection semantics
//
// Each accepted connection is forwarded to a new connection to upstream.
// A half-close is passed on: when one side shuts down its writing half, the
// other side reads EOF once the data before it has been delivered (after any
// latency or stall), and the opposite direction keeps flowing. A reset
// received from one side is passed on to the other as a reset. When the
// upstream cannot be dialed, the client is reset.
//
// [Proxy.Close] closes the listener and every connection and waits for all
// of the proxy's goroutines, so a test that closes its proxy leaks none.
//
// # Limitations
//
// Faults act on chunks of bytes as the proxy reads them, not on TCP segments
// or packets: there is no packet loss or reordering, and timings are as
// precise as the Go scheduler and timers (a millisecond or so). The proxy
// holds up to 64 chunks (at most 32 KiB each) per direction, so a stalled or
// throttled sender is held back by the proxy's buffer plus the kernel's
// socket buffers, not at once.
package faultnet
