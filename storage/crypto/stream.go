package crypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Streams: attachments in chunks
//
// An attachment (a blob) is sealed with the STREAM construction of age
// (https://age-encryption.org/v1, "payload"), with AES-256-GCM instead of
// ChaCha20-Poly1305:
//
//   - The plaintext is split into chunks of [ChunkSize] (64 KiB). Every chunk but the
//     last is exactly ChunkSize long; the last is 1..ChunkSize bytes, or empty when the
//     whole plaintext is empty (then it is the only chunk).
//   - Chunk i is sealed with the 12-byte nonce
//
//     i as an 11-byte big-endian counter | 0x01 for the last chunk, else 0x00
//
//     and is stored as ciphertext | tag (16 bytes): the nonce is implicit.
//   - Each blob has its own key: HKDF-SHA-256 with the vault's blobs subkey
//     (Key.Derive(PurposeBlobs)) as input, a random 16-byte per-blob salt
//     ([StreamSaltSize], stored in the blob's header) as salt and
//     "fieldoffice/v1/"+[PurposeBlobStream] as info. The counter nonces therefore never
//     repeat under one key, however many blobs there are.
//   - The additional data of every chunk is
//
//     uvarint(len(context)) | context | StreamVersion
//
//     where the caller's context names the blob (the store uses bucket and blob ID).
//
// What this detects, and how:
//
//   - a flipped bit: the tag fails ([ErrAuth]);
//   - reordered chunks: chunk j opened at position i has the wrong counter in its
//     nonce (ErrAuth);
//   - a chunk from another blob: another per-blob key (ErrAuth);
//   - truncation at a chunk boundary: the chunk now last was sealed with the flag 0x00,
//     so it does not open as the last chunk; a reader that runs out of chunks before a
//     last one reports [ErrStreamTruncated];
//   - an extra chunk after the last one: [ErrStreamExtraChunk].
//
// Every failure is a *[ChunkError] naming the chunk index; it matches ErrAuth,
// ErrStreamTruncated or ErrStreamExtraChunk with errors.Is. No byte of a chunk is
// returned before its tag has been checked.
//
// [Stream.SealChunk] and [Stream.OpenChunk] work on single chunks (the store uses
// them, because it knows the chunk count from the blob's header and writes chunks in
// bbolt transactions of its own). [Stream.NewWriter] and [Stream.NewReader] turn a
// byte stream into chunks and back when the number of chunks is not known in advance.

// Sizes and versions of the stream format.
const (
	// ChunkSize is the plaintext size of every chunk but the last.
	ChunkSize = 64 << 10
	// ChunkOverhead is how much longer a sealed chunk is than its plaintext.
	ChunkOverhead = TagSize
	// StreamSaltSize is the size of the per-blob salt.
	StreamSaltSize = 16
	// StreamVersion is bound into every chunk's additional data.
	StreamVersion = 1
	// PurposeBlobStream is the HKDF info (after "fieldoffice/v1/") of per-blob keys,
	// derived from the PurposeBlobs subkey with the per-blob salt.
	PurposeBlobStream = "blob-stream"
)

// counterSize is the size of the chunk counter in the nonce: 11 bytes, of which a
// uint64 index uses the low 8.
const counterSize = NonceSize - 1

// Errors of the stream layer; a *ChunkError wraps them (or ErrAuth).
var (
	ErrStreamTruncated  = errors.New("stream truncated: the last chunk is missing")
	ErrStreamExtraChunk = errors.New("chunk after the last chunk")
)

// ChunkError reports the chunk of a stream that failed. It unwraps to [ErrAuth],
// [ErrStreamTruncated] or [ErrStreamExtraChunk] (or to the error of the function that
// supplied the chunk).
type ChunkError struct {
	Index uint64
	Err   error
}

func (e *ChunkError) Error() string {
	return fmt.Sprintf("chunk %d: %v", e.Index, e.Err)
}

// Unwrap returns the underlying error.
func (e *ChunkError) Unwrap() error { return e.Err }

// Stream seals and opens the chunks of one blob: a per-blob AES-256-GCM key and the
// blob's additional data. It is safe for concurrent use.
type Stream struct {
	aead      cipher.AEAD
	aad       []byte
	chunkSize int
}

// NewStreamSalt returns a fresh random per-blob salt of [StreamSaltSize] bytes.
func NewStreamSalt() ([]byte, error) {
	salt := make([]byte, StreamSaltSize)
	if _, err := rand.Read(salt); err != nil {
		return nil, fmt.Errorf("stream salt: %w", err)
	}
	return salt, nil
}

