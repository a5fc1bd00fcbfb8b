package storage

import (
	"fmt"
	"log/slog"

	"fieldoffice/platform"
)

// OpenDevice opens the vault in dir together with the TPM that protects it: the one
// named by spec, or — when spec is empty — the one recorded in the vault at creation.
// It is what the app and the admin commands use. The vault is returned locked and owns
// the TPM: Close closes both. The in-process simulator is logged as a warning, since it
// protects nothing.
func OpenDevice(dir, spec string, logger *slog.Logger, opts ...OpenOption) (*Vault, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	cfg := Config{Dir: dir, Logger: logger}
	for _, o := range opts {
		o(&cfg)
	}
	v, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	if spec == "" {
		spec = v.Status().TPMSpec
	}
	s, err := platform.ParseSpec(spec)
	if err != nil {
		v.Close()
		return nil, fmt.Errorf("TPM for vault %s: %w", v.path, err)
	}
	var tpm platform.TPM
	if s.Kind != platform.KindNone {
		if s.Kind == platform.KindSim {
			logger.Warn("using the in-process TPM simulator: the vault key is not protected by any hardware (tests and demo only)", "spec", s.String())
		}
		if tpm, err = platform.Open(s, platform.WithLogger(logger)); err != nil {
			v.Close()
			return nil, fmt.Errorf("open TPM %s: %w", s, err)
		}
	}
	v.mu.Lock()
	v.cfg.TPM, v.cfg.Spec, v.ownedTPM = tpm, s, tpm
	v.mu.Unlock()
	return v, nil
}

// OpenOption changes how OpenDevice opens the vault.
type OpenOption func(*Config)

// WithBackgroundCheck makes OpenDevice return once the header and key slots are
// checked and finish the structure check in the background (Config.BackgroundCheck).
func WithBackgroundCheck() OpenOption {
	return func(c *Config) { c.BackgroundCheck = true }
}

// TPM returns the TPM the vault uses (nil for a vault without one). The device's
// mTLS key lives in the same TPM (platform.LoadDeviceKey); callers must not close it.
func (v *Vault) TPM() platform.TPM {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.cfg.TPM
}
