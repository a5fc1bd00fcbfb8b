// Package platform is FieldOffice's view of the device: the TPM that protects the
// data key and holds the device key, where data lives on each OS, and (later)
// connectivity and idle detection.
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
// ErrBadSpec as described above. LoadDeviceKey returns ErrWrongTPM or ErrBadDeviceKey
// (see Device key), CreateDeviceKey and LoadDeviceKey ErrNotSupported for a TPM that
// cannot hold device keys, and Sign ErrUnsupportedHash for hashes other than SHA-256.
//
// # NV counters
//
// CounterCreate defines a TPM_NT_COUNTER index (owner auth empty) at e.g.
// DefaultCounterIndex and increments it once, since a counter cannot be read before
// its first increment. Counters only go up, which is what anti-rollback needs.
//
// # Device key
//
// The device key is the private key of the device's client certificate for mutual
// TLS with the portal: a DeviceKey, which is a crypto.Signer (tls.Certificate's
// PrivateKey, x509.CreateCertificateRequest) plus Hardware and Close.
//
//	blob, err := platform.CreateDeviceKey(tp)   // once, at enrollment; store blob (0600)
//	key, err := platform.LoadDeviceKey(tp, blob) // at start; key.Close() before tp.Close()
//
// CreateDeviceKey makes an ECC P-256 key in the TPM under the same SRK as Seal:
// an unrestricted signing key with the fixed scheme ECDSA/SHA-256, sensitiveDataOrigin
// (generated in the TPM), fixedTPM|fixedParent (it can never leave the TPM),
// userWithAuth with an empty auth value and noDA. It needs no PIN, so the device syncs
// while the vault is locked; and since there is no auth value to guess, noDA keeps the
// dictionary-attack lockout that wrong PINs trigger from also stopping sync. The price:
// any process on this machine that can read the key file and use the TPM can sign with
// the key. What the TPM guarantees is that the key cannot be copied off the machine.
//
// The key file is a PEM block "FIELDOFFICE TPM DEVICE KEY" holding DER
// SEQUENCE { version 1, TPM2B_PUBLIC, TPM2B_PRIVATE, SRK name }. LoadDeviceKey
// compares the SRK name first (ErrWrongTPM for a key file from another TPM, or from
// before a TPM clear), refuses files of keys that are not what CreateDeviceKey makes
// (ErrBadDeviceKey: e.g. an imported or duplicable key), and loads the key.
//
// Sign takes SHA-256 digests only (ErrUnsupportedHash otherwise), which is all that
// TLS 1.3 and X.509 use with P-256, and returns ASN.1 DER like crypto/ecdsa. It runs
// TPM2_Sign in a password session with the empty auth value — an HMAC or encrypting
// session would protect nothing, as the auth value is empty and neither the digest
// nor the signature is secret — and verifies the signature before returning it.
// A TPM keeps at most one device key loaded, until that key or the TPM is closed or
// another device key signs: TPMs without a resource manager (swtpm, the simulator) and
// Linux's per-file resource manager hold only three transient objects, and the
// simulator's SRK and Unseal's sealed object may need two. TPM commands:
//
//	CreateDeviceKey   1 (Create), plus the SRK lookup on a fresh TPM instance
//	LoadDeviceKey     1 (Load), plus the SRK lookup on a fresh TPM instance
//	Sign              1 (Sign); 3 (FlushContext, Load, Sign) after another device
//	                  key signed on the same TPM
//
// so a mutual TLS 1.3 handshake costs one TPM command. All TPM commands — Sign, Seal,
// Unseal, counters — are serialised per TPM, so keys and the TPM are safe for
// concurrent use. If the TPM loses the loaded key (a reset under a resource manager),
// Sign loads it again and retries once.
//
// Where there is no TPM (--tpm none) and the portal's policy allows it,
// NewSoftwareDeviceKey makes a software key instead: same curve, same SHA-256-only
// Sign, Hardware false, stored with MarshalPEM as an unencrypted PKCS#8 "PRIVATE KEY"
// PEM file (mode 0600) and read with ParseSoftwareDeviceKey. Anyone who can read that
// file has the key.
//
// DeviceKey.Hardware is Info.Hardware of the key's TPM: false for software keys and
// for keys in swtpm or the simulator, which keep their secrets where a file reader can
// get at them.
//
// # Tests
//
// Package platform/tpmtest gives other packages' tests a simulator spec (SimSpec) or a
// running swtpm (StartSWTPM). The PCRExtender and PCRReader interfaces, implemented by
// every TPM Open returns, let tests change and inspect PCRs.
package platform
