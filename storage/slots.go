package storage

import (
	"bytes"
	"crypto/ecdh"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/platform"
	"fieldoffice/storage/crypto"
)

// MaxFailures is the number of wrong PINs in a row after which a slot is locked.
const MaxFailures = 5

// Slot types.
const (
	slotTPM      = "tpm"
	slotSoftware = "software"
	slotRecovery = "recovery"
)

// Keys in the keyslots bucket. The failure counters are not covered by the header MAC:
// they change while the vault is locked, when there is no key to update the MAC. An
// attacker who can write the file can reset them; the TPM's dictionary-attack lockout
// is the real limit on PIN guessing, the counter is the app's friendly early stop.
const (
	prefixUser     = "user/"
	prefixFailures = "fail/"
	keyRecovery    = "recovery"
	kekPurpose     = "keyslot-kek"
	saltSize       = 16
	slotSecretSize = 32
)

// slot is a key slot as stored (JSON, in clear) in the keyslots bucket.
//
// A TPM slot holds a random 32-byte slot secret sealed by the TPM (policy: PCRs AND
// auth value, auth value = Argon2id(PIN, Salt)), and the DEK wrapped with AES-256-GCM
// under HKDF-SHA-256(slot secret, Salt). Sealing a secret rather than the DEK keeps
// the DEK out of TPM commands and lets a slot be re-sealed without touching the DEK.
//
// A software slot wraps the DEK under Argon2id(PIN, Salt).
//
// The recovery slot wraps the DEK to an X25519 public key; Recipient is the SHA-256
// fingerprint of that key.
//
// Every wrap binds the vault ID, the slot type and the slot name as additional data,
// so a slot cannot be moved to another user or vault.
type slot struct {
	Name      string              `json:"name"`
	Type      string              `json:"type"`
	Created   time.Time           `json:"created"`
	KDF       crypto.KDFParams    `json:"kdf,omitzero"`
	Salt      []byte              `json:"salt,omitempty"`
	Sealed    *platform.SealedKey `json:"sealed,omitempty"`
	Wrapped   []byte              `json:"wrapped"`
	Recipient []byte              `json:"recipient,omitempty"`
}

func (s *slot) key() []byte {
	if s.Type == slotRecovery {
		return []byte(keyRecovery)
	}
	return []byte(prefixUser + s.Name)
}

func slotAAD(hdr *header, typ, name string) []byte {
	return crypto.AAD([]byte("keyslot/"+hdr.VaultID), []byte(typ+"/"+name))
}

// errPINMismatch is the internal result of a wrong PIN; callers turn it into a
// *WrongPINError with the tries left.
var errPINMismatch = errors.New("pin mismatch")

// ValidatePIN checks that pin is at least 6 and at most 64 ASCII digits.
func ValidatePIN(pin []byte) error {
	if len(pin) < 6 {
		return fmt.Errorf("%w: a PIN has at least 6 digits", ErrBadPIN)
	}
	if len(pin) > 64 {
		return fmt.Errorf("%w: a PIN has at most 64 digits", ErrBadPIN)
	}
	for _, c := range pin {
		if c < '0' || c > '9' {
			return fmt.Errorf("%w: a PIN has only the digits 0-9", ErrBadPIN)
		}
	}
	return nil
}

func validateUserName(name string) error {
	if name == "" || len(name) > 64 {
		return fmt.Errorf("%w %q: use 1 to 64 characters", ErrBadUserName, name)
	}
	for i, c := range name {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
			i > 0 && (c == '.' || c == '_' || c == '-' || c == '@')
		if !ok {
			return fmt.Errorf("%w %q: use letters, digits, '.', '_', '-' and '@', starting with a letter or digit", ErrBadUserName, name)
		}
	}
	return nil
}

