// Package server is the reference FieldOffice portal: the HTTPS API of
// fieldoffice/portal (see portal/openapi.yaml and docs/PROTOCOL.md) over a bbolt store,
// with its own certificate authority for device certificates. cmd/portald is its
// binary; the sync engine's tests run it in-process on loopback.
//
// # Files
//
// A portal lives in one directory (mode 0700), created by [Init]:
//
//	portal.db      bbolt: cases, change feed, devices, enrollment tokens, op results,
//	               idempotency records, policy, forms, recovery public key
//	ca.crt ca.key  the device CA (ECDSA P-256, 10 years); its SHA-256 goes into tokens
//	server.crt     the TLS certificate (leaf and CA) for the configured hosts
//	server.key
//	admin.secret   the bearer secret of the admin socket
//	recovery.key   the organisation's X25519 recovery private key (export it, then
//	               keep it offline); the public key is in portal.db
//	blobs/SHA256   complete attachments; blobs/partial/SHA256 uploads in progress
//	admin.sock     the admin API while `portald serve` runs (mode 0600)
//
// Every file is written with mode 0600.
//
// # Use
//
// [Init] creates the directory once. [Open] opens it for serving: [Server.Serve]
// answers the device API on a listener (TLS 1.3 only, client certificates of the
// portal's CA) and the admin API on DIR/admin.sock; [Server.Close] stops both and
// closes the store. A closed directory can be opened again in the same process.
//
// The admin operations (enrollment tokens, devices, cases, policy, demo data) are
// methods of [Store] and form the [Admin] interface. bbolt locks portal.db while a
// server has it open, so [OpenAdmin] reaches a running server through its admin socket
// ([DialAdmin]) and opens the store directly ([OpenStore]) only when none runs.
//
// # Guarantees
//
//   - Every accepted write is committed to portal.db (bbolt, fsync) or, for blob bytes,
//     fsynced to disk before the answer is sent.
//   - An op ID is applied at most once; its first result is kept and replayed as
//     "duplicate" (see [Store.ApplyOps]).
//   - The change feed holds each case once, at its latest write; reading a page costs
//     the page, not the store (see [Store.Changes]).
//   - Logs carry method, path, status, device ID and duration; never case content,
//     names, form values, tokens or secrets.
package server
