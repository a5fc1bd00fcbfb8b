package server

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/portal"
	"fieldoffice/storage/crypto"
)

// Files of a portal directory.
const (
	fileDB          = "portal.db"
	fileCACert      = "ca.crt"
	fileCAKey       = "ca.key"
	fileServerCert  = "server.crt"
	fileServerKey   = "server.key"
	fileAdminSecret = "admin.secret"
	fileRecoveryKey = "recovery.key"
	fileAdminSock   = "admin.sock"
	dirBlobs        = "blobs"
	dirPartial      = "partial" // under blobs
)

// formatVersion is the layout of portal.db this package writes.
const formatVersion = 1

// lockTimeout is how long OpenStore waits for another process to release portal.db.
const lockTimeout = time.Second

// idempotencyTTL is how long a POST /v1/ops answer is kept for replay.
const idempotencyTTL = 7 * 24 * time.Hour

// Buckets of portal.db.
var (
	bucketMeta    = []byte("meta")    // key → value (see meta* keys)
	bucketCases   = []byte("cases")   // case ID → JSON of cases.Case (Revision set), as served
	bucketCaseSeq = []byte("caseseq") // case ID → its feed seq (8 bytes BE)
	bucketFeed    = []byte("feed")    // seq (8 bytes BE) → case ID; Sequence() is the last seq
	bucketDevices = []byte("devices") // device ID → JSON of Device
	bucketTokens  = []byte("tokens")  // hex SHA-256 of the secret → JSON of tokenRecord
	bucketOps     = []byte("ops")     // op ID → JSON of opRecord (the first answer)
	bucketIdem    = []byte("idem")    // device ID ‖ 0 ‖ Idempotency-Key → JSON of idemRecord
	bucketAkz     = []byte("akz")     // "PREFIX-YEAR" → last Aktenzeichen number (8 bytes BE)
	bucketActions = []byte("actions") // device ID ‖ 0 ‖ action ID → JSON of DeviceAction (every action, kept)
	bucketPending = []byte("pending") // device ID ‖ 0 ‖ action ID → "" (the pending ones: counted per call)

	allBuckets = [][]byte{bucketMeta, bucketCases, bucketCaseSeq, bucketFeed, bucketDevices, bucketTokens, bucketOps, bucketIdem, bucketAkz, bucketActions, bucketPending}
	// addedBuckets came after format 1 was first written: OpenStore creates them in
	// an older portal.db (an additive change; older binaries ignore them).
	addedBuckets = [][]byte{bucketActions, bucketPending}
)

// Keys of the meta bucket.
var (
	metaFormat    = []byte("format")       // decimal formatVersion
	metaCreated   = []byte("created")      // RFC 3339
	metaPolicy    = []byte("policy")       // JSON of portal.Policy
	metaForms     = []byte("forms")        // JSON array of the form schemas
	metaRecovery  = []byte("recovery_pem") // PEM of the X25519 recovery public key
	metaListenURL = []byte("listen_url")   // https://HOST:PORT of the last Serve
)

// Store is a portal's state: portal.db, the CA, the form schemas and the blob files.
// Its methods are safe for concurrent use. Writes are committed (fsync) before a
// method returns.
type Store struct {
	dir   string
	db    *bolt.DB
	ca    *ca
	log   *slog.Logger
	now   func() time.Time
	blobs *blobStore
	locks keyedMutex

	contacts contactLog // last contact per device, on every call (portal.db: once a minute)

	forms     []json.RawMessage        // as delivered
	formsETag string                   // quoted ETag of GET /v1/forms
	schemas   map[string]*cases.Schema // parsed, by service
}

var _ Admin = (*Store)(nil)

// Init creates a portal in dir (created with mode 0700 if missing): the CA (ECDSA
// P-256, 10 years), a server certificate for hosts plus localhost, 127.0.0.1 and ::1
// (2 years; Open renews it when it nears expiry), the admin secret, an X25519 recovery
// key pair (private key in recovery.key, public key delivered at enrollment), and
// portal.db with the default policy and the sample forms of fieldoffice/assets. All
// files get mode 0600. It fails with [ErrAlreadyInitialized] if dir holds a portal.
func Init(dir string, hosts []string) error {
	hosts, err := hostList(hosts)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create portal directory: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("portal directory: %w", err)
	}
	if _, err := os.Stat(filepath.Join(dir, fileDB)); err == nil {
		return fmt.Errorf("%w: %s", ErrAlreadyInitialized, dir)
	}
	now := time.Now().UTC()
	c, err := newCA(now)
	if err != nil {
		return err
	}
	if err := writeCA(dir, c); err != nil {
		return err
	}
	if err := writeServerCert(dir, c, hosts, now); err != nil {
		return err
	}
	secret, err := randomSecret()
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, fileAdminSecret), []byte(secret+"\n")); err != nil {
		return err
	}
	recoveryPub, err := writeRecoveryKey(dir)
	if err != nil {
		return err
	}
	for _, d := range []string{filepath.Join(dir, dirBlobs), filepath.Join(dir, dirBlobs, dirPartial)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("create blob directory: %w", err)
		}
	}
	// portal.db last: its presence says the portal is complete.
	return createDB(dir, recoveryPub, now)
}