// newUserSlot wraps dek in a new slot for name: sealed to cfg.TPM when useTPM, else a
// software slot (only if the vault allows software keys).
func newUserSlot(cfg *Config, hdr *header, name string, pin []byte, dek *crypto.Key, useTPM bool) (*slot, error) {
	if err := ValidatePIN(pin); err != nil {
		return nil, err
	}
	s := &slot{Name: name, Type: slotSoftware, Created: time.Now().UTC().Truncate(time.Second), KDF: cfg.kdf(), Salt: make([]byte, saltSize)}
	if _, err := rand.Read(s.Salt); err != nil {
		return nil, err
	}
	derived, err := crypto.DeriveKey(pin, s.Salt, s.KDF)
	if err != nil {
		return nil, err
	}
	defer derived.Zero()
	kek := derived
	if useTPM {
		if cfg.TPM == nil {
			return nil, fmt.Errorf("new key slot for %q: %w", name, platform.ErrNoTPM)
		}
		s.Type = slotTPM
		secret := make([]byte, slotSecretSize)
		if _, err := rand.Read(secret); err != nil {
			return nil, err
		}
		defer clear(secret)
		if s.Sealed, err = cfg.TPM.Seal(secret, derived[:], hdr.PCRs); err != nil {
			return nil, fmt.Errorf("seal key slot for %q: %w", name, err)
		}
		kek = crypto.DeriveFromSecret(secret, s.Salt, kekPurpose)
	} else if !hdr.SoftwareKey {
		return nil, ErrSoftwareKeyNotAllowed
	}
	defer kek.Zero()
	if s.Wrapped, err = crypto.WrapKey(&kek, slotAAD(hdr, s.Type, name), dek); err != nil {
		return nil, err
	}
	return s, nil
}

func newRecoverySlot(hdr *header, pub *ecdh.PublicKey, dek *crypto.Key) (*slot, error) {
	fp := crypto.RecoveryFingerprint(pub)
	w, err := crypto.WrapToRecipient(dek, pub, slotAAD(hdr, slotRecovery, keyRecovery))
	if err != nil {
		return nil, fmt.Errorf("recovery slot: %w", err)
	}
	return &slot{Name: keyRecovery, Type: slotRecovery, Created: time.Now().UTC().Truncate(time.Second), Wrapped: w, Recipient: fp[:]}, nil
}

// openUserSlot unwraps the DEK from a user slot with pin. A wrong PIN gives
// errPINMismatch.
func (v *Vault) openUserSlot(hdr *header, s *slot, pin []byte) (crypto.Key, error) {
	tampered := &TamperError{Bucket: string(bucketKeyslots), Key: string(s.key())}
	if err := s.KDF.Validate(); err != nil || len(s.Salt) != saltSize {
		return crypto.Key{}, tampered
	}
	derived, err := crypto.DeriveKey(pin, s.Salt, s.KDF)
	if err != nil {
		return crypto.Key{}, tampered
	}
	defer derived.Zero()
	aad := slotAAD(hdr, s.Type, s.Name)
	switch s.Type {
	case slotSoftware:
		dek, err := crypto.UnwrapKey(&derived, aad, s.Wrapped)
		if err != nil {
			return crypto.Key{}, errPINMismatch
		}
		return dek, nil
	case slotTPM:
		if v.cfg.TPM == nil {
			return crypto.Key{}, fmt.Errorf("user %q has a TPM key slot: %w (TPM spec %q)", s.Name, platform.ErrNoTPM, v.cfg.Spec.String())
		}
		if s.Sealed == nil {
			return crypto.Key{}, tampered
		}
		secret, err := v.cfg.TPM.Unseal(s.Sealed, derived[:])
		if errors.Is(err, platform.ErrAuthFail) {
			return crypto.Key{}, errPINMismatch
		}
		if err != nil {
			return crypto.Key{}, tpmError(s.Name, err)
		}
		defer clear(secret)
		if len(secret) != slotSecretSize {
			return crypto.Key{}, tampered
		}
		kek := crypto.DeriveFromSecret(secret, s.Salt, kekPurpose)
		defer kek.Zero()
		dek, err := crypto.UnwrapKey(&kek, aad, s.Wrapped)
		if err != nil {
			return crypto.Key{}, tampered
		}
		return dek, nil
	}
	return crypto.Key{}, tampered
}

// readSlot reads a slot and its failure counter.
func readSlot(btx *bolt.Tx, path string, key []byte) (*slot, int, error) {
	b := btx.Bucket(bucketKeyslots)
	raw := b.Get(key)
	if raw == nil {
		return nil, 0, nil
	}
	var s slot
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, 0, &CorruptError{Path: path, Reason: fmt.Sprintf("key slot %q unreadable", key), Err: err}
	}
	if !bytes.Equal(s.key(), key) {
		return nil, 0, &TamperError{Bucket: string(bucketKeyslots), Key: string(key)}
	}
	if s.Type == slotRecovery {
		return &s, 0, nil
	}
	n := 0
	if fb := b.Get([]byte(prefixFailures + s.Name)); fb != nil {
		f, ok := u64(fb)
		if !ok || f > MaxFailures {
			f = MaxFailures // damaged counter: fail safe
		}
		n = int(f)
	}
	return &s, n, nil
}

