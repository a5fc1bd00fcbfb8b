// Package sync is FieldOffice's sync engine: it brings the portal's changes to the
// device and the device's outbox to the portal, whatever the network does, without
// losing or duplicating a change. (Inside this package the standard library's sync
// is imported as stdsync.)
//
// # Pieces
//
//   - [Client] speaks the portal API of package portal over resty: TLS 1.3 with the
//     portal CA (pinned by hash at enrollment), the device's TPM-held client key,
//     timeouts, retries with exponential backoff and jitter on network errors, 408,
//     429 and 502–504, honouring Retry-After.
//   - [Enroll] turns an enrollment token into an enrolled device ([Device], stored
//     next to the vault as device.json).
//   - [Engine] runs one sync: policy and forms, pull the change feed page by page
//     (each page with its cursor in one vault transaction), upload the attachments
//     the outbox refers to (resumable), push the outbox in batches (each batch's
//     answers recorded in one transaction, which is the only place an op leaves the
//     outbox), and report progress as [Event]s.
//   - [Background] runs the engine for the GUI: on unlock, shortly after a local
//     edit, when the network returns, every N minutes; one run at a time.
//
// The rules for merging, conflicts and exactly-once are in storage/sync.go, next to
// the data they guard; docs/PROTOCOL.md describes the wire.
package sync
