package storage

import (
	"crypto/ecdh"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	bolt "go.etcd.io/bbolt"

	"fieldoffice/platform"
	"fieldoffice/storage/crypto"
)

// FileName is the name of the vault file in Config.Dir.
const FileName = "vault.db"

// FormatVersion() — the vault format written by this package — is in migrate.go: the
// newest version the registered migration steps lead to.

// Buckets.
var (
	bucketMeta     = []byte("meta")
	bucketKeyslots = []byte("keyslots")
	bucketCases    = []byte("cases")
)

// Keys in the meta bucket.
var (
	metaHeader = []byte("header") // JSON header, clear, covered by the header MAC
	metaMAC    = []byte("mac")    // HMAC-SHA-256 over header and key slots
	metaDirty  = []byte("dirty")  // 1 while open, 0 after Close: unclean-shutdown detection
)

// Config says where the vault is and which TPM protects it.
type Config struct {
	Dir         string
	TPM         platform.TPM // nil when Spec.Kind == platform.KindNone
	Spec        platform.Spec
	LockTimeout time.Duration    // how long to wait for bbolt's file lock; 0 = 2s
	KDF         crypto.KDFParams // Argon2id parameters for new slots; zero = default
	Logger      *slog.Logger     // nil = discard

	// BackgroundCheck lets Open return after checking only what the unlock screen
	// needs (meta pages, freelist, header and key slots); the rest of the structure
	// check runs in the background and every other operation waits for it (and fails
	// with its *CorruptError if it finds damage). The app sets it so that a large
	// vault's unlock screen shows at once; the CLI checks everything before it starts.
	BackgroundCheck bool
}

// CreateOptions are the choices made when a vault is created (at enrollment).
type CreateOptions struct {
	User string // the first user
	PIN  []byte
	// PCRs are the SHA-256 PCRs the TPM slots are bound to: nil = [7]; non-nil and empty
	// = no PCR binding.
	PCRs []int
	// RecoveryKey, when set, adds a recovery slot wrapped to this X25519 public key.
	RecoveryKey *ecdh.PublicKey
	// AllowSoftwareKey must be set to create a vault without a TPM (cfg.TPM == nil).
	AllowSoftwareKey bool
}

// header is the vault header in the meta bucket.
type header struct {
	FormatVersion int       `json:"format_version"`
	VaultID       string    `json:"vault_id"`
	Created       time.Time `json:"created"`
	TPMKind       string    `json:"tpm_kind"`
	TPMSpec       string    `json:"tpm_spec"`
	PCRs          []int     `json:"pcrs"`
	SoftwareKey   bool      `json:"software_key"` // software slots allowed (no TPM)
	// RollbackNV is the NV index of the TPM anti-rollback counter; 0 = not protected
	// (rollback.go).
	RollbackNV uint32 `json:"rollback_nv,omitempty"`
}

// Vault is an open vault file. Its methods are safe for concurrent use.
type Vault struct {
	cfg  Config
	path string
	log  *slog.Logger
	db   *bolt.DB

	// slotMu serialises key-slot changes and unlock attempts.
	slotMu sync.Mutex

	mu     sync.RWMutex // guards the fields below
	hdr    header
	keys   *keys // nil while locked
	closed bool

	ownedTPM platform.TPM // opened by OpenDevice; closed by Close

	repo repoState // case repository: forms, decoded case list (repo.go)

	rb rollbackState // anti-rollback counter state for the bump at Lock (rollback.go); guarded by slotMu

	check *structCheck // the structure check's second stage; nil when it ran at open
	dirty atomic.Bool  // this process wrote the file: "dirty" is set in it until Close
}

// keys is the key material of an unlocked vault.
type keys struct {
	user    string
	dek     crypto.Key
	mac     crypto.Key
	records *crypto.Sealer

	inflight sync.WaitGroup // operations using these keys (useKeys)
}

func newKeys(user string, dek crypto.Key) (*keys, error) {
	k := &keys{user: user, dek: dek, mac: dek.Derive(crypto.PurposeHeaderMAC)}
	rk := dek.Derive(crypto.PurposeRecords)
	defer rk.Zero()
	s, err := crypto.NewSealer(&rk)
	if err != nil {
		return nil, err
	}
	k.records = s
	return k, nil
}

