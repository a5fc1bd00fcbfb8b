package platform

import (
	"log/slog"
	"sync/atomic"

	"github.com/google/go-tpm/tpm2/transport"
)

// Option configures Open.
type Option func(*options)

type options struct {
	counter *atomic.Int64
	logger  *slog.Logger
}

// WithCommandCounter makes the opened TPM add one to n for every command it sends to
// the TPM (including session setup and flushes). Tests use it to keep the number of
// TPM round trips per operation in check; a real TPM takes 10–200 ms per command.
func WithCommandCounter(n *atomic.Int64) Option {
	return func(o *options) { o.counter = n }
}

// WithLogger sets the logger for notable events (such as opening the in-process
// simulator). Secrets and auth values are never logged.
func WithLogger(l *slog.Logger) Option {
	return func(o *options) { o.logger = l }
}

func buildOptions(opts []Option) options {
	var o options
	for _, opt := range opts {
		if opt != nil {
			opt(&o)
		}
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// countingTPM wraps a transport and counts the commands sent through it.
type countingTPM struct {
	next transport.TPM
	n    *atomic.Int64
}

// Send implements transport.TPM.
func (c *countingTPM) Send(cmd []byte) ([]byte, error) {
	c.n.Add(1)
	return c.next.Send(cmd)
}

// wrapTransport applies the options that wrap the transport.
// Every command is counted, including resends after TPM_RC_RETRY.
func (o options) wrapTransport(t transport.TPM) transport.TPM {
	if o.counter != nil {
		t = &countingTPM{next: t, n: o.counter}
	}
	return &retryTPM{next: t}
}
