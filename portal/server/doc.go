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
//	               idempotency records, policy, forms, recovery public key, remote
//	               actions
//	ca.crt ca.key  the device CA (ECDSA P-256, 10 years); its SHA-256 goes into tokens
//	server.crt     the TLS certificate (leaf and CA) for the configured hosts
//	server.key
//	admin.secret   the bearer secret of the admin socket
//	recovery.key   the organisation's X25519 recovery private key until it is exported
//	               ([ExportRecoveryKey], `portald recovery export --remove`) to
//	               offline storage; the public key is in portal.db
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
// The admin operations (enrollment tokens, devices and their remote actions, cases,
// policy, demo data) are methods of [Store] and form the [Admin] interface. bbolt locks portal.db while a
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
//     names, form values, tokens or secrets (nor a device's action detail).
//
// # Remote actions
//
// [Store.QueueAction] queues a wipe, lock, resync or rotate-cert for a device. Every
// answer to the device's authenticated calls carries the header Device-Actions (the
// pending count); GET /v1/device lists them; the device reports each with POST
// /v1/device/actions/{id} ([Store.ReportAction]). A wipe reported done marks the
// device wiped, and it is then refused like a revoked one. POST
// /v1/device/certificate ([Store.RotateCertificate]) issues a new certificate; the
// one that asked stays valid until the device first uses the new one.
package server
