package server

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"fieldoffice/storage/crypto"
)

// ErrExists is returned by [ExportRecoveryKey] when the output file exists: it never
// overwrites.
var ErrExists = errors.New("the file exists; refusing to overwrite it")

// ExportRecoveryKey writes the organisation's X25519 recovery private key, kept in
// DIR/recovery.key since Init, to the new file out (mode 0600, PEM "PRIVATE KEY",
// PKCS#8: what `fieldoffice recover --recovery-key FILE` reads). The key must belong
// to publicPEM, the public key devices receive (Store.RecoveryPublicKey); out must not
// exist ([ErrExists]). The file is fsynced and read back before the call returns. With
// remove, DIR/recovery.key is deleted afterwards, so the portal no longer holds the
// private key (it never needs it).
func ExportRecoveryKey(dir, out, publicPEM string, remove bool) error {
	src := filepath.Join(dir, fileRecoveryKey)
	raw, err := os.ReadFile(src)
	if errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("%s is not there (exported with --remove, or moved to offline storage already?)", src)
	}
	if err != nil {
		return fmt.Errorf("read recovery key: %w", err)
	}
	key, err := crypto.ParseRecoveryPrivateKey(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	pub, err := crypto.ParseRecoveryPublicKey([]byte(publicPEM))
	if err != nil {
		return fmt.Errorf("portal.db: recovery public key: %w", err)
	}
	if !key.PublicKey().Equal(pub) {
		return fmt.Errorf("%s does not belong to the recovery public key devices receive: not exported", src)
	}
	pemBytes, err := crypto.MarshalRecoveryPrivateKey(key)
	if err != nil {
		return err
	}
	if err := writeNewFile(out, pemBytes); err != nil {
		return err
	}
	back, err := os.ReadFile(out)
	if err == nil {
		k2, perr := crypto.ParseRecoveryPrivateKey(back)
		switch {
		case perr != nil:
			err = perr
		case !k2.Equal(key):
			err = errors.New("the written key differs")
		}
	}
	if err != nil {
		return fmt.Errorf("reading back %s: %w", out, err)
	}
	if !remove {
		return nil
	}
	if err := os.Remove(src); err != nil {
		return fmt.Errorf("exported, but removing %s failed: %w", src, err)
	}
	return syncDir(dir)
}

// writeNewFile creates path (it must not exist), writes data with mode 0600, fsyncs
// the file and its directory. A failed write removes what it created.
func writeNewFile(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("%s: %w", path, ErrExists)
	}
	if err != nil {
		return err
	}
	err = f.Chmod(0o600) // whatever the umask
	if err == nil {
		_, err = f.Write(data)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = syncDir(filepath.Dir(path))
	}
	if err != nil {
		os.Remove(path)
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