func (k *keys) zero() {
	if k == nil {
		return
	}
	k.dek.Zero()
	k.mac.Zero()
	k.records = nil
}

func (cfg *Config) logger() *slog.Logger {
	if cfg.Logger != nil {
		return cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
}

func (cfg *Config) kdf() crypto.KDFParams { return cfg.KDF.OrDefault() }

// Create creates a new vault in cfg.Dir with one user slot for o.User (sealed to
// cfg.TPM, or a software slot when cfg.TPM is nil and o.AllowSoftwareKey is set) and,
// if o.RecoveryKey is given, a recovery slot. It returns the vault unlocked as o.User.
// The file is written under a temporary name and renamed into place when complete.
func Create(cfg Config, o CreateOptions) (*Vault, error) {
	path := filepath.Join(cfg.Dir, FileName)
	if _, err := os.Lstat(path); err == nil {
		return nil, fmt.Errorf("%w: %s", ErrExists, path)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("create vault: %w", err)
	}
	if err := validateUserName(o.User); err != nil {
		return nil, err
	}
	if err := ValidatePIN(o.PIN); err != nil {
		return nil, err
	}
	if cfg.TPM == nil && !o.AllowSoftwareKey {
		return nil, ErrSoftwareKeyNotAllowed
	}
	if err := cfg.kdf().Validate(); err != nil {
		return nil, err
	}
	pcrs := []int{7}
	if o.PCRs != nil {
		pcrs = slices.Clone(o.PCRs)
		slices.Sort(pcrs)
		pcrs = slices.Compact(pcrs)
		for _, p := range pcrs {
			if p < 0 || p > 23 {
				return nil, fmt.Errorf("create vault: PCR %d out of range 0..23", p)
			}
		}
	}
	hdr := header{
		FormatVersion: FormatVersion(),
		VaultID:       uuid.NewString(),
		Created:       time.Now().UTC().Truncate(time.Second),
		TPMKind:       string(platform.KindNone),
		TPMSpec:       cfg.Spec.String(),
		PCRs:          pcrs,
		SoftwareKey:   cfg.TPM == nil,
	}
	if cfg.TPM != nil {
		hdr.TPMKind = string(cfg.Spec.Kind)
		if hdr.TPMKind == "" {
			hdr.TPMKind = string(platform.KindAuto)
		}
	}
	// Anti-rollback (rollback.go): define the TPM NV counter when the TPM's NV persists.
	rbCounter, err := createRollback(&cfg, &hdr)
	if err != nil {
		return nil, err
	}
	dek, err := crypto.NewRandomKey()
	if err != nil {
		return nil, err
	}
	defer dek.Zero()
	userSlot, err := newUserSlot(&cfg, &hdr, o.User, o.PIN, &dek, cfg.TPM != nil)
	if err != nil {
		return nil, err
	}
	var recSlot *slot
	if o.RecoveryKey != nil {
		if recSlot, err = newRecoverySlot(&hdr, o.RecoveryKey, &dek); err != nil {
			return nil, err
		}
	}

	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("create vault: %w", err)
	}
	tmp := path + ".creating"
	_ = os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: defaultLockTimeout})
	if err != nil {
		return nil, fmt.Errorf("create vault: %w", err)
	}
	k, err := newKeys(o.User, dek)
	if err != nil {
		db.Close()
		return nil, err
	}
	err = db.Update(func(btx *bolt.Tx) error {
		for _, b := range [][]byte{bucketMeta, bucketKeyslots, bucketCases} {
			if _, err := btx.CreateBucket(b); err != nil {
				return err
			}
		}
		hb, err := json.Marshal(hdr)
		if err != nil {
			return err
		}
		meta := btx.Bucket(bucketMeta)
		if err := meta.Put(metaHeader, hb); err != nil {
			return err
		}
		if err := meta.Put(metaDirty, []byte{0}); err != nil {
			return err
		}
		if err := putSlot(btx, userSlot); err != nil {
			return err
		}
		if recSlot != nil {
			if err := putSlot(btx, recSlot); err != nil {
				return err
			}
		}
		tx := &Tx{btx: btx, k: k, counts: map[string]int64{}}
		tx.counts[string(bucketCases)] = 0
		if err := tx.flushCounts(); err != nil {
			return err
		}
		if hdr.RollbackNV != 0 { // anti-rollback head record (rollback.go)
			if err := putRollbackHead(btx, k, hdr.VaultID, hdr.RollbackNV, rbCounter); err != nil {
				return err
			}
		}
		return writeMAC(btx, &k.mac)
	})
	k.zero()
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		if _, serr := os.Lstat(path); serr == nil {
			err = fmt.Errorf("%w: %s", ErrExists, path)
		} else {
			err = os.Rename(tmp, path)
		}
	}
	if err != nil {
		_ = os.Remove(tmp)
		return nil, fmt.Errorf("create vault: %w", err)
	}
	v, err := Open(cfg)
	if err != nil {
		return nil, err
	}
	v.rb = rollbackState{index: hdr.RollbackNV, t: rbCounter} // anti-rollback: bumped at Lock/Close (rollback.go)
	if err := v.install(o.User, dek); err != nil {
		v.Close()
		return nil, err
	}
	v.log.Info("vault created", "path", path, "vault_id", hdr.VaultID, "tpm", hdr.TPMSpec, "software_key", hdr.SoftwareKey, "recovery", recSlot != nil)
	return v, nil
}