func putSlot(btx *bolt.Tx, s *slot) error {
	raw, err := json.Marshal(s)
	if err != nil {
		return err
	}
	return btx.Bucket(bucketKeyslots).Put(s.key(), raw)
}

func putFailures(btx *bolt.Tx, name string, n int) error {
	return btx.Bucket(bucketKeyslots).Put([]byte(prefixFailures+name), putU64(uint64(n)))
}

// forEachSlot calls fn for each slot (user slots by name, then the recovery slot).
func forEachSlot(btx *bolt.Tx, fn func(s *slot, failures int)) error {
	b := btx.Bucket(bucketKeyslots)
	if b == nil {
		return nil
	}
	var rec *slot
	c := b.Cursor()
	for k, _ := c.First(); k != nil; k, _ = c.Next() {
		if !bytes.HasPrefix(k, []byte(prefixUser)) && string(k) != keyRecovery {
			continue
		}
		s, n, err := readSlot(btx, "", k)
		if err != nil || s == nil {
			continue
		}
		if s.Type == slotRecovery {
			rec = s
			continue
		}
		fn(s, n)
	}
	if rec != nil {
		fn(rec, 0)
	}
	return nil
}

// computeMAC returns the HMAC-SHA-256 over the header and every key slot (not the
// failure counters), each length-prefixed, in key order.
func computeMAC(btx *bolt.Tx, mac *crypto.Key) []byte {
	h := hmac.New(sha256.New, mac[:])
	lp := func(b []byte) {
		h.Write(binary.AppendUvarint(nil, uint64(len(b))))
		h.Write(b)
	}
	lp([]byte("fieldoffice/v1/header-mac"))
	lp(btx.Bucket(bucketMeta).Get(metaHeader))
	c := btx.Bucket(bucketKeyslots).Cursor()
	for k, val := c.First(); k != nil; k, val = c.Next() {
		if bytes.HasPrefix(k, []byte(prefixFailures)) {
			continue
		}
		lp(k)
		lp(val)
	}
	return h.Sum(nil)
}

func verifyMAC(btx *bolt.Tx, mac *crypto.Key) error {
	if !hmac.Equal(computeMAC(btx, mac), btx.Bucket(bucketMeta).Get(metaMAC)) {
		return &TamperError{Bucket: string(bucketMeta), Key: "header+keyslots"}
	}
	return nil
}

func writeMAC(btx *bolt.Tx, mac *crypto.Key) error {
	return btx.Bucket(bucketMeta).Put(metaMAC, computeMAC(btx, mac))
}

// tryPIN counts an attempt for user's slot, then unwraps the DEK with pin. The counter
// is incremented in its own committed transaction before the TPM or KDF is touched;
// the caller resets it on success. Errors that are not about the PIN (TPM refused,
// lockout, damage) restore the counter.
func (v *Vault) tryPIN(user string, pin []byte) (crypto.Key, *slot, error) {
	if err := validateUserName(user); err != nil {
		return crypto.Key{}, nil, fmt.Errorf("%w: %q", ErrUnknownUser, user)
	}
	if err := ValidatePIN(pin); err != nil {
		return crypto.Key{}, nil, err
	}
	v.mu.RLock()
	hdr := v.hdr
	v.mu.RUnlock()
	var s *slot
	var failures int
	err := v.update(func(btx *bolt.Tx) error {
		var err error
		if s, failures, err = readSlot(btx, v.path, []byte(prefixUser+user)); err != nil {
			return err
		}
		if s == nil {
			return fmt.Errorf("%w: %q", ErrUnknownUser, user)
		}
		if failures >= MaxFailures {
			return fmt.Errorf("user %q: %w", user, ErrSlotLocked)
		}
		return putFailures(btx, user, failures+1)
	})
	if err != nil {
		return crypto.Key{}, nil, err
	}
	dek, err := v.openUserSlot(&hdr, s, pin)
	if err == nil {
		return dek, s, nil
	}
	if errors.Is(err, errPINMismatch) {
		v.log.Warn("wrong PIN", "user", user, "failures", failures+1)
		return crypto.Key{}, nil, &WrongPINError{User: user, Left: MaxFailures - failures - 1}
	}
	v.log.Warn("unlock failed", "user", user, "err", err)
	if rerr := v.update(func(btx *bolt.Tx) error { return putFailures(btx, user, failures) }); rerr != nil {
		err = errors.Join(err, rerr)
	}
	return crypto.Key{}, nil, err
}

