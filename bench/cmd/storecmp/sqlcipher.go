package main

import (
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/url"
	"path/filepath"

	_ "github.com/mutecomm/go-sqlcipher/v4" // registers the "sqlite3" driver (SQLCipher)
)

// sqlcStore is SQLCipher through github.com/mutecomm/go-sqlcipher/v4, set up as its
// users would for an encrypted local store: PRAGMA key with a raw 32-byte key (x'…',
// so no PBKDF2 on open), cipher defaults (AES-256-CBC, HMAC-SHA512, 4096-byte pages,
// cipher_memory_security as the library ships it), PRAGMA synchronous=FULL, and the
// journal mode given. One connection (SQLite serialises writers anyway; every pooled
// connection would have to be keyed).
type sqlcStore struct {
	path    string
	journal string
	db      *sql.DB
	get1    *sql.Stmt
	upd     *sql.Stmt
	ins     *sql.Stmt
}

// sqlcSettings is what the connection reports about itself, printed with the table.
type sqlcSettings struct {
	Version, Provider, ProviderVersion, PageSize, HMAC, KDF, MemorySecurity, Journal, Synchronous, SQLite string
}

func openSQLCipher(dir, journal, memsec string) (*sqlcStore, error) {
	key := make([]byte, 32)
	if _, err := rand.Read(key); err != nil {
		return nil, err
	}
	path := filepath.Join(dir, "cases.db")
	q := url.Values{}
	q.Set("_pragma_key", "x'"+hex.EncodeToString(key)+"'")
	q.Set("_journal_mode", journal)
	q.Set("_synchronous", "FULL")
	db, err := sql.Open("sqlite3", path+"?"+q.Encode())
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	db.SetConnMaxLifetime(0)
	s := &sqlcStore{path: path, journal: journal, db: db}
	if memsec != "" { // only when asked: the default is what the library ships
		if _, err := db.Exec("PRAGMA cipher_memory_security = " + memsec); err != nil {
			db.Close()
			return nil, err
		}
	}
	if _, err := db.Exec(`CREATE TABLE cases (id TEXT PRIMARY KEY NOT NULL, data BLOB NOT NULL)`); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlcipher: create table: %w", err)
	}
	for _, p := range []struct {
		st   **sql.Stmt
		text string
	}{
		{&s.get1, `SELECT data FROM cases WHERE id = ?`},
		{&s.upd, `UPDATE cases SET data = ? WHERE id = ?`},
		{&s.ins, `INSERT INTO cases (id, data) VALUES (?, ?)`},
	} {
		if *p.st, err = db.Prepare(p.text); err != nil {
			db.Close()
			return nil, fmt.Errorf("sqlcipher: prepare %q: %w", p.text, err)
		}
	}
	return s, nil
}

func (s *sqlcStore) settings() (sqlcSettings, error) {
	var st sqlcSettings
	for _, p := range []struct {
		dst  *string
		prag string
	}{
		{&st.Version, "cipher_version"}, {&st.Provider, "cipher_provider"}, {&st.ProviderVersion, "cipher_provider_version"},
		{&st.PageSize, "cipher_page_size"}, {&st.HMAC, "cipher_hmac_algorithm"}, {&st.KDF, "cipher_kdf_algorithm"},
		{&st.MemorySecurity, "cipher_memory_security"}, {&st.Journal, "journal_mode"}, {&st.Synchronous, "synchronous"},
	} {
		if err := s.db.QueryRow("PRAGMA " + p.prag).Scan(p.dst); err != nil {
			return st, fmt.Errorf("PRAGMA %s: %w", p.prag, err)
		}
	}
	err := s.db.QueryRow("SELECT sqlite_version()").Scan(&st.SQLite)
	return st, err
}

func (s *sqlcStore) insertBatch(keys, vals [][]byte) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	ins := tx.Stmt(s.ins)
	for i := range keys {
		// string(key): the id column is TEXT, as an application would declare it.
		if _, err := ins.Exec(string(keys[i]), vals[i]); err != nil {
			tx.Rollback()
			return err
		}
	}
	return tx.Commit()
}

func (s *sqlcStore) readAll(fn func(k, v []byte)) error {
	rows, err := s.db.Query(`SELECT id, data FROM cases`)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var k, v []byte // Scan into *[]byte copies the values out of SQLite
		if err := rows.Scan(&k, &v); err != nil {
			return err
		}
		fn(k, v)
	}
	return rows.Err()
}

func (s *sqlcStore) get(key []byte) ([]byte, error) {
	var v []byte
	err := s.get1.QueryRow(string(key)).Scan(&v)
	return v, err
}

func (s *sqlcStore) update(key, val []byte) error {
	tx, err := s.db.Begin()
	if err != nil {
		return err
	}
	res, err := tx.Stmt(s.upd).Exec(val, string(key))
	if err != nil {
		tx.Rollback()
		return err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		tx.Rollback()
		return fmt.Errorf("sqlcipher: update %s: %d rows", key, n)
	}
	return tx.Commit()
}

func (s *sqlcStore) files() []string {
	return []string{s.path, s.path + "-wal", s.path + "-shm", s.path + "-journal"}
}

func (s *sqlcStore) close() error { return s.db.Close() }
