package storage

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"fieldoffice/cases"
)

// Summaries are stored in a compact binary form, because the case list decodes all
// of them after every unlock (100,000 at 40–60 bytes each): JSON took about 70 % of
// that time; this form decodes several times faster.
//
//	0x01 | uvarint len + bytes for ID, Aktenzeichen, Applicant, Service, Status,
//	       Assignee, DueDate | varint Updated (Unix nanoseconds, UTC) | Flags (1 byte)
//
// Summaries written as JSON (the first byte is '{') by earlier builds of format 2
// are still read.

const summaryCodec = 0x01

var errSummary = errors.New("summary does not decode")

func encodeSummary(s cases.Summary) []byte {
	n := 1 + 7*binary.MaxVarintLen32 + binary.MaxVarintLen64 + 1 +
		len(s.ID) + len(s.Aktenzeichen) + len(s.Applicant) + len(s.Service) + len(s.Status) + len(s.Assignee) + len(s.DueDate)
	b := make([]byte, 0, n)
	b = append(b, summaryCodec)
	for _, f := range []string{s.ID, s.Aktenzeichen, s.Applicant, s.Service, s.Status, s.Assignee, s.DueDate} {
		b = binary.AppendUvarint(b, uint64(len(f)))
		b = append(b, f...)
	}
	var ns int64
	if !s.Updated.IsZero() {
		ns = s.Updated.UnixNano()
	}
	b = binary.AppendVarint(b, ns)
	return append(b, byte(s.Flags))
}

// decodeSummary decodes b into s.
func decodeSummary(b []byte, s *cases.Summary) error {
	var d summaryDecoder
	return d.decode(b, s)
}

// summaryDecoder decodes many summaries with few allocations, for the case list that
// keeps 100,000 of them: Service, Status, Assignee and DueDate, which take few
// distinct values, are interned (one string per value and decoder), and ID,
// Aktenzeichen and Applicant, which differ from case to case, of many summaries are
// parts of one string of about blockSize bytes. The zero value does neither (for
// summaries decoded one at a time). A decoder is for one goroutine.
type summaryDecoder struct {
	interned map[string]string
	block    *strings.Builder // nil: no blocks
}

// maxInterned bounds what a decoder interns: a field that takes more values than that
// is not worth it.
const maxInterned = 4096

// blockSize is the size of the strings that hold ID, Aktenzeichen and Applicant of
// many summaries.
const blockSize = 32 << 10

func newSummaryDecoder() *summaryDecoder {
	return &summaryDecoder{interned: make(map[string]string), block: new(strings.Builder)}
}

// own returns b as a string, a part of the current block. What String returned stays
// as it was: a Builder only appends, and when the block is full, the next is a new
// Builder (the strings cut from a block keep all of it in memory).
func (d *summaryDecoder) own(b []byte) string {
	if d.block == nil {
		return string(b)
	}
	if d.block.Cap()-d.block.Len() < len(b) {
		d.block = new(strings.Builder)
		d.block.Grow(max(blockSize, len(b)))
	}
	d.block.Write(b)
	s := d.block.String()
	return s[len(s)-len(b):]
}

// intern returns b as a string, the same string for the same value.
func (d *summaryDecoder) intern(b []byte) string {
	if d.interned == nil {
		return string(b)
	}
	if s, ok := d.interned[string(b)]; ok {
		return s
	}
	s := string(b)
	if len(d.interned) < maxInterned {
		d.interned[s] = s
	}
	return s
}

// decode decodes b into s.
func (d *summaryDecoder) decode(b []byte, s *cases.Summary) error {
	if len(b) > 0 && b[0] == '{' {
		return json.Unmarshal(b, s)
	}
	if len(b) == 0 || b[0] != summaryCodec {
		return errSummary
	}
	// Where the seven strings are in b.
	var at [7]struct{ lo, hi int }
	p := 1
	for i := range at {
		n, k := binary.Uvarint(b[p:])
		if k <= 0 || n > uint64(len(b)-p-k) {
			return errSummary
		}
		at[i].lo, at[i].hi = p+k, p+k+int(n)
		p = at[i].hi
	}
	ns, k := binary.Varint(b[p:])
	if k <= 0 || len(b) != p+k+1 {
		return errSummary
	}
	// ID, Aktenzeichen and Applicant follow each other in b: one string holds all
	// three (and the length bytes between them), and each is a part of it.
	own := d.own(b[at[0].lo:at[2].hi])
	part := func(i int) string { return own[at[i].lo-at[0].lo : at[i].hi-at[0].lo] }
	s.ID, s.Aktenzeichen, s.Applicant = part(0), part(1), part(2)
	field := func(i int) []byte { return b[at[i].lo:at[i].hi] }
	s.Service, s.Status, s.Assignee, s.DueDate = d.intern(field(3)), d.intern(field(4)), d.intern(field(5)), d.intern(field(6))
	s.Updated = time.Time{}
	if ns != 0 {
		s.Updated = time.Unix(0, ns).UTC()
	}
	s.Flags = cases.Flags(b[p+k])
	return nil
}
