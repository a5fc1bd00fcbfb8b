// Package storage is FieldOffice's encrypted store: a vault on bbolt whose data key is
// protected by key slots, the way LUKS protects a disk.
//
// # Using it
//
//	v, err := storage.Create(cfg, storage.CreateOptions{User: "anna", PIN: pin, RecoveryKey: pub})
//	...
//	v, err := storage.Open(cfg)     // locked
//	err = v.Unlock("anna", pin)     // *WrongPINError, ErrSlotLocked, ErrTPMRefused, ...
//	v.SetForms(assets.Schemas{})    // validation, workflow, searchable fields
//	c, err := v.NewCase("anmeldung", map[string]string{"familienname": "Weiß"})
//	c, err = v.SetFields(c.ID, map[string]string{"neue_wohnung.plz": "04109"}) // *ValidationError
//	c, err = v.TransitionCase(c.ID, "in_bearbeitung", "sachbearbeitung")        // *cases.TransitionError
//	page, err := v.Cases(storage.CaseQuery{Status: "rueckfrage", Sort: "due", Limit: 50})
//	rows, err := v.CaseRefs(storage.CaseQuery{}) // the whole list, shared: read only
//	hits, err := v.Search("weiss leipzig", 50)
//	hist, err := v.CaseAudit(c.ID, 200)           // the case's history, newest first
//	info, err := v.PutBlob(file, 0) // attachment, streamed
//	v.Lock()                        // keys zeroed
//	err = v.Close()
//
// Other data goes through [Vault.Update] and [Vault.View] ([Tx.Put], [Tx.Get],
// [Tx.Delete], [Tx.ForEach]) and bulk reads through [Vault.ReadAll].
//
// # Keys
//
// The DEK is 32 random bytes; subkeys per purpose come from HKDF-SHA-256 (package
// storage/crypto). Each user has a key slot holding the DEK wrapped:
//
//   - tpm: a random 32-byte slot secret is sealed by the TPM under the policy
//     PCRs (PCR 7 by default) AND auth value, auth value = Argon2id(PIN, salt); the DEK
//     is wrapped with AES-256-GCM under HKDF(slot secret, salt). Unlock costs one
//     Argon2id run and one TPM unseal.
//   - software: the DEK wrapped under Argon2id(PIN, salt). Only when there is no TPM
//     and the device policy allows it (CreateOptions.AllowSoftwareKey); Status reports
//     SoftwareKey so the UI can say loudly that the key is not hardware-protected.
//   - recovery: the DEK wrapped to the organisation's X25519 recovery public key.
//     [Vault.Recover] uses the private key to enrol a fresh slot, for example on a
//     replaced TPM.
//
// The key slots and the header (format version, vault ID, TPM spec, PCRs) are stored in
// clear, so they can be read while the vault is locked. After every unlock an
// HMAC-SHA-256 under the header-mac subkey over header and slots is verified: an edited
// or swapped header or slot is reported as tampered. The per-slot failure counters are
// outside the MAC because they change while the vault is locked: five wrong PINs in a
// row lock a slot in the app (ErrSlotLocked; an admin's [Vault.ResetUser] or
// [Vault.Recover] clears it), but someone who can write the file can reset the counter,
// so the TPM's dictionary-attack lockout is the real limit on guessing. The counter is
// incremented in its own committed transaction before the TPM or Argon2id is tried.
//
// # Values
//
// Every value in a data bucket is sealed (AES-256-GCM, AAD = bucket and key, see
// storage/crypto). Keys are in clear: case IDs are random UUIDv7s. A value that does not
// open is reported as a *TamperError naming bucket and key, never skipped. Each data
// bucket's entry count is kept sealed in the meta bucket, so a full read also notices
// entries that went missing.
//
// # Damaged files
//
// A damaged file gives an error, never a crash and never wrong data. Before bbolt uses
// a file, Open walks its B+tree and freelist with plain reads (fsck.go): meta pages as
// bbolt picks them, page IDs below the high-water mark, page types, element bounds, no
// page reached twice (no cycles, which would overflow bbolt's recursion), a depth
// limit, every page reachable or free. Every bbolt call runs with panics recovered and
// memory faults turned into panics (debug.SetPanicOnFault), giving a *CorruptError.
// The file carries a "dirty" flag, set by a process's first write until Close; after
// an unclean shutdown bbolt's tx.Check runs as well. bbolt runs that check in a
// goroutine of its own, where a panic could not be recovered; the walk before it is
// what keeps it safe. With Config.BackgroundCheck (the app) Open walks only the meta
// pages, the root tree, the freelist and the header and key-slot buckets, and the rest
// of the walk (and tx.Check) runs in the background; every operation beyond Status
// and Users waits for it. A 1.5 GB vault takes 0.4 s to walk warm, 2–3 s cold.
//
// # Cases
//
// The case repository (repo.go) keeps cases, their list summaries, the blind search
// index (index.go), the outbox of operations waiting for the portal (outbox.go), the
// hash-chained audit trail (audit.go) and the bases last agreed with the portal. Every
// change writes all of them in one bbolt transaction. The list's summaries are decoded
// once per session and shared (CaseRefs); a case's audit entries are found through a
// per-case index (bucket audit-case). Attachments are blobs (blobs.go):
// STREAM-sealed 64 KiB chunks, addressed by SHA-256, read and written with flat
// memory.
//
// # Rollback and format versions
//
// A TPM NV counter, bumped at every unlock and lock and bound by a MAC to the store's
// head record, detects an older copy of the data directory put back (rollback.go;
// only where the TPM's NV state persists: device and mssim). The file's format version
// is in the header; Unlock runs the migration steps from older versions in
// transactions of their own and refuses files from newer versions (migrate.go).
package storage