// Open opens the vault in cfg.Dir, locked. It returns ErrNotInitialised when there is
// no vault file, ErrAlreadyOpen when another process has it open and a *CorruptError
// when the file is damaged. After an unclean shutdown it runs a consistency check.
func Open(cfg Config) (*Vault, error) {
	path := filepath.Join(cfg.Dir, FileName)
	if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: no %s", ErrNotInitialised, path)
	} else if err != nil {
		return nil, fmt.Errorf("open vault: %w", err)
	}
	db, pending, err := openBolt(path, cfg.LockTimeout, cfg.BackgroundCheck)
	if err != nil {
		return nil, err
	}
	v := &Vault{cfg: cfg, path: path, log: cfg.logger(), db: db}
	if err := v.init(pending); err != nil {
		if v.check != nil {
			v.check.stop()
		} else if pending != nil {
			pending.close()
		}
		_ = guard(path, "close", db.Close)
		return nil, err
	}
	if v.check != nil {
		go func() {
			if err := v.check.wait(); err != nil && !errors.Is(err, errWalkStopped) {
				v.log.Error("structure check failed", "path", path, "err", err)
			}
		}()
	}
	return v, nil
}

// checked waits for the structure check's second stage (Config.BackgroundCheck) and
// returns its error: every access beyond the header and key slots goes through it.
func (v *Vault) checked() error {
	if v.check == nil {
		return nil
	}
	return v.check.wait()
}

// CheckProgress reports how far the structure check has got (Config.BackgroundCheck):
// the share of the file's pages walked, and whether it is done.
func (v *Vault) CheckProgress() (share float64, done bool) {
	if v.check == nil {
		return 1, true
	}
	select {
	case <-v.check.done:
		return 1, true
	default:
		return v.check.w.progress(), false
	}
}

// init reads the header, starts the structure check's second stage when there is one
// (pending) and checks the file with bbolt's own check after an unclean shutdown —
// after the structure check, in the background too when that is. The file is marked
// dirty by the first write (update), not here: opening alone changes nothing.
func (v *Vault) init(pending *walker) error {
	var dirty bool
	err := v.viewEarly(func(btx *bolt.Tx) error {
		meta := btx.Bucket(bucketMeta)
		if meta == nil || btx.Bucket(bucketKeyslots) == nil {
			return &CorruptError{Path: v.path, Reason: "meta or keyslots bucket missing"}
		}
		hb := meta.Get(metaHeader)
		if hb == nil {
			return &CorruptError{Path: v.path, Reason: "vault header missing"}
		}
		if err := json.Unmarshal(hb, &v.hdr); err != nil {
			return &CorruptError{Path: v.path, Reason: "vault header unreadable", Err: err}
		}
		// Newer format: ErrNewerFormat; older: migrated at Unlock (migrate.go).
		if err := checkFormatVersion(v.path, v.hdr.FormatVersion); err != nil {
			return err
		}
		d := meta.Get(metaDirty)
		dirty = len(d) != 1 || d[0] != 0
		return nil
	})
	if err != nil {
		return err
	}
	var check func() error
	if dirty {
		// bbolt's check reads every page: the structure check must have passed first.
		check = func() error {
			v.log.Warn("vault was not closed cleanly; running consistency check", "path", v.path)
			if err := boltCheck(v.path, v.db); err != nil {
				v.log.Error("consistency check failed", "path", v.path, "err", err)
				return err
			}
			v.log.Info("consistency check passed", "path", v.path)
			return nil
		}
	}
	if pending != nil {
		v.check = startCheck(pending, check)
		return nil
	}
	if check != nil {
		return check()
	}
	return nil
}

