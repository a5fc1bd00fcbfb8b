package storage

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"io"
	"os"
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
type walker struct {
	f        *os.File
	path     string
	size     int64
	pageSize int
	meta     boltMeta
	seen     []uint64 // bitmap of pages reached (tree pages with their overflow, freelist)
	buf      []byte
}

func (w *walker) corrupt(format string, args ...any) error {
	return &CorruptError{Path: w.path, Reason: fmt.Sprintf(format, args...)}
}

// walkFile checks the bbolt file at path; see openBolt.
func walkFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("stat %s: %w", path, err)
	}
	w := &walker{f: f, path: path, size: st.Size()}
	if err := w.readMeta(); err != nil {
		return err
	}
	w.seen = make([]uint64, (w.meta.hwm+63)/64)
	w.mark(0, 1) // meta pages
	if err := w.walkTree(w.meta.root, "", true); err != nil {
		return err
	}
	if err := w.checkFreelist(); err != nil {
		return err
	}
	for id := uint64(2); id < w.meta.hwm; id++ {
		if w.seen[id/64]&(1<<(id%64)) == 0 {
			return w.corrupt("page %d is neither reachable nor free", id)
		}
	}
	return nil
}

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

// page reads the header of page id, checks it and marks the page and its overflow.
// It returns the whole page (with overflow) when full is set, else the first page.
func (w *walker) page(id uint64, full bool) (flags, count uint16, p []byte, err error) {
	if id < 2 || id >= w.meta.hwm {
		return 0, 0, nil, w.corrupt("page %d out of range [2, %d)", id, w.meta.hwm)
	}
	ps := int64(w.pageSize)
	b, err := w.readAt(pageHeaderSize, int64(id)*ps)
	if err != nil {
		return 0, 0, nil, err
	}
	pid, flags, count, overflow := ne.Uint64(b), ne.Uint16(b[8:]), ne.Uint16(b[10:]), uint64(ne.Uint32(b[12:]))
	if pid != id {
		return 0, 0, nil, w.corrupt("page %d identifies as page %d", id, pid)
	}
	if id+overflow >= w.meta.hwm {
		return 0, 0, nil, w.corrupt("page %d: overflow %d runs past the high-water mark %d", id, overflow, w.meta.hwm)
	}
	if !w.mark(id, id+overflow) {
		return 0, 0, nil, w.corrupt("page %d (or its overflow) is reached twice", id)
	}
	n := ps
	if full {
		n = ps * int64(overflow+1)
	}
	p, err = w.readAt(int(n), int64(id)*ps)
	if err != nil {
		return 0, 0, nil, err
	}
	return flags, count, p, nil
}

// walkTree walks the B+tree rooted at page root. In the root bucket's tree (isRoot)
// every leaf element must be a bucket; their trees are walked in turn. Data buckets
// hold no nested buckets. Pages of data leaves are read only as far as their element
// headers.
func (w *walker) walkTree(root uint64, name string, isRoot bool) error {
	type item struct {
		id    uint64
		depth int
	}
	stack := []item{{root, 0}}
	var subs []uint64
	var subNames []string
	for len(stack) > 0 {
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if it.depth > maxTreeDepth {
			return w.corrupt("bucket %q: tree deeper than %d", name, maxTreeDepth)
		}
		flags, count, p, err := w.page(it.id, isRoot)
		if err != nil {
			return err
		}
		switch flags {
		case flagBranch:
			if count == 0 {
				return w.corrupt("bucket %q: empty branch page %d", name, it.id)
			}
			if p, err = w.pageBytes(it.id, -1); err != nil {
				return err
			}
			if len(p) < pageHeaderSize+int(count)*elemSize {
				return w.corrupt("bucket %q: branch page %d: %d elements do not fit", name, it.id, count)
			}
			var prev []byte
			for i := range int(count) {
				e := pageHeaderSize + i*elemSize
				pos, ksize, child := int(ne.Uint32(p[e:])), int(ne.Uint32(p[e+4:])), ne.Uint64(p[e+8:])
				if ksize == 0 || e+pos+ksize > len(p) || e+pos < pageHeaderSize+int(count)*elemSize {
					return w.corrupt("bucket %q: branch page %d element %d out of bounds", name, it.id, i)
				}
				key := p[e+pos : e+pos+ksize]
				if prev != nil && bytes.Compare(prev, key) >= 0 {
					return w.corrupt("bucket %q: branch page %d keys out of order", name, it.id)
				}
				prev = key
				stack = append(stack, item{child, it.depth + 1})
			}
		case flagLeaf:
			hdrEnd := pageHeaderSize + int(count)*elemSize
			total, err := w.pageLen(it.id)
			if err != nil {
				return err
			}
			if hdrEnd > total {
				return w.corrupt("bucket %q: leaf page %d: %d elements do not fit", name, it.id, count)
			}
			if len(p) < hdrEnd {
				if p, err = w.pageBytes(it.id, hdrEnd); err != nil {
					return err
				}
			}
			for i := range int(count) {
				e := pageHeaderSize + i*elemSize
				ef, pos, ksize, vsize := ne.Uint32(p[e:]), int(ne.Uint32(p[e+4:])), int(ne.Uint32(p[e+8:])), int(ne.Uint32(p[e+12:]))
				if ksize == 0 || e+pos < hdrEnd || e+pos+ksize+vsize > total {
					return w.corrupt("bucket %q: leaf page %d element %d out of bounds", name, it.id, i)
				}
				if !isRoot {
					if ef != 0 {
						return w.corrupt("bucket %q: leaf page %d element %d has flags %#x", name, it.id, i, ef)
					}
					continue
				}
				if ef != bucketLeafFlag || vsize < bucketHdrSize {
					return w.corrupt("top-level element %d on page %d is not a bucket", i, it.id)
				}
				key, val := p[e+pos:e+pos+ksize], p[e+pos+ksize:e+pos+ksize+vsize]
				bname := string(key)
				if sub := ne.Uint64(val); sub != 0 {
					subs, subNames = append(subs, sub), append(subNames, bname)
				} else if err := w.checkInline(bname, val[bucketHdrSize:]); err != nil {
					return err
				}
			}
		default:
			return w.corrupt("bucket %q: page %d has unexpected type %#x", name, it.id, flags)
		}
	}
	for i, sub := range subs {
		if err := w.walkTree(sub, subNames[i], false); err != nil {
			return err
		}
	}
	return nil
}

// pageLen returns the size in bytes of page id including its overflow pages.
func (w *walker) pageLen(id uint64) (int, error) {
	b, err := w.readAt(pageHeaderSize, int64(id)*int64(w.pageSize))
	if err != nil {
		return 0, err
	}
	return w.pageSize * (int(ne.Uint32(b[12:])) + 1), nil
}

// pageBytes reads the first n bytes of page id (n < 0: all of it, with overflow).
func (w *walker) pageBytes(id uint64, n int) ([]byte, error) {
	total, err := w.pageLen(id)
	if err != nil {
		return nil, err
	}
	if n < 0 || n > total {
		n = total
	}
	return w.readAt(n, int64(id)*int64(w.pageSize))
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
	flags, count, _, err := w.page(id, false)
	if err != nil {
		return err
	}
	if flags != flagFreelist {
		return w.corrupt("freelist page %d has type %#x", id, flags)
	}
	p, err := w.pageBytes(id, -1)
	if err != nil {
		return err
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