// NewStream returns the Stream of one blob. blobsKey is the vault's blobs subkey
// (dek.Derive(PurposeBlobs)); salt is the blob's random salt ([StreamSaltSize] bytes,
// [NewStreamSalt]); context names the blob and is bound into every chunk. The caller
// may zero blobsKey afterwards.
func NewStream(blobsKey *Key, salt, context []byte) (*Stream, error) {
	return newStream(blobsKey, salt, context, ChunkSize)
}

// newStream is NewStream with another chunk size (tests and fuzzing use small ones to
// reach many chunks quickly; the format is the same for every size).
func newStream(blobsKey *Key, salt, context []byte, chunkSize int) (*Stream, error) {
	if len(salt) != StreamSaltSize {
		return nil, fmt.Errorf("stream: salt of %d bytes, want %d", len(salt), StreamSaltSize)
	}
	if chunkSize <= 0 {
		return nil, fmt.Errorf("stream: chunk size %d", chunkSize)
	}
	k := deriveKey(blobsKey[:], salt, PurposeBlobStream)
	defer k.Zero()
	block, err := aes.NewCipher(k[:])
	if err != nil {
		return nil, fmt.Errorf("aes: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("gcm: %w", err)
	}
	aad := binary.AppendUvarint(nil, uint64(len(context)))
	aad = append(aad, context...)
	aad = append(aad, StreamVersion)
	return &Stream{aead: aead, aad: aad, chunkSize: chunkSize}, nil
}

// ChunkSize returns the plaintext size of the stream's full chunks ([ChunkSize]).
func (s *Stream) ChunkSize() int { return s.chunkSize }

// SealedChunkSize returns the size of a sealed full chunk.
func (s *Stream) SealedChunkSize() int { return s.chunkSize + ChunkOverhead }

func chunkNonce(i uint64, last bool) [NonceSize]byte {
	var n [NonceSize]byte
	binary.BigEndian.PutUint64(n[counterSize-8:counterSize], i)
	if last {
		n[counterSize] = 1
	}
	return n
}

// checkPlainLen enforces the chunk sizes: full chunks before the last, a last chunk of
// 1..ChunkSize bytes, empty only as the only chunk.
func (s *Stream) checkPlainLen(i uint64, last bool, n int) bool {
	if !last {
		return n == s.chunkSize
	}
	return n <= s.chunkSize && (n > 0 || i == 0)
}

// SealChunk appends chunk i (last: whether it is the final chunk) sealed to dst and
// returns the result. pt must be exactly ChunkSize bytes unless last; a last chunk may
// be empty only when it is chunk 0. Each (i, last) must be sealed once per blob.
func (s *Stream) SealChunk(dst []byte, i uint64, last bool, pt []byte) ([]byte, error) {
	if !s.checkPlainLen(i, last, len(pt)) {
		return nil, &ChunkError{Index: i, Err: fmt.Errorf("stream: chunk of %d bytes (last=%v), want %d", len(pt), last, s.chunkSize)}
	}
	nonce := chunkNonce(i, last)
	return s.aead.Seal(dst, nonce[:], pt, s.aad), nil
}

// OpenChunk opens chunk i sealed by [Stream.SealChunk] with the same last flag,
// appends the plaintext to dst and returns it. Every failure — wrong position, wrong
// flag, wrong blob, a flipped bit, a bad length — is a *ChunkError wrapping [ErrAuth];
// dst's spare capacity may then have been overwritten but nothing is returned.
func (s *Stream) OpenChunk(dst []byte, i uint64, last bool, sealed []byte) ([]byte, error) {
	if len(sealed) < ChunkOverhead || !s.checkPlainLen(i, last, len(sealed)-ChunkOverhead) {
		return nil, &ChunkError{Index: i, Err: ErrAuth}
	}
	nonce := chunkNonce(i, last)
	out, err := s.aead.Open(dst, nonce[:], sealed, s.aad)
	if err != nil {
		return nil, &ChunkError{Index: i, Err: ErrAuth}
	}
	return out, nil
}

// StreamWriter splits what is written to it into chunks, seals them and hands each to
// its emit function. It holds back one full chunk until it knows whether more data
// follows, so the last chunk is only emitted by Close. Memory: two chunk buffers.
type StreamWriter struct {
	s      *Stream
	emit   func(i uint64, last bool, sealed []byte) error
	buf    []byte // plaintext not yet sealed, at most one chunk
	sealed []byte // reused for every chunk
	i      uint64
	err    error
	closed bool
}

// NewWriter returns a StreamWriter that calls emit for every sealed chunk in order.
// The sealed slice is valid only during the call (it is reused). An error from emit
// stops the writer and is returned by Write or Close.
func (s *Stream) NewWriter(emit func(i uint64, last bool, sealed []byte) error) *StreamWriter {
	return &StreamWriter{s: s, emit: emit, buf: make([]byte, 0, s.chunkSize)}
}

// Write buffers p and emits every chunk that is known not to be the last.
func (w *StreamWriter) Write(p []byte) (int, error) {
	if w.closed {
		return 0, errors.New("stream: write after Close")
	}
	if w.err != nil {
		return 0, w.err
	}
	n := 0
	for len(p) > 0 {
		if len(w.buf) == w.s.chunkSize {
			// More data follows the buffered full chunk, so it is not the last.
			if err := w.flush(false); err != nil {
				return n, err
			}
		}
		c := copy(w.buf[len(w.buf):w.s.chunkSize], p)
		w.buf = w.buf[:len(w.buf)+c]
		p = p[c:]
		n += c
	}
	return n, nil
}

func (w *StreamWriter) flush(last bool) error {
	sealed, err := w.s.SealChunk(w.sealed[:0], w.i, last, w.buf)
	if err == nil {
		w.sealed = sealed
		err = w.emit(w.i, last, sealed)
	}
	if err != nil {
		w.err = err
		return err
	}
	w.i++
	w.buf = w.buf[:0]
	return nil
}

// Close seals and emits the last chunk (an empty one if nothing was written). It
// does not close anything else.
func (w *StreamWriter) Close() error {
	if w.closed {
		return w.err
	}
	w.closed = true
	if w.err != nil {
		return w.err
	}
	err := w.flush(true)
	clear(w.buf[:cap(w.buf)])
	return err
}

// Chunks returns the number of chunks emitted so far.
func (w *StreamWriter) Chunks() uint64 { return w.i }

// StreamReader opens a chunk stream and reads its plaintext. It implements io.Reader.
type StreamReader struct {
	s    *Stream
	next func(i uint64) ([]byte, error)
	pt   []byte // opened plaintext not yet read
	buf  []byte
	i    uint64
	done bool
	err  error
}

// NewReader returns a StreamReader that fetches sealed chunk i with next(i); next
// returns io.EOF when there is no chunk i. The reader finds the last chunk itself: a
// chunk shorter than a full sealed chunk must be the last one; a full-size chunk is
// tried as a middle chunk and then as the last. After the last chunk it checks that
// next(i+1) returns io.EOF before it returns the last chunk's bytes.
//
// Read returns a chunk's bytes only after its tag was verified and io.EOF only after a
// last chunk. Errors are *ChunkError values; an error from next other than io.EOF is
// wrapped in one too. The slice next returns is not kept after the call.
func (s *Stream) NewReader(next func(i uint64) ([]byte, error)) *StreamReader {
	return &StreamReader{s: s, next: next}
}

// Read implements io.Reader.
func (r *StreamReader) Read(p []byte) (int, error) {
	for len(r.pt) == 0 {
		if r.err != nil {
			return 0, r.err
		}
		if r.done {
			return 0, io.EOF
		}
		if err := r.fill(); err != nil {
			r.err = err
			clear(r.buf[:cap(r.buf)])
			return 0, err
		}
	}
	n := copy(p, r.pt)
	r.pt = r.pt[n:]
	return n, nil
}

func (r *StreamReader) fill() error {
	i := r.i
	sealed, err := r.next(i)
	if err == io.EOF {
		return &ChunkError{Index: i, Err: ErrStreamTruncated}
	}
	if err != nil {
		return &ChunkError{Index: i, Err: err}
	}
	if r.buf == nil {
		r.buf = make([]byte, 0, r.s.chunkSize)
	}
	var pt []byte
	last := len(sealed) != r.s.SealedChunkSize()
	if !last {
		pt, err = r.s.OpenChunk(r.buf[:0], i, false, sealed)
		if err != nil {
			last = true // a full-size chunk can also be the last one
		}
	}
	if last {
		if pt, err = r.s.OpenChunk(r.buf[:0], i, true, sealed); err != nil {
			return err
		}
		switch _, err := r.next(i + 1); {
		case err == nil:
			return &ChunkError{Index: i + 1, Err: ErrStreamExtraChunk}
		case err != io.EOF:
			return &ChunkError{Index: i + 1, Err: err}
		}
		r.done = true
	}
	r.pt = pt
	r.i++
	return nil
}
