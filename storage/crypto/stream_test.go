package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// sealStream seals pt with a StreamWriter and returns the chunks.
func sealStream(t testing.TB, s *Stream, pt []byte, writeSize int) [][]byte {
	t.Helper()
	var chunks [][]byte
	w := s.NewWriter(func(i uint64, last bool, sealed []byte) error {
		if i != uint64(len(chunks)) {
			t.Fatalf("emitted chunk %d, want %d", i, len(chunks))
		}
		chunks = append(chunks, bytes.Clone(sealed))
		return nil
	})
	for rest := pt; len(rest) > 0; {
		n := min(writeSize, len(rest))
		if _, err := w.Write(rest[:n]); err != nil {
			t.Fatal(err)
		}
		rest = rest[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if w.Chunks() != uint64(len(chunks)) {
		t.Fatalf("Chunks() = %d, emitted %d", w.Chunks(), len(chunks))
	}
	return chunks
}

// chunkSource serves chunks to a StreamReader.
func chunkSource(chunks [][]byte) func(uint64) ([]byte, error) {
	return func(i uint64) ([]byte, error) {
		if i >= uint64(len(chunks)) {
			return nil, io.EOF
		}
		return chunks[i], nil
	}
}

func testStream(t testing.TB, chunkSize int) (*Stream, Key, []byte) {
	t.Helper()
	k := mustKey(t)
	salt, err := NewStreamSalt()
	if err != nil {
		t.Fatal(err)
	}
	s, err := newStream(&k, salt, []byte("blobs\x00test"), chunkSize)
	if err != nil {
		t.Fatal(err)
	}
	return s, k, salt
}

func pattern(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(i*7 + i>>8)
	}
	return b
}

func TestStreamRoundTrip(t *testing.T) {
	for _, cs := range []int{ChunkSize, 16} {
		s, _, _ := testStream(t, cs)
		for _, n := range []int{0, 1, cs - 1, cs, cs + 1, 2 * cs, 3*cs + 17} {
			t.Run(fmt.Sprintf("chunk%d/size%d", cs, n), func(t *testing.T) {
				pt := pattern(n)
				for _, ws := range []int{1, 7, cs, 1 << 20} {
					if ws == 1 && n > 1<<16 {
						continue
					}
					chunks := sealStream(t, s, pt, ws)
					want := max(1, (n+cs-1)/cs)
					if len(chunks) != want {
						t.Fatalf("%d chunks, want %d", len(chunks), want)
					}
					for i, c := range chunks[:len(chunks)-1] {
						if len(c) != cs+ChunkOverhead {
							t.Fatalf("chunk %d: %d bytes", i, len(c))
						}
					}
					if err := iotest.TestReader(s.NewReader(chunkSource(chunks)), pt); err != nil {
						t.Fatal(err)
					}
				}
			})
		}
	}
}

// TestStreamNonceLayout checks the format against AES-GCM directly: per-blob key from
// HKDF(blobs key, salt, "fieldoffice/v1/blob-stream"), nonce = 11-byte big-endian
// counter | last flag, AAD = uvarint(len(context)) | context | version.
func TestStreamNonceLayout(t *testing.T) {
	k := mustKey(t)
	salt := bytes.Repeat([]byte{0xA5}, StreamSaltSize)
	ctx := []byte("blobs\x00abc")
	s, err := NewStream(&k, salt, ctx)
	if err != nil {
		t.Fatal(err)
	}
	bk := deriveKey(k[:], salt, PurposeBlobStream)
	block, _ := aes.NewCipher(bk[:])
	aead, _ := cipher.NewGCM(block)
	aad := append(append([]byte{byte(len(ctx))}, ctx...), StreamVersion)
	pt := pattern(ChunkSize)
	for _, tc := range []struct {
		i    uint64
		last bool
		pt   []byte
	}{{0, false, pt}, {1, false, pt}, {0x0102030405060708, true, pt[:5]}} {
		got, err := s.SealChunk(nil, tc.i, tc.last, tc.pt)
		if err != nil {
			t.Fatal(err)
		}
		nonce := make([]byte, 12)
		for j := range 8 {
			nonce[3+j] = byte(tc.i >> (56 - 8*j))
		}
		if tc.last {
			nonce[11] = 1
		}
		if want := aead.Seal(nil, nonce, tc.pt, aad); !bytes.Equal(got, want) {
			t.Fatalf("chunk %d last=%v: not the documented layout", tc.i, tc.last)
		}
	}
}

func TestStreamChunkSizes(t *testing.T) {
	s, _, _ := testStream(t, 16)
	for _, tc := range []struct {
		i    uint64
		last bool
		n    int
		ok   bool
	}{
		{0, true, 0, true}, {1, true, 0, false}, {0, false, 15, false}, {0, false, 17, false},
		{3, false, 16, true}, {3, true, 16, true}, {3, true, 1, true}, {3, true, 17, false},
	} {
		sealed, err := s.SealChunk(nil, tc.i, tc.last, make([]byte, tc.n))
		if (err == nil) != tc.ok {
			t.Fatalf("SealChunk(%d, %v, %d bytes) = %v", tc.i, tc.last, tc.n, err)
		}
		if err == nil {
			if _, err := s.OpenChunk(nil, tc.i, tc.last, sealed); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestStreamTamper(t *testing.T) {
	const cs = 16
	s, k, _ := testStream(t, cs)
	pt := pattern(4*cs + 3) // 5 chunks
	chunks := sealStream(t, s, pt, 100)
	otherSalt, _ := NewStreamSalt()
	other, _ := newStream(&k, otherSalt, []byte("blobs\x00test"), cs)
	otherChunks := sealStream(t, other, pt, 100)
	otherCtx, _ := newStream(&k, otherSalt, []byte("blobs\x00else"), cs)

	edit := func(f func(c [][]byte) [][]byte) [][]byte {
		c := make([][]byte, len(chunks))
		for i := range chunks {
			c[i] = bytes.Clone(chunks[i])
		}
		return f(c)
	}
	for _, tc := range []struct {
		name   string
		chunks [][]byte
		index  uint64
		want   error
	}{
		// Cut at a chunk boundary: the chunks left are authentic middle chunks and are
		// returned; then the missing last chunk is reported.
		{"truncated-last", edit(func(c [][]byte) [][]byte { return c[:4] }), 4, ErrStreamTruncated},
		{"truncated-two", edit(func(c [][]byte) [][]byte { return c[:3] }), 3, ErrStreamTruncated},
		{"empty", nil, 0, ErrStreamTruncated},
		{"reordered", edit(func(c [][]byte) [][]byte { c[1], c[2] = c[2], c[1]; return c }), 1, ErrAuth},
		{"other-blob", edit(func(c [][]byte) [][]byte { c[2] = otherChunks[2]; return c }), 2, ErrAuth},
		{"flipped-bit", edit(func(c [][]byte) [][]byte { c[3][5] ^= 0x80; return c }), 3, ErrAuth},
		{"flipped-tag", edit(func(c [][]byte) [][]byte { c[4][len(c[4])-1] ^= 1; return c }), 4, ErrAuth},
		{"extra", edit(func(c [][]byte) [][]byte { return append(c, c[4]) }), 5, ErrStreamExtraChunk},
		{"last-moved-down", edit(func(c [][]byte) [][]byte { return append(c[:2], c[4]) }), 2, ErrAuth},
		{"short-middle", edit(func(c [][]byte) [][]byte { c[1] = c[1][:10]; return c }), 1, ErrAuth},
		{"long-chunk", edit(func(c [][]byte) [][]byte { c[1] = append(c[1], 0); return c }), 1, ErrAuth},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := io.ReadAll(s.NewReader(chunkSource(tc.chunks)))
			var ce *ChunkError
			if !errors.As(err, &ce) || ce.Index != tc.index || !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want chunk %d: %v", err, tc.index, tc.want)
			}
			if want := pt[:min(tc.index, 4)*cs]; !bytes.Equal(got, want) {
				t.Fatalf("returned %d bytes before the error, want %d", len(got), len(want))
			}
		})
	}
	// Another context (blob identity) does not open the chunks.
	if _, err := otherCtx.OpenChunk(nil, 0, false, otherChunks[0]); !errors.Is(err, ErrAuth) {
		t.Fatalf("other context: %v", err)
	}
	// An error of the chunk source is passed on with the index.
	errDisk := errors.New("disk")
	_, err := io.ReadAll(s.NewReader(func(i uint64) ([]byte, error) {
		if i == 2 {
			return nil, errDisk
		}
		return chunks[i], nil
	}))
	var ce *ChunkError
	if !errors.Is(err, errDisk) || !errors.As(err, &ce) || ce.Index != 2 {
		t.Fatalf("source error: %v", err)
	}
}

func TestStreamWriterErrors(t *testing.T) {
	s, _, _ := testStream(t, 16)
	errFull := errors.New("disk full")
	w := s.NewWriter(func(i uint64, last bool, sealed []byte) error {
		if i == 1 {
			return errFull
		}
		return nil
	})
	if _, err := w.Write(make([]byte, 40)); !errors.Is(err, errFull) {
		t.Fatalf("Write = %v", err)
	}
	if _, err := w.Write([]byte{1}); !errors.Is(err, errFull) {
		t.Fatalf("Write after error = %v", err)
	}
	if err := w.Close(); !errors.Is(err, errFull) {
		t.Fatalf("Close = %v", err)
	}
	if _, err := NewStream(&Key{}, make([]byte, 15), nil); err == nil {
		t.Fatal("NewStream accepted a short salt")
	}
}
