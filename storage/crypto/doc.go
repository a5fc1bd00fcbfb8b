// Package crypto holds the few cryptographic building blocks of the FieldOffice store.
//
// There is one data encryption key (DEK) per vault: 32 random bytes, a [Key]. Nothing
// is encrypted with the DEK directly. Each purpose gets its own subkey through
// HKDF-SHA-256:
//
//	dek.Derive(PurposeRecords)   // sealing values in bbolt
//	dek.Derive(PurposeIndex)     // blind search index (HMAC)
//	dek.Derive(PurposeAudit)     // audit chain MAC
//	dek.Derive(PurposeBlobs)     // attachment chunks
//	dek.Derive(PurposeHeaderMAC) // MAC over the vault header and key slots
//
// # Sealed values
//
// A [Sealer] seals a value stored under a bucket and key with AES-256-GCM:
//
//	version (1 byte) | nonce (12 bytes) | ciphertext | tag (16 bytes)
//
// The additional data binds the value to where it is stored:
//
//	len(bucket) (uvarint) | bucket | 0x00 | len(key) (uvarint) | key | version
//
// so a value copied under another key or into another bucket no longer opens.
// [Sealer.Open] returns [ErrAuth] for every failure — wrong key, flipped bit, wrong
// place, unknown version, short input — and never any part of the plaintext.
//
// # Keys from PINs
//
// [DeriveKey] runs Argon2id with [KDFParams] (default t=3, m=64 MiB, p=2). The
// parameters are stored next to each key slot so that they can be raised later and
// tests can use cheap ones. [KDFParams.Validate] rejects parameters a damaged or
// hostile file could use to exhaust memory or time.
//
// # Recovery
//
// The organisation's recovery key is an X25519 key pair. [WrapToRecipient] wraps a
// key to the public key: an ephemeral X25519 key, a KEK from HKDF-SHA-256 over the
// shared secret, the ephemeral and the recipient public key, and AES-256-GCM.
// [UnwrapWithPrivateKey] reverses it. The key files are PEM, the private key as PKCS#8
// ("PRIVATE KEY") and the public key as PKIX ("PUBLIC KEY"), the same as
//
//	openssl genpkey -algorithm X25519 -out recovery.key
//	openssl pkey -in recovery.key -pubout -out recovery.pub
//
// see [GenerateRecoveryKey], [MarshalRecoveryPrivateKey], [ParseRecoveryPublicKey] and
// friends.
//
// # What this package does not do
//
// Go cannot reliably erase memory: [Key.Zero] clears the key array, but the AES key
// schedule inside a cipher.Block and copies the garbage collector made stay until the
// memory is reused. Keys live in memory only while the vault is unlocked.
package crypto
