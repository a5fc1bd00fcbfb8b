// Package portal is the contract between FieldOffice devices and the central portal:
// the wire types of the API described in openapi.yaml and docs/PROTOCOL.md. It holds
// no client and no server; the sync engine (fieldoffice/sync) and the reference
// portal (fieldoffice/portal/server, cmd/portald) both speak it.
//
// The protocol in one paragraph: a device enrolls once with a one-time token that
// carries the portal's URL and the SHA-256 of its CA certificate; it sends a CSR for
// its TPM-held key and gets a client certificate, the device policy, the form schemas
// and the recovery public key. From then on every call is mTLS. The device pulls the
// change feed page by page (GET /v1/changes?since=CURSOR), storing each page with its
// cursor in one transaction; it pushes its outbox in batches (POST /v1/ops), each op
// carrying a UUID the portal applies at most once and a per-field patch the portal
// checks against the current values; attachments go up and down resumably by SHA-256.
// An admin's remote actions (wipe, lock, resync, rotate-cert) reach the device at its
// next contact: every authenticated answer carries the header Device-Actions (the
// pending count), GET /v1/device lists them, and the device reports each outcome.
// Errors are RFC 9457 problem details with stable type URIs (the Problem* constants).
package portal