func writeCA(dir string, c *ca) error {
	kp, err := keyPEM(c.key)
	if err != nil {
		return err
	}
	if err := writeFile(filepath.Join(dir, fileCAKey), kp); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, fileCACert), certPEM(c.cert))
}

// writeRecoveryKey creates the recovery key pair, writes the private key file and
// returns the public key's PEM.
func writeRecoveryKey(dir string) ([]byte, error) {
	k, err := crypto.GenerateRecoveryKey()
	if err != nil {
		return nil, fmt.Errorf("recovery key: %w", err)
	}
	priv, err := crypto.MarshalRecoveryPrivateKey(k)
	if err != nil {
		return nil, err
	}
	if err := writeFile(filepath.Join(dir, fileRecoveryKey), priv); err != nil {
		return nil, err
	}
	return crypto.MarshalRecoveryPublicKey(k.PublicKey())
}

// createDB writes portal.db through a temporary file renamed into place.
func createDB(dir string, recoveryPub []byte, now time.Time) error {
	forms, err := sampleForms()
	if err != nil {
		return err
	}
	policy, err := json.Marshal(portal.DefaultPolicy())
	if err != nil {
		return err
	}
	tmp := filepath.Join(dir, fileDB+".creating")
	os.Remove(tmp)
	db, err := bolt.Open(tmp, 0o600, &bolt.Options{Timeout: lockTimeout})
	if err != nil {
		return fmt.Errorf("create portal.db: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		m := tx.Bucket(bucketMeta)
		return errors.Join(
			m.Put(metaFormat, fmt.Appendf(nil, "%d", formatVersion)),
			m.Put(metaCreated, []byte(now.Format(time.RFC3339))),
			m.Put(metaPolicy, policy),
			m.Put(metaForms, forms),
			m.Put(metaRecovery, recoveryPub),
		)
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("create portal.db: %w", err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, fileDB)); err != nil {
		return fmt.Errorf("create portal.db: %w", err)
	}
	return syncDir(dir)
}

// sampleForms returns the JSON array of the sample form schemas, sorted by service.
func sampleForms() ([]byte, error) {
	raw, err := assets.Forms()
	if err != nil {
		return nil, fmt.Errorf("sample forms: %w", err)
	}
	list := make([]json.RawMessage, 0, len(raw))
	for _, name := range slices.Sorted(maps.Keys(raw)) {
		list = append(list, json.RawMessage(raw[name]))
	}
	return json.Marshal(list)
}

func randomSecret() (string, error) {
	var b [32]byte
	if _, err := io.ReadFull(rand.Reader, b[:]); err != nil {
		return "", fmt.Errorf("random secret: %w", err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:]), nil
}

// OpenStore opens the portal in dir for direct use (the admin commands when no server
// runs; Open for serving). It fails with [ErrNotInitialized] when dir holds no portal
// and with [ErrInUse] when another process (a running `portald serve`) has portal.db
// open. logger may be nil.
func OpenStore(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	path := filepath.Join(dir, fileDB)
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotInitialized, dir)
	}
	c, err := loadCA(dir)
	if err != nil {
		return nil, err
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout})
	if errors.Is(err, bolt.ErrTimeout) {
		return nil, fmt.Errorf("%w: %s", ErrInUse, path)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	s := &Store{dir: dir, db: db, ca: c, log: logger, now: time.Now}
	if err := s.addBuckets(); err != nil {
		db.Close()
		return nil, err
	}
	if err := s.load(); err != nil {
		db.Close()
		return nil, err
	}
	s.blobs, err = newBlobStore(filepath.Join(dir, dirBlobs))
	if err != nil {
		db.Close()
		return nil, err
	}
	if err := s.pruneIdempotency(); err != nil {
		db.Close()
		return nil, err
	}
	if n, err := s.blobs.prune(s.now()); err != nil {
		logger.Warn("removing stale uploads failed", "err", err)
	} else if n > 0 {
		logger.Info("stale uploads removed", "count", n)
	}
	return s, nil
}

