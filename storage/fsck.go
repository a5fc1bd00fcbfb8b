package storage

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"slices"
	"sync/atomic"
)

// The bbolt v1.4 file layout (go.etcd.io/bbolt/internal/common), in native byte order:
//
//	page header  id u64 | flags u16 | count u16 | overflow u32           (16 bytes)
//	meta         magic u32 | version u32 | pageSize u32 | flags u32 |
//	             root bucket (root pgid u64, sequence u64) | freelist u64 |
//	             pgid (high-water mark) u64 | txid u64 | checksum u64     (after the header)
//	branch elem  pos u32 | ksize u32 | pgid u64                          (16 bytes)
//	leaf elem    flags u32 | pos u32 | ksize u32 | vsize u32             (16 bytes)
//	bucket value root pgid u64 | sequence u64 [| inline page when root == 0]
//
// pos is relative to the element itself. The checksum is FNV-64a over the meta up to
// the checksum field.
const (
	pageHeaderSize = 16
	elemSize       = 16
	metaSize       = 64
	bucketHdrSize  = 16
	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	flagBranch     = 0x01
	flagLeaf       = 0x02
	flagMeta       = 0x04
	flagFreelist   = 0x10
	bucketLeafFlag = 0x01
	noFreelist     = ^uint64(0)
	maxTreeDepth   = 32
	minPageSize    = 1024
	maxPageSize    = 1 << 16
)

var ne = binary.NativeEndian

type boltMeta struct {
	pageSize uint32
	root     uint64
	freelist uint64
	hwm      uint64
	txid     uint64
}

// parseMeta parses and validates a meta page (header included) as bbolt does.
func parseMeta(p []byte) (boltMeta, bool) {
	if len(p) < pageHeaderSize+metaSize {
		return boltMeta{}, false
	}
	m := p[pageHeaderSize : pageHeaderSize+metaSize]
	h := fnv.New64a()
	h.Write(m[:56])
	if ne.Uint32(m[0:]) != boltMagic || ne.Uint32(m[4:]) != boltVersion || ne.Uint64(m[56:]) != h.Sum64() {
		return boltMeta{}, false
	}
	return boltMeta{
		pageSize: ne.Uint32(m[8:]),
		root:     ne.Uint64(m[16:]),
		freelist: ne.Uint64(m[32:]),
		hwm:      ne.Uint64(m[40:]),
		txid:     ne.Uint64(m[48:]),
	}, true
}

// walker checks the structure of a bbolt file with plain reads (no mmap), so that a
// damaged file gives an error instead of a crash, a fault or endless recursion in bbolt.
//
// The check runs in two stages (see openBolt). start checks the meta pages, the root
// bucket's tree, the freelist and every bucket not named as deferred; finish walks the
// deferred buckets and then checks that every page is reachable or free. The page
// bitmap carries over, so that a page reached in both stages is still found. Between
// the stages the file must not change (the vault holds back every other access).
type walker struct {
	f        *os.File
	path     string
	size     int64
	pageSize int
	meta     boltMeta
	seen     []uint64 // bitmap of pages reached (tree pages with their overflow, freelist)
	buf      []byte
	pending  []subtree    // deferred buckets, for finish
	visited  atomic.Int64 // pages read so far, for progress
	stop     func() bool
}

// subtree is a bucket whose tree is still to be walked.
type subtree struct {
	root uint64
	name string
}

// errWalkStopped is returned by finish when the walk was stopped (the vault closed).
var errWalkStopped = errors.New("structure check stopped")

func (w *walker) corrupt(format string, args ...any) error {
	return &CorruptError{Path: w.path, Reason: fmt.Sprintf(format, args...)}
}

// walkFile checks the whole bbolt file at path; see openBolt.
func walkFile(path string) error {
	w, err := startWalk(path, nil)
	if err != nil {
		return err
	}
	defer w.close()
	return w.finish()
}

// startWalk runs the first stage of the check on the file at path: meta pages, root
// tree, freelist and every bucket for which deferred returns false (all of them when
// deferred is nil). On success the caller must call finish or close.
func startWalk(path string, deferred func(name string) bool) (*walker, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("stat %s: %w", path, err)
	}
	w := &walker{f: f, path: path, size: st.Size(), stop: func() bool { return false }}
	if err := w.startStage(deferred); err != nil {
		f.Close()
		return nil, err
	}
	return w, nil
}

