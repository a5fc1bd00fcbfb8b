package crypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"errors"
	"io"
	"testing"
)

// The fuzz targets use a fixed key, so that the seeds in testdata/fuzz stay valid.
// Each knows every value it ever sealed with that key: the fuzzer cannot forge a
// tag, so any input that opens must be one of them.

var fuzzKey = func() Key {
	var k Key
	for i := range k {
		k[i] = byte(i)
	}
	return k
}()

var (
	fuzzBucket = []byte("cases")
	fuzzRecKey = []byte("0190a1b2-c3d4-7e5f-8a9b-0c1d2e3f4a5b")
)

type knownSealed struct{ sealed, pt []byte }

// fuzzSealedValues seals a few plaintexts for (fuzzBucket, fuzzRecKey) in the
// [Sealer] format with fixed nonces (Sealer.Seal draws random ones).
func fuzzSealedValues(t testing.TB) []knownSealed {
	t.Helper()
	block, err := aes.NewCipher(fuzzKey[:])
	if err != nil {
		t.Fatal(err)
	}
	aead, _ := cipher.NewGCM(block)
	aad := AAD(fuzzBucket, fuzzRecKey)
	var out []knownSealed
	for j, pt := range [][]byte{
		{},
		[]byte("x"),
		[]byte(`{"id":"0190a1b2","service":"anmeldung","applicant":"Jürgen Weiß","status":"Eingegangen"}`),
		pattern(300),
	} {
		nonce := bytes.Repeat([]byte{byte(j + 1)}, NonceSize)
		sealed := append([]byte{FormatVersion}, nonce...)
		sealed = aead.Seal(sealed, nonce, pt, aad)
		out = append(out, knownSealed{sealed: sealed, pt: pt})
	}
	return out
}

// FuzzOpenSealed feeds arbitrary bytes to Sealer.Open: it must not panic, must fail
// with ErrAuth and no plaintext for anything but a value sealed with the key for this
// place, and must return exactly the sealed plaintext for those.
func FuzzOpenSealed(f *testing.F) {
	s, err := NewSealer(&fuzzKey)
	if err != nil {
		f.Fatal(err)
	}
	known := fuzzSealedValues(f)
	for _, k := range known {
		f.Add(k.sealed)
		bad := bytes.Clone(k.sealed)
		bad[0] = 2 // unknown version
		f.Add(bad)
		f.Add(k.sealed[:len(k.sealed)-1])
	}
	f.Add([]byte{})
	f.Add([]byte{FormatVersion})
	f.Add(make([]byte, Overhead))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := bytes.Clone(data)
		pt, err := s.Open(fuzzBucket, fuzzRecKey, data)
		if !bytes.Equal(in, data) {
			t.Fatal("Open modified its input")
		}
		if err != nil {
			if err != ErrAuth || pt != nil {
				t.Fatalf("Open failed with %v and %d bytes of plaintext; want ErrAuth and nothing", err, len(pt))
			}
		} else {
			i := -1
			for j, k := range known {
				if bytes.Equal(k.sealed, data) {
					i = j
				}
			}
			if i < 0 {
				t.Fatalf("Open returned plaintext for bytes that were not sealed with the key: %x", data)
			}
			if !bytes.Equal(pt, known[i].pt) {
				t.Fatalf("Open returned %q, sealed was %q", pt, known[i].pt)
			}
		}
		// The same bytes never open for another place or under another key.
		if pt, err := s.Open([]byte("outbox"), fuzzRecKey, data); err == nil || pt != nil {
			t.Fatal("opened under another bucket")
		}
		if pt, err := s.Open(fuzzBucket, append(bytes.Clone(fuzzRecKey), 'x'), data); err == nil || pt != nil {
			t.Fatal("opened under another key")
		}
		if k, err := UnwrapKey(&fuzzKey, nil, data); err == nil || !k.IsZero() {
			t.Fatal("UnwrapKey opened a value sealed with other additional data")
		}
	})
}

