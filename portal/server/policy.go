package server

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/portal"
)

func readPolicy(tx *bolt.Tx) (portal.Policy, error) {
	var p portal.Policy
	if err := json.Unmarshal(tx.Bucket(bucketMeta).Get(metaPolicy), &p); err != nil {
		return p, fmt.Errorf("portal.db: policy: %w", err)
	}
	return p, nil
}

// Policy returns the current device policy.
func (s *Store) Policy() (portal.Policy, error) {
	var p portal.Policy
	err := s.db.View(func(tx *bolt.Tx) error {
		var err error
		p, err = readPolicy(tx)
		return err
	})
	return p, err
}

// PolicyKeys are the settings SetPolicy accepts, with what a value must be.
var PolicyKeys = map[string]string{
	"idle_lock_minutes":     "minutes, 1…1440",
	"max_offline_days":      "days, 1…365",
	"min_pin_length":        "digits, 4…64",
	"pcrs":                  "comma-separated PCR indexes 0…23, or empty",
	"allow_software_keys":   "true or false",
	"services":              "comma-separated service IDs, or empty for all",
	"max_attachment_bytes":  "bytes, 1…10737418240",
	"sync_interval_minutes": "minutes, 1…1440",
}

// SetPolicy changes settings of the device policy (key → value as text, see
// PolicyKeys) and raises its version by one, in one transaction. Devices fetch it
// with GET /v1/policy. Unknown keys, bad values and unknown services give
// [ErrInvalidInput] and change nothing.
func (s *Store) SetPolicy(changes map[string]string) (portal.Policy, error) {
	if len(changes) == 0 {
		return portal.Policy{}, fmt.Errorf("%w: no setting given (KEY=VALUE; keys: %s)", ErrInvalidInput, strings.Join(slices.Sorted(maps.Keys(PolicyKeys)), ", "))
	}
	var p portal.Policy
	err := s.db.Update(func(tx *bolt.Tx) error {
		var err error
		if p, err = readPolicy(tx); err != nil {
			return err
		}
		for _, k := range slices.Sorted(maps.Keys(changes)) {
			if err := s.setPolicyKey(&p, k, strings.TrimSpace(changes[k])); err != nil {
				return err
			}
		}
		p.Version++
		return putJSON(tx.Bucket(bucketMeta), metaPolicy, p)
	})
	if err != nil {
		return portal.Policy{}, err
	}
	s.log.Info("policy changed", "version", p.Version, "keys", slices.Sorted(maps.Keys(changes)))
	return p, nil
}

func (s *Store) setPolicyKey(p *portal.Policy, key, val string) error {
	bad := func() error {
		want, ok := PolicyKeys[key]
		if !ok {
			return fmt.Errorf("%w: unknown policy setting %q (known: %s)", ErrInvalidInput, key, strings.Join(slices.Sorted(maps.Keys(PolicyKeys)), ", "))
		}
		return fmt.Errorf("%w: %s=%q: want %s", ErrInvalidInput, key, val, want)
	}
	intIn := func(dst *int, lo, hi int) error {
		n, err := strconv.Atoi(val)
		if err != nil || n < lo || n > hi {
			return bad()
		}
		*dst = n
		return nil
	}
	switch key {
	case "idle_lock_minutes":
		return intIn(&p.IdleLockMinutes, 1, 1440)
	case "max_offline_days":
		return intIn(&p.MaxOfflineDays, 1, 365)
	case "min_pin_length":
		return intIn(&p.MinPINLength, 4, 64)
	case "sync_interval_minutes":
		return intIn(&p.SyncIntervalMinutes, 1, 1440)
	case "max_attachment_bytes":
		n, err := strconv.ParseInt(val, 10, 64)
		if err != nil || n < 1 || n > 10<<30 {
			return bad()
		}
		p.MaxAttachmentBytes = n
	case "allow_software_keys":
		b, err := strconv.ParseBool(val)
		if err != nil {
			return bad()
		}
		p.AllowSoftwareKeys = b
	case "pcrs":
		pcrs := []int{}
		for _, f := range splitList(val) {
			n, err := strconv.Atoi(f)
			if err != nil || n < 0 || n > 23 || slices.Contains(pcrs, n) {
				return bad()
			}
			pcrs = append(pcrs, n)
		}
		slices.Sort(pcrs)
		p.PCRs = pcrs
	case "services":
		svcs := splitList(val)
		for _, sv := range svcs {
			if s.schema(sv) == nil {
				return fmt.Errorf("%w: services: no form for %q (known: %s)", ErrInvalidInput, sv, strings.Join(slices.Sorted(maps.Keys(s.schemas)), ", "))
			}
		}
		p.Services = svcs
	default:
		return bad()
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