// Unlock unlocks the vault as user with pin. After MaxFailures wrong PINs in a row the
// slot is locked (ErrSlotLocked). On success the header MAC is verified and the failure
// counter reset. A failed attempt leaves the vault's state (locked or unlocked as
// someone else) unchanged.
func (v *Vault) Unlock(user string, pin []byte) error {
	v.slotMu.Lock()
	defer v.slotMu.Unlock()
	dek, _, err := v.tryPIN(user, pin)
	if err != nil {
		return err
	}
	defer dek.Zero()
	mac := dek.Derive(crypto.PurposeHeaderMAC)
	defer mac.Zero()
	err = v.update(func(btx *bolt.Tx) error {
		if err := verifyMAC(btx, &mac); err != nil {
			return err
		}
		return putFailures(btx, user, 0)
	})
	if err != nil {
		return err
	}
	// Anti-rollback check, format migrations, counter bump (rollback.go, migrate.go).
	if err := v.afterKeyOpen(user, &dek, false); err != nil {
		return err
	}
	if err := v.install(user, dek); err != nil {
		return err
	}
	v.log.Info("vault unlocked", "path", v.path, "user", user)
	// Attachment uploads cut off by a crash leave sealed chunks behind: free them now
	// rather than at the next upload. A failure here costs only space.
	if n, err := v.CleanupBlobs(); err != nil {
		v.log.Warn("could not remove interrupted attachment uploads", "removed", n, "err", err)
	}
	// Documents of applications that were never saved (PutDraftBlob): a lock or a
	// crash discarded the draft; its attachments go now.
	if k, release, err := v.useKeys(); err == nil {
		if n, err := v.deleteDraftBlobs(k); err != nil {
			v.log.Warn("could not remove the attachments of unsaved drafts", "err", err)
		} else if n > 0 {
			v.log.Info("removed the attachments of drafts that were not saved", "blobs", n)
		}
		release()
	}
	return nil
}

// changeSlots verifies the header MAC, runs fn and writes the new MAC, in one
// transaction, so that a tampered slot list is never re-blessed.
func (v *Vault) changeSlots(mac *crypto.Key, fn func(btx *bolt.Tx) error) error {
	return v.update(func(btx *bolt.Tx) error {
		if err := verifyMAC(btx, mac); err != nil {
			return err
		}
		if err := fn(btx); err != nil {
			return err
		}
		return writeMAC(btx, mac)
	})
}

// ChangePIN replaces user's PIN. Only that slot is re-wrapped (a TPM slot is re-sealed
// with a fresh slot secret). It works locked or unlocked; a wrong old PIN counts as a
// failure.
func (v *Vault) ChangePIN(user string, oldPIN, newPIN []byte) error {
	if err := ValidatePIN(newPIN); err != nil {
		return err
	}
	v.slotMu.Lock()
	defer v.slotMu.Unlock()
	dek, old, err := v.tryPIN(user, oldPIN)
	if err != nil {
		return err
	}
	defer dek.Zero()
	v.mu.RLock()
	hdr := v.hdr
	v.mu.RUnlock()
	s, err := newUserSlot(&v.cfg, &hdr, user, newPIN, &dek, old.Type == slotTPM)
	if err != nil {
		return err
	}
	s.Created = old.Created
	mac := dek.Derive(crypto.PurposeHeaderMAC)
	defer mac.Zero()
	err = v.changeSlots(&mac, func(btx *bolt.Tx) error {
		if err := putSlot(btx, s); err != nil {
			return err
		}
		return putFailures(btx, user, 0)
	})
	if err == nil {
		v.log.Info("PIN changed", "user", user)
	}
	return err
}