func (w *walker) startStage(deferred func(name string) bool) error {
	if err := w.readMeta(); err != nil {
		return err
	}
	w.seen = make([]uint64, (w.meta.hwm+63)/64)
	w.mark(0, 1) // meta pages
	subs, err := w.walkTree(subtree{w.meta.root, ""}, true)
	if err != nil {
		return err
	}
	if err := w.checkFreelist(); err != nil {
		return err
	}
	for _, s := range subs {
		if deferred != nil && deferred(s.name) {
			w.pending = append(w.pending, s)
			continue
		}
		if _, err := w.walkTree(s, false); err != nil {
			return err
		}
	}
	return nil
}

// finish walks the deferred buckets and checks that no page is lost: every page below
// the high-water mark is reachable or free.
func (w *walker) finish() error {
	for _, s := range w.pending {
		if _, err := w.walkTree(s, false); err != nil {
			return err
		}
	}
	w.pending = nil
	for id := uint64(2); id < w.meta.hwm; id++ {
		if w.seen[id/64]&(1<<(id%64)) == 0 {
			return w.corrupt("page %d is neither reachable nor free", id)
		}
	}
	return nil
}

// progress returns the share of the file's pages read so far (0..1).
func (w *walker) progress() float64 {
	if w.meta.hwm == 0 {
		return 0
	}
	return min(1, float64(w.visited.Load())/float64(w.meta.hwm))
}

func (w *walker) close() error { return w.f.Close() }

func (w *walker) readAt(n int, off int64) ([]byte, error) {
	if cap(w.buf) < n {
		w.buf = make([]byte, n)
	}
	b := w.buf[:n]
	if off < 0 || off+int64(n) > w.size {
		return nil, w.corrupt("read of %d bytes at offset %d beyond the end of the file (%d bytes)", n, off, w.size)
	}
	if _, err := w.f.ReadAt(b, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("read %s: %w", w.path, err)
	}
	return b, nil
}

// readMeta finds the page size and picks the meta page bbolt will use: the valid one
// with the higher transaction ID.
func (w *walker) readMeta() error {
	ps := 0
	probe := func(off int64) int {
		n := int64(4096)
		if off+n > w.size {
			n = w.size - off
		}
		if n < pageHeaderSize+metaSize {
			return 0
		}
		b, err := w.readAt(int(n), off)
		if err != nil {
			return 0
		}
		if m, ok := parseMeta(b); ok {
			return int(m.pageSize)
		}
		return 0
	}
	if ps = probe(0); ps == 0 {
		for i := 0; i <= 14 && ps == 0; i++ {
			if off := int64(1024) << i; off < w.size-1024 {
				ps = probe(off)
			}
		}
	}
	if ps < minPageSize || ps > maxPageSize || ps&(ps-1) != 0 {
		return w.corrupt("no valid meta page (page size %d)", ps)
	}
	w.pageSize = ps
	var metas [2]boltMeta
	var valid [2]bool
	for i := range 2 {
		if int64(i+1)*int64(ps) > w.size {
			continue
		}
		b, err := w.readAt(pageHeaderSize+metaSize, int64(i)*int64(ps))
		if err != nil {
			return err
		}
		metas[i], valid[i] = parseMeta(b)
		valid[i] = valid[i] && metas[i].pageSize == uint32(ps) && ne.Uint16(b[8:]) == flagMeta
	}
	a, b := 0, 1
	if metas[1].txid > metas[0].txid {
		a, b = 1, 0
	}
	switch {
	case valid[a]:
		w.meta = metas[a]
	case valid[b]:
		w.meta = metas[b]
	default:
		return w.corrupt("both meta pages are invalid")
	}
	m := w.meta
	if m.hwm < 3 || m.hwm > uint64(w.size)/uint64(ps) {
		return w.corrupt("high-water mark %d pages does not fit the file (%d bytes, page size %d)", m.hwm, w.size, ps)
	}
	if m.root < 2 || m.root >= m.hwm {
		return w.corrupt("root page %d out of range [2, %d)", m.root, m.hwm)
	}
	if m.freelist == noFreelist || m.freelist < 2 || m.freelist >= m.hwm {
		return w.corrupt("freelist page %d out of range [2, %d)", m.freelist, m.hwm)
	}
	return nil
}

