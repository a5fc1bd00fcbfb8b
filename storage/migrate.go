package storage

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// Schema migrations
//
// The header's format_version says which layout a vault file has. Version 1 is the
// first format (cases as cases.Record JSON in bucket "cases"); every later version is
// reached by a migration step registered in [migrations] (a step's file adds itself
// in an init function). [FormatVersion] — the version Create writes — is the highest
// `to` of the registered steps, so registering a step is all it takes to move the
// format on.
//
// Values are sealed, so steps need the data key: they run at Unlock (and Recover),
// right after the key slot opened, the header MAC verified and the anti-rollback check
// passed, before the keys are installed — nothing reads data in the old layout.
//
// Each step runs in its own bbolt transaction, which also writes the header with
// format_version = step.to, the header MAC, the sealed entry counts and the
// anti-rollback head record. A crash therefore leaves the vault at the version of the
// last completed step, and the next Unlock carries on from there; a step that fails
// rolls back its transaction and Unlock fails with the vault still at the old version
// (and locked). One transaction per step bounds what bbolt keeps in memory to one step
// and keeps completed steps.
//
// A vault written by a newer FieldOffice (format_version above FormatVersion) is
// refused at Open with [ErrNewerFormat]: never a silent downgrade. A version that no
// chain of steps leads from is refused at Open too.

// baseFormatVersion is the first vault format, the one that needs no migration step.
const baseFormatVersion = 1

// migration is one step from format `from` to format `to` (to > from). run gets a
// read-write Tx on the data buckets (sealing with the vault's keys; tx.btx for bucket
// operations a Tx does not offer) and the time the migration started.
type migration struct {
	from, to int
	run      func(tx *Tx, now time.Time) error
}

// migrations is the step list, in any order; steps must chain from baseFormatVersion
// to FormatVersion() without gaps or forks. Steps register themselves in init
// functions (storage/migrate_v2.go: v1→v2).
var migrations []migration

// ErrNewerFormat is returned by Open for a vault written by a newer FieldOffice.
var ErrNewerFormat = errors.New("the vault was written by a newer FieldOffice; update the app")

// FormatVersion returns the newest vault format, the one Create writes and Unlock
// migrates to: the highest `to` of the registered migration steps (1 without any).
func FormatVersion() int {
	v := baseFormatVersion
	for _, m := range migrations {
		v = max(v, m.to)
	}
	return v
}

// migrationPath returns the steps that lead from format `from` to FormatVersion(), in
// order. It fails when a step is missing or two steps start at the same version.
func migrationPath(from int) ([]migration, error) {
	cur := FormatVersion()
	var path []migration
	for v := from; v < cur; {
		var next *migration
		for i := range migrations {
			m := &migrations[i]
			if m.from != v {
				continue
			}
			if next != nil {
				return nil, fmt.Errorf("two migration steps from format %d (to %d and %d)", v, next.to, m.to)
			}
			next = m
		}
		if next == nil || next.to <= v || next.run == nil {
			return nil, fmt.Errorf("no migration step from format %d (this app writes format %d)", v, cur)
		}
		path = append(path, *next)
		v = next.to
	}
	return path, nil
}

// checkFormatVersion is called by Open with the header's format version: a newer
// format is refused (ErrNewerFormat), so is an older one that cannot be migrated.
func checkFormatVersion(path string, n int) error {
	cur := FormatVersion()
	switch {
	case n > cur:
		return fmt.Errorf("%w: %s is format %d, written by a newer FieldOffice; this app reads formats up to %d: update the app", ErrNewerFormat, path, n, cur)
	case n < baseFormatVersion:
		return &CorruptError{Path: path, Reason: fmt.Sprintf("invalid format version %d", n)}
	}
	if _, err := migrationPath(n); err != nil {
		return &CorruptError{Path: path, Reason: fmt.Sprintf("format %d cannot be migrated by this app: %v", n, err)}
	}
	return nil
}

// migrate runs the pending migration steps for a vault at hdr.FormatVersion, one
// transaction per step (see the package comment above), and returns the header as
// written by the last step. k are the vault's keys (not yet installed); rb, when not
// nil, re-MACs the anti-rollback head record in each step's transaction (the audit
// head may change).
func (v *Vault) migrate(k *keys, hdr header, rb *rollbackCheck) (header, error) {
	if hdr.FormatVersion >= FormatVersion() {
		return hdr, nil
	}
	steps, err := migrationPath(hdr.FormatVersion)
	if err != nil {
		return hdr, fmt.Errorf("migrate vault: %w", err)
	}
	start := time.Now()
	v.log.Info("migrating vault format", "from", hdr.FormatVersion, "to", FormatVersion(), "steps", len(steps))
	for _, m := range steps {
		stepStart := time.Now()
		next := hdr
		next.FormatVersion = m.to
		err := v.update(func(btx *bolt.Tx) error {
			if err := verifyMAC(btx, &k.mac); err != nil {
				return err
			}
			var on header
			if err := json.Unmarshal(btx.Bucket(bucketMeta).Get(metaHeader), &on); err != nil || on.FormatVersion != m.from {
				return fmt.Errorf("header changed during migration (format %d, expected %d)", on.FormatVersion, m.from)
			}
			tx := &Tx{v: v, btx: btx, k: k, counts: map[string]int64{}}
			if err := callUser(func() error { return m.run(tx, start.UTC()) }); err != nil {
				return err
			}
			if err := tx.flushCounts(); err != nil {
				return err
			}
			hb, err := json.Marshal(next)
			if err != nil {
				return err
			}
			if err := btx.Bucket(bucketMeta).Put(metaHeader, hb); err != nil {
				return err
			}
			if rb != nil {
				if err := rb.rewriteHead(btx, k, &next); err != nil {
					return err
				}
			}
			return writeMAC(btx, &k.mac)
		})
		if err != nil {
			v.log.Error("vault format migration failed", "from", m.from, "to", m.to, "err", err)
			return hdr, fmt.Errorf("migrate vault from format %d to %d: %w", m.from, m.to, err)
		}
		hdr = next
		v.mu.Lock()
		v.hdr = hdr
		v.mu.Unlock()
		v.log.Info("vault format migrated", "from", m.from, "to", m.to, "took", time.Since(stepStart).Round(time.Millisecond))
	}
	v.log.Info("vault format migration done", "format", hdr.FormatVersion, "took", time.Since(start).Round(time.Millisecond))
	return hdr, nil
}