// AddUser adds a key slot for a new user: sealed to the TPM when the vault has one
// configured, else a software slot (if the vault allows them). The vault must be
// unlocked.
func (v *Vault) AddUser(name string, pin []byte) error {
	k, release, err := v.useKeys()
	if err != nil {
		return err
	}
	defer release()
	if err := validateUserName(name); err != nil {
		return err
	}
	if err := ValidatePIN(pin); err != nil {
		return err
	}
	v.slotMu.Lock()
	defer v.slotMu.Unlock()
	v.mu.RLock()
	hdr := v.hdr
	v.mu.RUnlock()
	if v.hasUser(name) {
		return fmt.Errorf("%w: %q", ErrUserExists, name)
	}
	s, err := newUserSlot(&v.cfg, &hdr, name, pin, &k.dek, v.cfg.TPM != nil)
	if err != nil {
		return err
	}
	err = v.changeSlots(&k.mac, func(btx *bolt.Tx) error {
		if btx.Bucket(bucketKeyslots).Get(s.key()) != nil {
			return fmt.Errorf("%w: %q", ErrUserExists, name)
		}
		if err := putSlot(btx, s); err != nil {
			return err
		}
		return putFailures(btx, name, 0)
	})
	if err == nil {
		v.log.Info("user added", "user", name, "slot", s.Type)
	}
	return err
}

func (v *Vault) hasUser(name string) bool {
	found := false
	_ = v.view(func(btx *bolt.Tx) error {
		found = btx.Bucket(bucketKeyslots).Get([]byte(prefixUser+name)) != nil
		return nil
	})
	return found
}

// RemoveUser removes a user's key slot. The vault must be unlocked; the last user slot
// cannot be removed (ErrLastSlot).
func (v *Vault) RemoveUser(name string) error {
	k, release, err := v.useKeys()
	if err != nil {
		return err
	}
	defer release()
	v.slotMu.Lock()
	defer v.slotMu.Unlock()
	err = v.changeSlots(&k.mac, func(btx *bolt.Tx) error {
		b := btx.Bucket(bucketKeyslots)
		if b.Get([]byte(prefixUser+name)) == nil {
			return fmt.Errorf("%w: %q", ErrUnknownUser, name)
		}
		users := 0
		c := b.Cursor()
		for k, _ := c.Seek([]byte(prefixUser)); k != nil && bytes.HasPrefix(k, []byte(prefixUser)); k, _ = c.Next() {
			users++
		}
		if users <= 1 {
			return fmt.Errorf("%w (%q)", ErrLastSlot, name)
		}
		if err := b.Delete([]byte(prefixUser + name)); err != nil {
			return err
		}
		return b.Delete([]byte(prefixFailures + name))
	})
	if err == nil {
		v.log.Info("user removed", "user", name)
	}
	return err
}

// ResetUser clears a user's failure counter (and so the app's lockout). The vault must
// be unlocked, as any user.
func (v *Vault) ResetUser(name string) error {
	if _, err := v.unlockedKeys(); err != nil {
		return err
	}
	v.slotMu.Lock()
	defer v.slotMu.Unlock()
	err := v.update(func(btx *bolt.Tx) error {
		if btx.Bucket(bucketKeyslots).Get([]byte(prefixUser+name)) == nil {
			return fmt.Errorf("%w: %q", ErrUnknownUser, name)
		}
		return putFailures(btx, name, 0)
	})
	if err == nil {
		v.log.Info("user reset", "user", name)
	}
	return err
}