// mark records pages [first, last] as reached; false if one was reached before.
func (w *walker) mark(first, last uint64) bool {
	for id := first; id <= last; id++ {
		word, bit := id/64, uint64(1)<<(id%64)
		if w.seen[word]&bit != 0 {
			return false
		}
		w.seen[word] |= bit
	}
	return true
}

// page reads page id — its first page, or all of it with overflow when full is set —
// checks the header and marks the page and its overflow as reached.
// name is the bucket (or "freelist") for the error.
func (w *walker) page(name string, id uint64, full bool) (flags, count uint16, p []byte, err error) {
	if w.stop() {
		return 0, 0, nil, errWalkStopped
	}
	if id < 2 || id >= w.meta.hwm {
		return 0, 0, nil, w.corrupt("%s: page %d out of range [2, %d)", where(name), id, w.meta.hwm)
	}
	ps := int64(w.pageSize)
	b, err := w.readAt(int(ps), int64(id)*ps)
	if err != nil {
		return 0, 0, nil, err
	}
	w.visited.Add(1)
	pid, flags, count, overflow := ne.Uint64(b), ne.Uint16(b[8:]), ne.Uint16(b[10:]), uint64(ne.Uint32(b[12:]))
	if pid != id {
		return 0, 0, nil, w.corrupt("%s: page %d identifies as page %d", where(name), id, pid)
	}
	if id+overflow >= w.meta.hwm {
		return 0, 0, nil, w.corrupt("%s: page %d: overflow %d runs past the high-water mark %d", where(name), id, overflow, w.meta.hwm)
	}
	if !w.mark(id, id+overflow) {
		return 0, 0, nil, w.corrupt("%s: page %d (or its overflow) is reached twice", where(name), id)
	}
	if full && overflow > 0 {
		if b, err = w.readAt(int(ps*int64(overflow+1)), int64(id)*ps); err != nil {
			return 0, 0, nil, err
		}
	}
	return flags, count, b, nil
}

// where names a bucket for an error message ("" is the root bucket).
func where(name string) string {
	if name == "" {
		return "root bucket"
	}
	if name == "freelist" {
		return name
	}
	return fmt.Sprintf("bucket %q", name)
}

// pageLen returns the size in bytes of a page (header in p) with its overflow.
func (w *walker) pageLen(p []byte) int {
	return w.pageSize * (int(ne.Uint32(p[12:])) + 1)
}