// Streams for FuzzStreamReader: fixed key, salt and context, and 64-byte chunks so
// that the fuzzer reaches many chunks quickly (the construction does not depend on
// the chunk size; TestStreamRoundTrip covers 64 KiB). Every chunk the target ever
// seals belongs to a prefix of fuzzPlain, so whatever a reader returns must be a
// prefix of fuzzPlain too.
const fuzzChunk = 64

var fuzzPlain = pattern(8 * fuzzChunk)

func fuzzStream(t testing.TB) *Stream {
	t.Helper()
	salt := bytes.Repeat([]byte{0x5A}, StreamSaltSize)
	s, err := newStream(&fuzzKey, salt, []byte("blobs\x00fuzz"), fuzzChunk)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// frameChunks encodes chunks as len (1 byte) | bytes, …; unframeChunks decodes it
// (the last frame may be short: it takes what is left).
func frameChunks(chunks [][]byte) []byte {
	var out []byte
	for _, c := range chunks {
		out = append(out, byte(len(c)))
		out = append(out, c...)
	}
	return out
}

func unframeChunks(data []byte) [][]byte {
	var chunks [][]byte
	for len(data) > 0 {
		n := min(int(data[0]), len(data)-1)
		chunks = append(chunks, data[1:1+n])
		data = data[1+n:]
	}
	return chunks
}

// FuzzStreamReader feeds arbitrary chunk sequences to a StreamReader: it must not
// panic, must return only authenticated bytes (a prefix of the one plaintext ever
// sealed), must report every failure as a *ChunkError, and must end with io.EOF only
// for a complete, canonical chunk sequence.
func FuzzStreamReader(f *testing.F) {
	s := fuzzStream(f)
	for _, seed := range fuzzStreamSeeds(f, s) {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		chunks := unframeChunks(data)
		out, err := io.ReadAll(s.NewReader(chunkSource(chunks)))
		if len(out) > len(fuzzPlain) || !bytes.Equal(out, fuzzPlain[:len(out)]) {
			t.Fatalf("reader returned %d bytes that were never sealed", len(out))
		}
		if err != nil {
			var ce *ChunkError
			if !errors.As(err, &ce) || ce.Index > uint64(len(chunks)) {
				t.Fatalf("error %v is not a *ChunkError with an index in range", err)
			}
			if !errors.Is(err, ErrAuth) && !errors.Is(err, ErrStreamTruncated) && !errors.Is(err, ErrStreamExtraChunk) {
				t.Fatalf("error %v is none of the stream errors", err)
			}
			return
		}
		want := sealStream(t, s, out, len(out)+1)
		if len(want) != len(chunks) {
			t.Fatalf("complete read of %d chunks, the plaintext seals to %d", len(chunks), len(want))
		}
		for i := range want {
			if !bytes.Equal(want[i], chunks[i]) {
				t.Fatalf("complete read, but chunk %d is not the sealed chunk", i)
			}
		}
	})
}

// fuzzStreamSeeds returns framed chunk sequences: complete streams of several sizes
// and damaged ones.
func fuzzStreamSeeds(t testing.TB, s *Stream) [][]byte {
	var seeds [][]byte
	for _, n := range []int{0, 1, fuzzChunk - 1, fuzzChunk, fuzzChunk + 1, 3*fuzzChunk + 5, 8 * fuzzChunk} {
		chunks := sealStream(t, s, fuzzPlain[:n], fuzzChunk)
		seeds = append(seeds, frameChunks(chunks))
		if len(chunks) > 2 {
			seeds = append(seeds,
				frameChunks(chunks[:len(chunks)-1]),                                // truncated
				frameChunks(append([][]byte{chunks[1], chunks[0]}, chunks[2:]...)), // reordered
				frameChunks(append(append([][]byte(nil), chunks...), chunks[0])),   // extra
			)
			flipped := frameChunks(chunks)
			flipped[len(flipped)/2] ^= 0x01
			seeds = append(seeds, flipped)
		}
	}
	return seeds
}
