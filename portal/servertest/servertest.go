// Package servertest runs the reference portal (portal/server) on loopback for tests
// of the device side: the sync engine, the CLI and the app test against the real
// server, never a mock.
package servertest

import (
	"log/slog"
	"net"
	"path/filepath"
	"testing"
	"time"

	"fieldoffice/portal/server"
)

// Portal is a running reference portal.
type Portal struct {
	t    testing.TB
	Dir  string // its data directory
	Addr string // host:port it listens on (kept across Restart)
	srv  *server.Server
	done chan error
}

// Start initialises a portal in a temporary directory and serves it on 127.0.0.1
// until the test ends.
func Start(t testing.TB) *Portal {
	t.Helper()
	p := &Portal{t: t, Dir: filepath.Join(t.TempDir(), "portal"), Addr: "127.0.0.1:0"}
	if err := server.Init(p.Dir, []string{"127.0.0.1", "localhost"}); err != nil {
		t.Fatal(err)
	}
	p.start()
	t.Cleanup(p.Stop)
	return p
}

func (p *Portal) start() {
	p.t.Helper()
	srv, err := server.Open(p.Dir, slog.New(slog.DiscardHandler))
	if err != nil {
		p.t.Fatal(err)
	}
	var ln net.Listener
	for i := 0; ; i++ { // after a restart the old socket may linger for a moment
		if ln, err = net.Listen("tcp", p.Addr); err == nil || i == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		srv.Close()
		p.t.Fatal(err)
	}
	p.Addr = ln.Addr().String()
	p.srv, p.done = srv, make(chan error, 1)
	go func() { p.done <- srv.Serve(ln) }()
	for p.srv.URL() == "" {
		time.Sleep(time.Millisecond)
	}
}

// Stop stops the portal (kills its connections); Start's cleanup calls it too.
func (p *Portal) Stop() {
	if p.srv == nil {
		return
	}
	p.srv.Close()
	<-p.done
	p.srv = nil
}

// Restart stops the portal and serves the same directory on the same address again.
func (p *Portal) Restart() {
	p.Stop()
	p.start()
}

// Server returns the running server.
func (p *Portal) Server() *server.Server { return p.srv }

// Store returns the running server's store (admin operations).
func (p *Portal) Store() *server.Store { return p.srv.Store() }

// URL returns https://host:port of the portal.
func (p *Portal) URL() string { return "https://" + p.Addr }