// walkTree walks the B+tree of bucket s one level at a time, each level in page
// order, so that a walk over a large file reads it front to back instead of jumping
// around (on a cold disk cache that is several times faster). In the root bucket's
// tree (isRoot) every leaf element must be a bucket; their trees are returned. Data
// buckets hold no nested buckets. Pages of data leaves are read only as far as their
// element headers.
func (w *walker) walkTree(s subtree, isRoot bool) ([]subtree, error) {
	name := s.name
	var subs []subtree
	level := []uint64{s.root}
	for depth := 0; len(level) > 0; depth++ {
		if depth > maxTreeDepth {
			return nil, w.corrupt("bucket %q: tree deeper than %d", name, maxTreeDepth)
		}
		slices.Sort(level)
		var next []uint64
		for _, id := range level {
			flags, count, p, err := w.page(name, id, isRoot)
			if err != nil {
				return nil, err
			}
			switch flags {
			case flagBranch:
				if count == 0 {
					return nil, w.corrupt("bucket %q: empty branch page %d", name, id)
				}
				if len(p) < w.pageLen(p) {
					if p, err = w.readAt(w.pageLen(p), int64(id)*int64(w.pageSize)); err != nil {
						return nil, err
					}
				}
				if len(p) < pageHeaderSize+int(count)*elemSize {
					return nil, w.corrupt("bucket %q: branch page %d: %d elements do not fit", name, id, count)
				}
				var prev []byte
				for i := range int(count) {
					e := pageHeaderSize + i*elemSize
					pos, ksize, child := int(ne.Uint32(p[e:])), int(ne.Uint32(p[e+4:])), ne.Uint64(p[e+8:])
					if ksize == 0 || e+pos+ksize > len(p) || e+pos < pageHeaderSize+int(count)*elemSize {
						return nil, w.corrupt("bucket %q: branch page %d element %d out of bounds", name, id, i)
					}
					key := p[e+pos : e+pos+ksize]
					if prev != nil && bytes.Compare(prev, key) >= 0 {
						return nil, w.corrupt("bucket %q: branch page %d keys out of order", name, id)
					}
					prev = key
					next = append(next, child)
				}
			case flagLeaf:
				hdrEnd := pageHeaderSize + int(count)*elemSize
				total := w.pageLen(p)
				if hdrEnd > total {
					return nil, w.corrupt("bucket %q: leaf page %d: %d elements do not fit", name, id, count)
				}
				if len(p) < hdrEnd {
					if p, err = w.readAt(hdrEnd, int64(id)*int64(w.pageSize)); err != nil {
						return nil, err
					}
				}
				for i := range int(count) {
					e := pageHeaderSize + i*elemSize
					ef, pos, ksize, vsize := ne.Uint32(p[e:]), int(ne.Uint32(p[e+4:])), int(ne.Uint32(p[e+8:])), int(ne.Uint32(p[e+12:]))
					if ksize == 0 || e+pos < hdrEnd || e+pos+ksize+vsize > total {
						return nil, w.corrupt("bucket %q: leaf page %d element %d out of bounds", name, id, i)
					}
					if !isRoot {
						if ef != 0 {
							return nil, w.corrupt("bucket %q: leaf page %d element %d has flags %#x", name, id, i, ef)
						}
						continue
					}
					if ef != bucketLeafFlag || vsize < bucketHdrSize {
						return nil, w.corrupt("top-level element %d on page %d is not a bucket", i, id)
					}
					key, val := p[e+pos:e+pos+ksize], p[e+pos+ksize:e+pos+ksize+vsize]
					bname := string(key)
					if sub := ne.Uint64(val); sub != 0 {
						subs = append(subs, subtree{sub, bname})
					} else if err := w.checkInline(bname, val[bucketHdrSize:]); err != nil {
						return nil, err
					}
				}
			default:
				return nil, w.corrupt("bucket %q: page %d has unexpected type %#x", name, id, flags)
			}
		}
		level = next
	}
	return subs, nil
}

// checkInline checks an inline bucket: a leaf page stored in the bucket's value.
func (w *walker) checkInline(name string, p []byte) error {
	if len(p) < pageHeaderSize {
		return w.corrupt("bucket %q: inline page too short", name)
	}
	flags, count := ne.Uint16(p[8:]), int(ne.Uint16(p[10:]))
	hdrEnd := pageHeaderSize + count*elemSize
	if flags != flagLeaf || hdrEnd > len(p) {
		return w.corrupt("bucket %q: inline page invalid (flags %#x, %d elements)", name, flags, count)
	}
	for i := range count {
		e := pageHeaderSize + i*elemSize
		ef, pos, ksize, vsize := ne.Uint32(p[e:]), int(ne.Uint32(p[e+4:])), int(ne.Uint32(p[e+8:])), int(ne.Uint32(p[e+12:]))
		if ef != 0 || ksize == 0 || e+pos < hdrEnd || e+pos+ksize+vsize > len(p) {
			return w.corrupt("bucket %q: inline element %d invalid", name, i)
		}
	}
	return nil
}

// checkFreelist checks the freelist page: in range, ids in range, no page free twice,
// no reachable page free.
func (w *walker) checkFreelist() error {
	id := w.meta.freelist
	flags, count, p, err := w.page("freelist", id, true)
	if err != nil {
		return err
	}
	if flags != flagFreelist {
		return w.corrupt("freelist page %d has type %#x", id, flags)
	}
	p = bytes.Clone(p)
	start, n := pageHeaderSize, uint64(count)
	if count == 0xFFFF {
		if len(p) < pageHeaderSize+8 {
			return w.corrupt("freelist page %d too short", id)
		}
		n, start = ne.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if n > w.meta.hwm || uint64(start)+n*8 > uint64(len(p)) {
		return w.corrupt("freelist page %d: %d entries do not fit", id, n)
	}
	for i := range int(n) {
		free := ne.Uint64(p[start+i*8:])
		if free < 2 || free >= w.meta.hwm {
			return w.corrupt("freelist: page %d out of range", free)
		}
		if !w.mark(free, free) {
			return w.corrupt("freelist: page %d is in use or free twice", free)
		}
	}
	return nil
}