// addBuckets creates the buckets added after format 1 when portal.db lacks them.
func (s *Store) addBuckets() error {
	missing := false
	s.db.View(func(tx *bolt.Tx) error {
		for _, name := range addedBuckets {
			missing = missing || tx.Bucket(name) == nil
		}
		return nil
	})
	if !missing {
		return nil
	}
	return s.db.Update(func(tx *bolt.Tx) error {
		for _, name := range addedBuckets {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("portal.db: create bucket %q: %w", name, err)
			}
		}
		return nil
	})
}

// load checks the format and reads the forms.
func (s *Store) load() error {
	return s.db.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets {
			if tx.Bucket(name) == nil {
				return fmt.Errorf("portal.db: bucket %q missing", name)
			}
		}
		m := tx.Bucket(bucketMeta)
		if v := string(m.Get(metaFormat)); v != fmt.Sprint(formatVersion) {
			return fmt.Errorf("portal.db: format %q, this portald reads %d", v, formatVersion)
		}
		raw := m.Get(metaForms)
		if err := json.Unmarshal(raw, &s.forms); err != nil {
			return fmt.Errorf("portal.db: forms: %w", err)
		}
		sum := sha256.Sum256(raw)
		s.formsETag = `"forms-` + hex.EncodeToString(sum[:8]) + `"`
		s.schemas = make(map[string]*cases.Schema, len(s.forms))
		for i, f := range s.forms {
			sch, err := cases.ParseSchema(f)
			if err != nil {
				return fmt.Errorf("portal.db: form %d: %w", i, err)
			}
			s.schemas[sch.Service] = sch
		}
		return nil
	})
}

// Close records the last contacts not yet written and closes portal.db.
func (s *Store) Close() error {
	s.flushContacts()
	return s.db.Close()
}

// Dir returns the portal directory.
func (s *Store) Dir() string { return s.dir }

// CAFingerprint returns the lowercase hex SHA-256 of the CA certificate (DER), as an
// enrollment token carries it.
func (s *Store) CAFingerprint() string { return s.ca.fingerprint() }

// CACertificate returns the DER bytes of the portal CA certificate.
func (s *Store) CACertificate() []byte { return slices.Clone(s.ca.cert.Raw) }

// Forms returns the form schemas as delivered to devices and their ETag (quoted).
func (s *Store) Forms() ([]json.RawMessage, string) { return slices.Clone(s.forms), s.formsETag }

// schema returns the parsed form of service, or nil.
func (s *Store) schema(service string) *cases.Schema { return s.schemas[service] }

// ListenURL returns the URL the last Serve recorded ("" if none).
func (s *Store) ListenURL() (string, error) {
	var u string
	err := s.db.View(func(tx *bolt.Tx) error {
		u = string(tx.Bucket(bucketMeta).Get(metaListenURL))
		return nil
	})
	return u, err
}

func (s *Store) setListenURL(u string) error {
	return s.db.Update(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(metaListenURL, []byte(u))
	})
}

// recoveryPEM returns the recovery public key's PEM.
func recoveryPEM(tx *bolt.Tx) string { return string(tx.Bucket(bucketMeta).Get(metaRecovery)) }

// RecoveryPublicKey returns the PEM (PKIX) of the organisation's X25519 recovery
// public key, as devices receive it at enrollment.
func (s *Store) RecoveryPublicKey() (string, error) {
	var pub string
	err := s.db.View(func(tx *bolt.Tx) error {
		pub = recoveryPEM(tx)
		return nil
	})
	return pub, err
}

// --- helpers ------------------------------------------------------------------------

func u64(n uint64) []byte { return binary.BigEndian.AppendUint64(nil, n) }

func getJSON(b *bolt.Bucket, key []byte, v any) (bool, error) {
	raw := b.Get(key)
	if raw == nil {
		return false, nil
	}
	if err := json.Unmarshal(raw, v); err != nil {
		return true, fmt.Errorf("portal.db: record %q: %w", key, err)
	}
	return true, nil
}

func putJSON(b *bolt.Bucket, key []byte, v any) error {
	raw, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return b.Put(key, raw)
}
