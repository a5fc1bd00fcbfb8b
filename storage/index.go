package storage

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"slices"
	"strings"
	"unicode"

	"github.com/google/uuid"

	"fieldoffice/cases"
	"fieldoffice/storage/crypto"
)

// The blind search index (bucket "index")
//
// Terms are normalised words (see foldWord): lower case, ä→ae, ö→oe, ü→ue, ß→ss,
// other diacritics stripped, split on everything that is not a letter or digit. Each
// word is indexed whole and with its prefixes of at least minPrefix (3) runes, so a
// query word of three or more characters matches as a prefix and a shorter one only as
// a whole word ("Al" finds "Al" but not "Albers"; "Alb" finds both "Alb" and "Albers").
//
// An entry's key is
//
//	epoch (2 bytes) ‖ HMAC-SHA-256(index subkey, "t:" ‖ term)[:16] ‖ case ID (16 bytes)
//
// and its value is the empty string, sealed (so an entry copied to another term or
// case does not open). The file never shows a term. The epoch is the case ID's UUIDv7
// millisecond timestamp >> 31 (about 25 days): it partitions the index by case age so
// that bulk writes of time-ordered cases touch one region of the B+tree instead of
// every leaf (a plain HMAC-first key made a 100,000-case import 5× slower). The epoch
// says nothing the clear case ID does not already say. A search looks a term up in
// every epoch present (one seek each; about 30 for two years of cases).

const (
	minPrefix   = 3  // shortest indexed prefix, in runes
	maxWordLen  = 40 // longer words are cut (prefixes beyond add nothing for search)
	termMACLen  = 16
	epochLen    = 2
	indexKeyLen = epochLen + termMACLen + 16
	epochShift  = 31
)

var (
	bucketIndex  = []byte("index")
	emptySealedV = []byte{}
)

// searchWords splits s into normalised words (see the comment above).
func searchWords(s string) []string {
	var words []string
	var b strings.Builder
	flush := func() {
		if b.Len() > 0 {
			w := b.String()
			if len(w) > maxWordLen {
				w = w[:maxWordLen]
			}
			words = append(words, w)
			b.Reset()
		}
	}
	for _, r := range s {
		r = unicode.ToLower(r)
		if f, ok := cases.FoldLetter(r); ok {
			b.WriteString(f)
			continue
		}
		if r < 0x80 && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9') {
			b.WriteRune(r)
			continue
		}
		if r >= 0x80 && (unicode.IsLetter(r) || unicode.IsDigit(r)) {
			b.WriteRune(r)
			continue
		}
		flush()
	}
	flush()
	return words
}

// addTerms adds w and its prefixes of at least minPrefix runes to set.
func addTerms(set map[string]struct{}, w string) {
	set[w] = struct{}{}
	n := 0
	for i := range w {
		if n >= minPrefix && i < len(w) {
			set[w[:i]] = struct{}{}
		}
		n++
	}
}

// caseTerms returns the index terms of c: applicant names, Aktenzeichen, the
// applicant's street, postcode and city, and the values of the schema's searchable
// fields (address fields without house number and country). s may be nil.
func caseTerms(c *cases.Case, s *cases.Schema) map[string]struct{} {
	set := map[string]struct{}{}
	add := func(text string) {
		for _, w := range searchWords(text) {
			addTerms(set, w)
		}
	}
	a := c.Applicant
	add(a.FamilyName)
	add(a.GivenNames)
	add(a.BirthName)
	add(a.Organisation)
	add(c.Aktenzeichen)
	add(a.Address.Street)
	add(a.Address.Postcode)
	add(a.Address.City)
	if s != nil {
		for _, k := range s.SearchableKeys() {
			if strings.HasSuffix(k, ".hausnummer") || strings.HasSuffix(k, ".staat") {
				continue
			}
			if v := c.Values[k]; v != "" {
				add(v)
			}
		}
	}
	return set
}

// indexer computes index keys for one operation.
type indexer struct {
	key crypto.Key
	mac hash.Hash
	buf []byte
}

func newIndexer(k *keys) *indexer {
	ix := &indexer{key: k.dek.Derive(crypto.PurposeIndex)}
	ix.mac = hmac.New(sha256.New, ix.key[:])
	return ix
}

func (ix *indexer) zero() { ix.key.Zero() }

// termMAC returns HMAC(index subkey, "t:"+term)[:16].
func (ix *indexer) termMAC(term string) []byte {
	ix.mac.Reset()
	ix.mac.Write([]byte("t:"))
	ix.mac.Write([]byte(term))
	ix.buf = ix.mac.Sum(ix.buf[:0])
	return bytes.Clone(ix.buf[:termMACLen])
}

// caseEpoch returns the index epoch of a case ID (its UUIDv7 time >> epochShift).
func caseEpoch(id uuid.UUID) uint16 {
	ms := uint64(id[0])<<40 | uint64(id[1])<<32 | uint64(id[2])<<24 | uint64(id[3])<<16 | uint64(id[4])<<8 | uint64(id[5])
	return uint16(ms >> epochShift)
}

func indexKey(epoch uint16, mac []byte, id uuid.UUID) []byte {
	k := make([]byte, 0, indexKeyLen)
	k = binary.BigEndian.AppendUint16(k, epoch)
	k = append(k, mac...)
	return append(k, id[:]...)
}

// indexDiff returns the index keys to delete and to add when a case goes from old to
// new (either may be nil), sorted.
func (ix *indexer) indexDiff(id string, old, new map[string]struct{}) (del, add [][]byte) {
	uid, err := uuid.Parse(id)
	if err != nil {
		return nil, nil
	}
	ep := caseEpoch(uid)
	for t := range old {
		if _, keep := new[t]; !keep {
			del = append(del, indexKey(ep, ix.termMAC(t), uid))
		}
	}
	for t := range new {
		if _, had := old[t]; !had {
			add = append(add, indexKey(ep, ix.termMAC(t), uid))
		}
	}
	slices.SortFunc(del, bytes.Compare)
	slices.SortFunc(add, bytes.Compare)
	return del, add
}

// updateIndex writes the index changes of one case in tx.
func (tx *Tx) updateIndex(ix *indexer, id string, old, new map[string]struct{}) error {
	del, add := ix.indexDiff(id, old, new)
	for _, k := range del {
		if err := tx.Delete(bucketIndex, k); err != nil {
			return err
		}
	}
	if len(add) == 0 {
		return nil
	}
	vals := make([][]byte, len(add))
	for i := range vals {
		vals[i] = emptySealedV
	}
	return tx.PutBatch(bucketIndex, add, vals)
}
