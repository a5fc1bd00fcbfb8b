package server

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// shutdownGrace is how long Close lets running requests finish.
const shutdownGrace = 3 * time.Second

// Server serves a portal: the device API over TLS and the admin API on DIR/admin.sock.
type Server struct {
	store       *Store
	log         *slog.Logger
	tls         *tls.Config
	leaf        *x509.Certificate
	adminSecret string

	mu      sync.Mutex
	serving bool
	closed  bool
	https   *http.Server
	admin   *http.Server
	url     string
}

// Open opens the portal in dir for serving: the store (see [OpenStore]), the server
// certificate (re-issued from the CA when it expires within 30 days) and the admin
// secret. logger receives the request log and events; nil discards them.
func Open(dir string, logger *slog.Logger) (*Server, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	st, err := OpenStore(dir, logger)
	if err != nil {
		return nil, err
	}
	s, err := newServer(st, logger)
	if err != nil {
		st.Close()
		return nil, err
	}
	return s, nil
}

func newServer(st *Store, logger *slog.Logger) (*Server, error) {
	cert, renewed, err := loadServerCert(st.dir, st.ca, st.now().UTC())
	if err != nil {
		return nil, err
	}
	if renewed {
		logger.Info("server certificate renewed", "expires", cert.Leaf.NotAfter)
	}
	secret, err := os.ReadFile(filepath.Join(st.dir, fileAdminSecret))
	if err != nil {
		return nil, fmt.Errorf("read admin secret: %w", err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(st.ca.cert)
	s := &Server{store: st, log: logger, leaf: cert.Leaf, adminSecret: strings.TrimSpace(string(secret))}
	s.tls = &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{cert},
		ClientAuth:   tls.VerifyClientCertIfGiven,
		ClientCAs:    pool,
		NextProtos:   []string{"h2", "http/1.1"},
	}
	return s, nil
}

// Store returns the server's store (for admin operations in the same process).
func (s *Server) Store() *Store { return s.store }

// Handler returns the device API with the request log, as Serve runs it. It relies
// on the connection's TLS state for client certificates.
func (s *Server) Handler() http.Handler {
	return logRequests(s.log, &api{store: s.store, log: s.log})
}

// TLSConfig returns a copy of the TLS configuration Serve uses: TLS 1.3 only, the
// server certificate with the CA in its chain, client certificates of the portal CA
// verified when given.
func (s *Server) TLSConfig() *tls.Config { return s.tls.Clone() }

// URL returns the https URL of the running Serve ("" before). An unspecified listen
// address (0.0.0.0, ::) is named by the first host of the server certificate (the
// first one given to Init).
func (s *Server) URL() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.url
}

// listenURL returns https://HOST:PORT for a listen address.
func (s *Server) listenURL(addr net.Addr) string {
	host, port, err := net.SplitHostPort(addr.String())
	if err != nil {
		return "https://" + addr.String()
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = s.leaf.Subject.CommonName // the first host given to Init
		if host == "" {
			host = "localhost"
		}
	}
	return "https://" + net.JoinHostPort(host, port)
}

// Serve answers the device API on l (TLS is added here: l is a plain TCP listener)
// and the admin API on DIR/admin.sock until Close. It records the URL for
// `portald token create`. It returns nil after Close, an error when it could not
// start (another Serve running, the admin socket) or serving failed.
func (s *Server) Serve(l net.Listener) error {
	admin, adminLn, err := s.start(l)
	if err != nil {
		l.Close()
		return err
	}
	s.log.Info("portal serving", "url", s.URL(), "ca_sha256", s.store.CAFingerprint())
	adminDone := make(chan error, 1)
	go func() { adminDone <- admin.Serve(adminLn) }()
	err = s.https.Serve(tls.NewListener(l, s.tls))
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	if aerr := <-adminDone; err == nil && !errors.Is(aerr, http.ErrServerClosed) {
		err = aerr
	}
	return err
}

// start prepares both servers under the lock, so that a Close racing with Serve sees
// them (or Serve sees the close).
func (s *Server) start(l net.Listener) (*http.Server, net.Listener, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return nil, nil, ErrServerClosed
	case s.serving:
		return nil, nil, errors.New("portal server: Serve is already running")
	}
	url := s.listenURL(l.Addr())
	if err := s.store.setListenURL(url); err != nil {
		return nil, nil, fmt.Errorf("record listen URL: %w", err)
	}
	adminLn, err := listenAdmin(s.store.dir)
	if err != nil {
		return nil, nil, err
	}
	errLog := slog.NewLogLogger(s.log.Handler(), slog.LevelDebug) // TLS handshake noise
	s.https = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          errLog,
	}
	s.admin = &http.Server{
		Handler:           logRequests(s.log.With("api", "admin"), s.adminHandler()),
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          errLog,
	}
	s.serving, s.url = true, url
	return s.admin, adminLn, nil
}

// listenAdmin listens on DIR/admin.sock (mode 0600), replacing a stale socket: the
// caller holds portal.db's lock, so no other server uses the directory.
func listenAdmin(dir string) (net.Listener, error) {
	path := filepath.Join(dir, fileAdminSock)
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("remove stale admin socket: %w", err)
	}
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("admin socket %s (a Unix socket path has at most 107 bytes): %w", path, err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("admin socket: %w", err)
	}
	return ln, nil
}

// Close stops serving (running requests get shutdownGrace to finish), removes the
// admin socket and closes the store. It is safe to call more than once; the
// directory can then be opened again.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	servers := []*http.Server{s.https, s.admin}
	s.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	var errs []error
	for _, srv := range servers {
		if srv == nil {
			continue
		}
		if err := srv.Shutdown(ctx); err != nil {
			errs = append(errs, srv.Close())
		}
	}
	if err := os.Remove(filepath.Join(s.store.dir, fileAdminSock)); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, err)
	}
	errs = append(errs, s.store.Close())
	return errors.Join(errs...)
}