// Recover unwraps the DEK through the recovery slot with the organisation's private
// key, then gives user a new slot with newPIN (replacing any old one): sealed to
// cfg.TPM with the vault's PCR policy, or a software slot when there is no TPM and the
// vault allows it. The user's failure counter is cleared and the vault is left unlocked
// as user. Use it after the TPM was replaced or cleared or PCR values changed.
func (v *Vault) Recover(key *ecdh.PrivateKey, user string, newPIN []byte) error {
	if key == nil || key.Curve() != ecdh.X25519() {
		return fmt.Errorf("%w: not an X25519 key", ErrWrongRecoveryKey)
	}
	if err := validateUserName(user); err != nil {
		return err
	}
	if err := ValidatePIN(newPIN); err != nil {
		return err
	}
	v.slotMu.Lock()
	defer v.slotMu.Unlock()
	var rec *slot
	if err := v.view(func(btx *bolt.Tx) error {
		var err error
		rec, _, err = readSlot(btx, v.path, []byte(keyRecovery))
		return err
	}); err != nil {
		return err
	}
	if rec == nil {
		return ErrNoRecoverySlot
	}
	fp := crypto.RecoveryFingerprint(key.PublicKey())
	if !bytes.Equal(fp[:], rec.Recipient) {
		return ErrWrongRecoveryKey
	}
	v.mu.RLock()
	hdr := v.hdr
	v.mu.RUnlock()
	dek, err := crypto.UnwrapWithPrivateKey(rec.Wrapped, key, slotAAD(&hdr, slotRecovery, keyRecovery))
	if err != nil {
		return &TamperError{Bucket: string(bucketKeyslots), Key: keyRecovery}
	}
	defer dek.Zero()
	newHdr := hdr
	if v.cfg.TPM != nil {
		newHdr.TPMKind, newHdr.TPMSpec = string(v.cfg.Spec.Kind), v.cfg.Spec.String()
		if newHdr.TPMKind == "" {
			newHdr.TPMKind = string(platform.KindAuto)
		}
	}
	s, err := newUserSlot(&v.cfg, &newHdr, user, newPIN, &dek, v.cfg.TPM != nil)
	if err != nil {
		return err
	}
	if err := v.putHeaderAndSlot(&dek, newHdr, s); err != nil {
		return err
	}
	// Migrations and anti-rollback; the recovery key re-arms the counter (rollback.go).
	if err := v.afterKeyOpen(user, &dek, true); err != nil {
		return err
	}
	if err := v.install(user, dek); err != nil {
		return err
	}
	v.log.Info("vault recovered with the recovery key", "user", user, "slot", s.Type, "tpm", newHdr.TPMSpec)
	return nil
}

// ResealPCRs binds user's TPM slot to a new PCR set (a stricter or changed device
// policy) and makes it the vault's set for slots created from now on. It needs the
// user's PIN (the sealed secret's auth value) — the app calls it right after an
// unlock. Other users' slots stay bound to the set they were sealed with until they
// unlock and are re-sealed in turn; each slot carries its own set. The TPM must show
// the current PCR values the new policy expects: re-sealing happens on the running
// system, so the new set's current values are what future unlocks must match.
func (v *Vault) ResealPCRs(user string, pin []byte, pcrs []int) error {
	v.slotMu.Lock()
	defer v.slotMu.Unlock()
	dek, old, err := v.tryPIN(user, pin)
	if err != nil {
		return err
	}
	defer dek.Zero()
	if old.Type != slotTPM {
		return fmt.Errorf("reseal %q: %w", user, platform.ErrNoTPM)
	}
	v.mu.RLock()
	hdr := v.hdr
	v.mu.RUnlock()
	hdr.PCRs = slices.Clone(pcrs)
	s, err := newUserSlot(&v.cfg, &hdr, user, pin, &dek, true)
	if err != nil {
		return err
	}
	s.Created = old.Created
	if err := v.putHeaderAndSlot(&dek, hdr, s); err != nil {
		return err
	}
	v.log.Info("key slot re-sealed to a new PCR set", "user", user, "pcrs", pcrs)
	return nil
}

// SlotPCRs returns the PCR set user's TPM slot is sealed to (nil for other slots).
func (v *Vault) SlotPCRs(user string) []int {
	var out []int
	_ = v.view(func(btx *bolt.Tx) error {
		return forEachSlot(btx, func(s *slot, _ int) {
			if s.Name == user && s.Type == slotTPM && s.Sealed != nil {
				out = slices.Clone(s.Sealed.PCRs)
			}
		})
	})
	return out
}

// putHeaderAndSlot writes hdr and slot s (its failure counter reset) under a fresh
// header MAC in one transaction, and makes hdr the vault's header.
func (v *Vault) putHeaderAndSlot(dek *crypto.Key, hdr header, s *slot) error {
	mac := dek.Derive(crypto.PurposeHeaderMAC)
	defer mac.Zero()
	err := v.changeSlots(&mac, func(btx *bolt.Tx) error {
		hb, err := json.Marshal(hdr)
		if err != nil {
			return err
		}
		if err := btx.Bucket(bucketMeta).Put(metaHeader, hb); err != nil {
			return err
		}
		if err := putSlot(btx, s); err != nil {
			return err
		}
		return putFailures(btx, s.Name, 0)
	})
	if err != nil {
		return err
	}
	v.mu.Lock()
	v.hdr = hdr
	v.mu.Unlock()
	return nil
}