// view and update run bbolt transactions behind guard, once the structure check has
// passed. The first write of a process marks the file dirty in the same transaction;
// Close marks it clean again.
func (v *Vault) view(fn func(*bolt.Tx) error) error {
	if err := v.checked(); err != nil {
		return err
	}
	return guard(v.path, "read", func() error { return v.db.View(fn) })
}

func (v *Vault) update(fn func(*bolt.Tx) error) error {
	if err := v.checked(); err != nil {
		return err
	}
	err := guard(v.path, "write", func() error {
		return v.db.Update(func(btx *bolt.Tx) error {
			if !v.dirty.Load() {
				if err := btx.Bucket(bucketMeta).Put(metaDirty, []byte{1}); err != nil {
					return err
				}
			}
			return fn(btx)
		})
	})
	if err == nil {
		v.dirty.Store(true)
	}
	return err
}

// viewEarly reads the meta and keyslots buckets without waiting for the structure
// check (its first stage covered them). Only the header and slot list may be read.
func (v *Vault) viewEarly(fn func(*bolt.Tx) error) error {
	return guard(v.path, "read", func() error { return v.db.View(fn) })
}

// install makes k the vault's key material (the vault is then unlocked as user).
func (v *Vault) install(user string, dek crypto.Key) error {
	k, err := newKeys(user, dek)
	if err != nil {
		return err
	}
	v.mu.Lock()
	old := v.keys
	v.keys = k
	v.mu.Unlock()
	old.zero()
	return nil
}

// unlocked returns the key material, or ErrLocked.
// useKeys returns the keys for an operation and a release function the caller must
// call when the operation is done; Lock waits for every release before it zeroes them.
func (v *Vault) useKeys() (*keys, func(), error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return nil, nil, fmt.Errorf("%w (closed)", ErrLocked)
	}
	if v.keys == nil {
		return nil, nil, ErrLocked
	}
	k := v.keys
	k.inflight.Add(1)
	return k, k.inflight.Done, nil
}

// unlockedKeys returns the keys without holding them (for checks only: the keys may be
// zeroed as soon as it returns; operations use useKeys).
func (v *Vault) unlockedKeys() (*keys, error) {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.closed {
		return nil, fmt.Errorf("%w (closed)", ErrLocked)
	}
	if v.keys == nil {
		return nil, ErrLocked
	}
	return v.keys, nil
}

// Unlocked reports whether the vault is unlocked.
func (v *Vault) Unlocked() bool {
	v.mu.RLock()
	defer v.mu.RUnlock()
	return v.keys != nil
}

// User returns the user the vault is unlocked as, or "" when locked.
func (v *Vault) User() string {
	v.mu.RLock()
	defer v.mu.RUnlock()
	if v.keys == nil {
		return ""
	}
	return v.keys.user
}

// Lock zeroes the data key and its subkeys and drops the ciphers. Operations already
// running finish with the keys they started with.
func (v *Vault) Lock() {
	v.mu.Lock()
	k := v.keys
	v.keys = nil
	v.mu.Unlock()
	if k != nil {
		// Operations that started before finish with the keys they have (new ones get
		// ErrLocked, also nested ones, so nothing waits on itself); only then are the
		// keys zeroed — an operation never sees half-zeroed keys.
		k.inflight.Wait()
		v.rollbackAtLock(k) // anti-rollback: bump the TPM counter (rollback.go)
		v.repo.drop()       // forget the decoded case list (repo.go)
		k.zero()
		v.log.Info("vault locked", "path", v.path)
	}
}

