// Package platform is FieldOffice's view of the device: the TPM that protects the
// data key, where data lives on each OS, and (later) device identity, connectivity
// and idle detection.
//
// # Choosing a TPM
//
// The TPM is chosen by a spec string (flag --tpm, environment FIELDOFFICE_TPM),
// parsed by ParseSpec and opened by Open:
//
//	auto              the platform's TPM: /dev/tpmrm0 on Linux, TBS on Windows.
//	                  Fails with ErrNoTPM (naming the other choices) when there is none,
//	                  and with ErrNotSupported on other systems.
//	device[:PATH]     a TPM character device (default /dev/tpmrm0); on Windows TBS.
//	mssim:HOST:PORT   swtpm or ms-tpm-20-ref over TCP; PORT is the command port,
//	                  PORT+1 the platform port. Open sends TPM2_Startup(CLEAR).
//	sim:FILE          go-tpm-tools' in-process simulator, seeded from FILE (created
//	                  with a random seed, mode 0600, when missing). Tests and demo only.
//	none              no TPM. Open refuses it (ErrNotSupported); callers use a software
//	                  key slot, allowed only with --allow-software-key.
//
// # What each protects
//
// A hardware TPM (auto, device) keeps the sealed data key bound to this machine: a
// copied disk or database file cannot be unsealed elsewhere, and PIN guessing is
// rate-limited by the TPM's dictionary-attack lockout. Info.Hardware is true.
//
// swtpm (mssim) behaves like a TPM but keeps its secrets in its state directory:
// whoever can read that directory can unseal. Useful for CI and for development on
// machines without a TPM. Info.Warning says so.
//
// The simulator (sim) protects nothing: its seed is in a plain file and its state lives
// in process memory, so NV counters do not survive the process (Info.PersistentNV is
// false). It is a process-wide singleton: a second Open fails until the first TPM is
// closed. Open raises its dictionary-attack limit from 3 to 32 tries (recovery 60 s,
// lockout recovery 600 s) so that it behaves like a real TPM. Builds without cgo, or
// with the build tag fieldoffice_nosim, leave it out; Open then fails with
// ErrNotSupported.
//
// # Sealing
//
// Seal stores a secret of at most 32 bytes (the data key) in a KeyedHash sealed-data
// object under the storage root key (SRK): the TCG standard ECC P-256 key of the owner
// hierarchy, taken from persistent handle 0x81000001 when it is there, otherwise created
// and (for device and mssim) persisted there. The object has FixedTPM|FixedParent, no
// userWithAuth and no noDA, so it can only be used through its policy and every wrong
// auth value counts towards the TPM's lockout. Its policy is
//
//	PolicyPCR(SHA-256 bank, pcrs, their values at seal time) AND PolicyAuthValue
//
// or PolicyAuthValue alone when pcrs is empty. The auth value is what the caller
// derives from the user's PIN (Argon2id). Seal and Unseal run in sessions salted with
// the SRK, with AES-128-CFB parameter encryption: the secret and the auth value go to
// the TPM encrypted, and the unsealed secret comes back encrypted. Unseal on a fresh
// TPM instance takes 7 TPM commands (SRK lookup, Load, StartAuthSession, PolicyPCR,
// PolicyAuthValue, Unseal, FlushContext); WithCommandCounter counts them.
//
// A SealedKey is not secret: it holds the object's public and encrypted private area
// and the SRK name, and only the TPM that made it can load it.
//
// # Errors
//
// Unseal's errors wrap one of
//
//	ErrAuthFail   wrong auth value (wrong PIN); counted by the TPM's lockout
//	ErrLockout    the TPM is in dictionary-attack lockout; wait or reset with lockout auth
//	ErrPolicy     the PCR values differ from seal time (e.g. boot configuration changed)
//	ErrWrongTPM   the key was sealed by another TPM, or this one was cleared
//
// and keep the TPM's response code (e.g. TPM_RC_AUTH_FAIL) in the chain and the text.
// Errors never contain secrets or auth values. CounterRead and CounterIncrement return
// ErrNoCounter for an undefined index. Open returns ErrNoTPM, ErrNotSupported or
// ErrBadSpec as described above.
//
// # NV counters
//
// CounterCreate defines a TPM_NT_COUNTER index (owner auth empty) at e.g.
// DefaultCounterIndex and increments it once, since a counter cannot be read before
// its first increment. Counters only go up, which is what anti-rollback needs.
//
// # Tests
//
// Package platform/tpmtest gives other packages' tests a simulator spec (SimSpec) or a
// running swtpm (StartSWTPM). The PCRExtender and PCRReader interfaces, implemented by
// every TPM Open returns, let tests change and inspect PCRs.
package platform