// Close locks the vault, marks the file as cleanly shut down and closes it.
func (v *Vault) Close() error {
	v.Lock()
	v.mu.Lock()
	if v.closed {
		owned := v.ownedTPM
		v.ownedTPM = nil
		v.mu.Unlock()
		if owned != nil { // closed by Wipe: the TPM is still open
			return owned.Close()
		}
		return nil
	}
	v.closed = true
	v.mu.Unlock()
	if v.check != nil {
		v.check.stop()
	}
	var err error
	if v.dirty.Load() { // written since Open (so the check had passed): mark clean
		err = guard(v.path, "write", func() error {
			return v.db.Update(func(btx *bolt.Tx) error {
				return btx.Bucket(bucketMeta).Put(metaDirty, []byte{0})
			})
		})
	}
	if cerr := guard(v.path, "close", v.db.Close); err == nil {
		err = cerr
	}
	if v.ownedTPM != nil {
		if cerr := v.ownedTPM.Close(); err == nil && cerr != nil {
			err = fmt.Errorf("close TPM: %w", cerr)
		}
	}
	return err
}

// Status describes a vault for `fieldoffice status` and the device screen.
type Status struct {
	Path               string
	Initialised        bool
	FormatVersion      int
	SizeBytes          int64
	VaultID            string
	Created            time.Time
	TPMKind            string
	TPMSpec            string
	PCRs               []int
	Slots              []SlotInfo
	Unlocked           bool
	User               string
	RecoveryConfigured bool
	SoftwareKey        bool // a key slot is not hardware-protected
	RollbackProtected  bool // a TPM NV counter detects an older copy of the vault put back (rollback.go)
	// PendingOps and Conflicts (cases in conflict or with refused changes, at most) come
	// from clear-text counters readable while locked; hints, not authenticated.
	PendingOps, Conflicts int
}

// SlotInfo describes one key slot.
type SlotInfo struct {
	Name     string
	Type     string // "tpm", "software" or "recovery"
	Failures int    // wrong PINs in a row
	Locked   bool   // MaxFailures reached
	Created  time.Time
}

// Status returns the vault's status. It works while locked; the header and slot list
// are then as read from the file, not yet verified by the header MAC (Unlock verifies).
func (v *Vault) Status() Status {
	v.mu.RLock()
	hdr := v.hdr
	st := Status{
		Path: v.path, Initialised: true, FormatVersion: hdr.FormatVersion, VaultID: hdr.VaultID,
		Created: hdr.Created, TPMKind: hdr.TPMKind, TPMSpec: hdr.TPMSpec, PCRs: slices.Clone(hdr.PCRs),
		SoftwareKey: hdr.SoftwareKey, Unlocked: v.keys != nil,
		RollbackProtected: hdr.RollbackNV != 0, // anti-rollback armed (rollback.go)
	}
	if v.keys != nil {
		st.User = v.keys.user
	}
	closed := v.closed
	v.mu.RUnlock()
	if fi, err := os.Stat(v.path); err == nil {
		st.SizeBytes = fi.Size()
	}
	if closed {
		return st
	}
	_ = v.viewEarly(func(btx *bolt.Tx) error {
		st.PendingOps = clearCount(btx, "outbox")
		st.Conflicts = clearCount(btx, "conflicts") + clearCount(btx, "rejections")
		return forEachSlot(btx, func(s *slot, failures int) {
			st.Slots = append(st.Slots, SlotInfo{Name: s.Name, Type: s.Type, Failures: failures, Locked: failures >= MaxFailures, Created: s.Created})
			switch s.Type {
			case slotRecovery:
				st.RecoveryConfigured = true
			case slotSoftware:
				st.SoftwareKey = true
			}
		})
	})
	return st
}

// Users returns the names of the users with a key slot, sorted.
func (v *Vault) Users() []string {
	var users []string
	_ = v.viewEarly(func(btx *bolt.Tx) error {
		return forEachSlot(btx, func(s *slot, _ int) {
			if s.Type != slotRecovery {
				users = append(users, s.Name)
			}
		})
	})
	return users
}

func u64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

func putU64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }
