package storage

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"

	"fieldoffice/cases"
)

// CaseQuery selects and orders the case list.
type CaseQuery struct {
	Status, Service string
	DueBefore       string // ISO date: only cases with a Wiedervorlage before it; "" = any
	Unsynced        bool   // only cases with changes not yet accepted by the portal
	Conflict        bool   // only cases in conflict
	// Sort is "updated" (default), "due" (cases without Wiedervorlage last),
	// "aktenzeichen", "applicant" (case- and umlaut-insensitive) or "status".
	Sort          string
	Desc          bool
	Offset, Limit int // Limit 0 = all
}

// listCache holds the decoded summaries of one unlocked session as of bbolt
// transaction txid. The repository's own writes update it after they commit; any
// other write (a later txid it did not see) makes the next read load it again.
//
// The summaries are shared: CaseRefs and SearchRefs hand out pointers to them, so a
// Summary in the cache is never changed once it is there. An update puts a pointer to
// a new copy in its place; holders of the old one keep what they had.
type listCache struct {
	k    *keys
	txid int
	all  []*cases.Summary // ordered by ID
}

// find returns the position of id in c.all and whether it is there.
func (c *listCache) find(id string) (int, bool) { return findID(c.all, id) }

// findID returns where id is or belongs in list, which is ordered by ID.
func findID(list []*cases.Summary, id string) (int, bool) {
	return slices.BinarySearchFunc(list, id, func(s *cases.Summary, id string) int { return strings.Compare(s.ID, id) })
}

// put replaces or adds copies of sums (for an ID given twice, the last counts).
func (c *listCache) put(sums []cases.Summary) {
	fresh := slices.Clone(sums) // one allocation for the batch
	var added []*cases.Summary
	for i := range fresh {
		s := &fresh[i]
		if j, ok := c.find(s.ID); ok {
			c.all[j] = s
		} else {
			added = append(added, s)
		}
	}
	if len(added) == 0 {
		return
	}
	slices.SortStableFunc(added, func(a, b *cases.Summary) int { return strings.Compare(a.ID, b.ID) })
	n := 0
	for i, s := range added {
		if i+1 < len(added) && added[i+1].ID == s.ID {
			continue // a later copy of the same new case follows
		}
		added[n] = s
		n++
	}
	added = added[:n]
	if len(added) == 1 {
		j, _ := c.find(added[0].ID)
		c.all = slices.Insert(c.all, j, added[0])
		return
	}
	// Many new cases (a batch, a sync): merge both ordered lists in one pass.
	merged := make([]*cases.Summary, 0, len(c.all)+len(added))
	rest := c.all
	for _, s := range added {
		j, _ := findID(rest, s.ID)
		merged = append(append(merged, rest[:j]...), s)
		rest = rest[j:]
	}
	c.all = append(merged, rest...)
}

// committed records summaries written by transaction txid.
func (r *repoState) committed(k *keys, txid int, sums []cases.Summary) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.list == nil {
		return
	}
	if r.list.k != k || r.list.txid != txid-1 {
		r.list = nil
		return
	}
	r.list.put(sums)
	r.list.txid = txid
}

// withSummaries calls fn with all summaries as of tx, ordered by ID. fn must not keep
// the slice, and must not change the summaries: they are shared (see listCache); it
// may keep pointers to them.
func (v *Vault) withSummaries(tx *Tx, fn func(all []*cases.Summary)) error {
	r := &v.repo
	r.mu.Lock()
	defer r.mu.Unlock()
	txid := tx.btx.ID()
	if r.list == nil || r.list.k != tx.k || r.list.txid != txid {
		all, err := tx.loadSummaries()
		if err != nil {
			return err
		}
		r.list = &listCache{k: tx.k, txid: txid, all: all}
	}
	fn(r.list.all)
	return nil
}

// loadSummaries reads and decodes the summaries bucket, opening and decoding on all
// cores. The summaries come ordered by ID (the bucket's key order) and are allocated
// together, their strings with few allocations (summaryDecoder).
func (tx *Tx) loadSummaries() ([]*cases.Summary, error) {
	want, err := tx.count(bucketSummaries)
	if err != nil {
		return nil, err
	}
	var raw []rawEntry
	err = guard(tx.path(), "read", func() error {
		b := tx.btx.Bucket(bucketSummaries)
		if b == nil {
			return nil
		}
		raw = make([]rawEntry, 0, want)
		c := b.Cursor()
		for k, v := c.First(); k != nil; k, v = c.Next() {
			raw = append(raw, rawEntry{k: k, v: v}) // valid for the life of the read tx
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if err := tx.checkCount(bucketSummaries, int64(len(raw)), want); err != nil {
		return nil, err
	}
	sums := make([]cases.Summary, len(raw))
	workers := min(runtime.GOMAXPROCS(0), max(1, len(raw)/512))
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (len(raw) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(raw))
		wg.Go(func() {
			d := newSummaryDecoder()
			errs[w] = guard(tx.path(), "read", func() error {
				for i := lo; i < hi; i++ {
					e := &raw[i]
					pt, err := tx.k.records.Open(bucketSummaries, e.k, e.v)
					if err != nil {
						return &TamperError{Bucket: string(bucketSummaries), Key: string(e.k)}
					}
					if err := d.decode(pt, &sums[i]); err != nil || sums[i].ID != string(e.k) {
						return &TamperError{Bucket: string(bucketSummaries), Key: string(e.k)}
					}
				}
				return nil
			})
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	all := make([]*cases.Summary, len(sums))
	for i := range sums {
		all[i] = &sums[i]
	}
	return all, nil
}

// Cases returns the case list: summaries matching q, sorted, one page. It never
// decodes whole cases; after the first call the summaries stay decoded in memory
// until Lock. The summaries are the caller's; CaseRefs gives the same list without
// copying them.
func (v *Vault) Cases(q CaseQuery) ([]cases.Summary, error) {
	refs, err := v.CaseRefs(q)
	if err != nil {
		return nil, err
	}
	return derefSummaries(refs), nil
}

// CaseRefs is Cases without copies: the summaries are shared with the vault's list and
// with every other caller (the case list holds 100,000 of them only once). They are
// read-only: a caller must not change them (copy one to change it). The vault never
// changes them either; a later change of a case shows as a new Summary in a later
// call. Keeping one Summary keeps the whole list it was decoded with in memory, so
// what is kept for long should be a copy.
func (v *Vault) CaseRefs(q CaseQuery) ([]*cases.Summary, error) {
	var list []*cases.Summary
	err := v.View(func(tx *Tx) error {
		return v.withSummaries(tx, func(all []*cases.Summary) {
			list = make([]*cases.Summary, 0, len(all))
			for _, s := range all {
				if q.match(s) {
					list = append(list, s)
				}
			}
		})
	})
	if err != nil {
		return nil, err
	}
	return pageRefs(list, q), nil
}

// pageRefs sorts list for q and returns q's page of it: list itself when that is the
// page, else a copy of the page (not keeping all of list's array).
func pageRefs(list []*cases.Summary, q CaseQuery) []*cases.Summary {
	sortRefs(list, q.Sort, q.Desc)
	page := list[min(max(q.Offset, 0), len(list)):]
	if q.Limit > 0 && len(page) > q.Limit {
		page = page[:q.Limit]
	}
	if len(page) < cap(list) {
		page = slices.Clone(page)
	}
	return page
}

// derefSummaries copies the summaries refs points to.
func derefSummaries(refs []*cases.Summary) []cases.Summary {
	out := make([]cases.Summary, len(refs))
	for i, s := range refs {
		out[i] = *s
	}
	return out
}

func (q *CaseQuery) match(s *cases.Summary) bool {
	switch {
	case q.Status != "" && s.Status != q.Status,
		q.Service != "" && s.Service != q.Service,
		q.DueBefore != "" && (s.DueDate == "" || s.DueDate >= q.DueBefore),
		q.Unsynced && s.Flags&cases.FlagUnsynced == 0,
		q.Conflict && s.Flags&cases.FlagConflict == 0:
		return false
	}
	return true
}

// sortRefs orders list by "updated" (also for an unknown by), "due", "aktenzeichen",
// "applicant" or "status", then by ID.
func sortRefs(list []*cases.Summary, by string, desc bool) {
	dir := 1
	if desc {
		dir = -1
	}
	byKey := func(key func(s *cases.Summary) string) {
		slices.SortFunc(list, func(a, b *cases.Summary) int {
			return dir * cmp.Or(strings.Compare(key(a), key(b)), strings.Compare(a.ID, b.ID))
		})
	}
	switch by {
	case "due":
		// Empty due dates last in both directions.
		slices.SortFunc(list, func(a, b *cases.Summary) int {
			switch {
			case a.DueDate == "" && b.DueDate != "":
				return 1
			case b.DueDate == "" && a.DueDate != "":
				return -1
			}
			return dir * cmp.Or(strings.Compare(a.DueDate, b.DueDate), strings.Compare(a.ID, b.ID))
		})
	case "aktenzeichen":
		byKey(func(s *cases.Summary) string { return s.Aktenzeichen })
	case "status":
		byKey(func(s *cases.Summary) string { return s.Status })
	case "applicant":
		keys := make(map[*cases.Summary]string, len(list))
		for _, s := range list {
			keys[s] = FoldName(s.Applicant)
		}
		byKey(func(s *cases.Summary) string { return keys[s] })
	default: // "updated"
		slices.SortFunc(list, func(a, b *cases.Summary) int {
			return dir * cmp.Or(a.Updated.Compare(b.Updated), strings.Compare(a.ID, b.ID))
		})
	}
}

// sortSummaries is sortRefs for a list of values.
func sortSummaries(list []cases.Summary, by string, desc bool) {
	refs := make([]*cases.Summary, len(list))
	for i := range list {
		refs[i] = &list[i]
	}
	sortRefs(refs, by, desc)
	copy(list, derefSummaries(refs))
}

// Search finds cases whose applicant name, Aktenzeichen, address or searchable form
// fields contain all words of text (case-insensitive, ä/ae, ö/oe, ü/ue, ß/ss folded;
// words of three or more characters match as prefixes, shorter ones whole). It
// answers from the blind index without decrypting cases and returns at most limit
// summaries (0 = all), newest case first.
func (v *Vault) Search(text string, limit int) ([]cases.Summary, error) {
	refs, err := v.searchRefs(text, limit)
	if err != nil {
		return nil, err
	}
	return derefSummaries(refs), nil
}

// SearchRefs returns the cases Search finds for text that pass q's filters, sorted and
// paged by q like CaseRefs, and shared read-only like CaseRefs' summaries.
func (v *Vault) SearchRefs(text string, q CaseQuery) ([]*cases.Summary, error) {
	hits, err := v.searchRefs(text, 0)
	if err != nil {
		return nil, err
	}
	hits = slices.DeleteFunc(hits, func(s *cases.Summary) bool { return !q.match(s) })
	return pageRefs(hits, q), nil
}

// searchRefs is Search with summaries shared as CaseRefs shares them: those of the
// decoded list when it is current, else decoded from the bucket for this call.
func (v *Vault) searchRefs(text string, limit int) ([]*cases.Summary, error) {
	words := searchWords(text)
	slices.Sort(words)
	words = slices.Compact(words)
	if len(words) == 0 {
		return []*cases.Summary{}, nil
	}
	var out []*cases.Summary
	err := v.View(func(tx *Tx) error {
		ids, err := tx.searchIndex(words, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		out = make([]*cases.Summary, 0, len(ids))
		// Summaries from the decoded list when it is current, else from the bucket.
		r := &v.repo
		r.mu.Lock()
		cached := r.list != nil && r.list.k == tx.k && r.list.txid == tx.btx.ID()
		if cached {
			for _, id := range ids {
				if j, ok := r.list.find(id); ok {
					out = append(out, r.list.all[j])
				}
			}
		}
		r.mu.Unlock()
		if cached && len(out) == len(ids) {
			return nil
		}
		out = out[:0]
		sums := make([]cases.Summary, len(ids))
		for i, id := range ids {
			b, err := tx.Get(bucketSummaries, []byte(id))
			if err != nil {
				return err
			}
			if b == nil {
				continue // index entry of a case without summary: not shown
			}
			s := &sums[i]
			if err := decodeSummary(b, s); err != nil || s.ID != id {
				return &TamperError{Bucket: string(bucketSummaries), Key: id}
			}
			out = append(out, s)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	if out == nil {
		out = []*cases.Summary{}
	}
	return out, nil
}

// countCap: while choosing the rarest query term, counting stops here.
const countCap = 2000

// searchIndex returns the IDs of cases that have every term, newest first, at most
// limit (0 = all). It finds the rarest term by counting each up to countCap, walks
// its postings and checks the other terms by point lookups; each entry used is
// authenticated (its sealed empty value opens under its key).
func (tx *Tx) searchIndex(terms []string, limit int) ([]string, error) {
	ix := newIndexer(tx.k)
	defer ix.zero()
	macs := make([][]byte, len(terms))
	for i, t := range terms {
		macs[i] = ix.termMAC(t)
	}
	var ids []string
	err := guard(tx.path(), "search", func() error {
		b := tx.btx.Bucket(bucketIndex)
		if b == nil {
			return nil
		}
		c := b.Cursor()
		// The epochs present, newest first.
		var epochs []uint16
		for k, _ := c.First(); k != nil; {
			if len(k) != indexKeyLen {
				return &CorruptError{Path: tx.path(), Reason: fmt.Sprintf("index key of %d bytes", len(k)), Err: ErrTampered}
			}
			e := binary.BigEndian.Uint16(k)
			epochs = append(epochs, e)
			if e == 0xffff {
				break
			}
			k, _ = c.Seek(binary.BigEndian.AppendUint16(nil, e+1))
		}
		slices.Reverse(epochs)
		// Count each term's postings (capped) and pick the rarest.
		best, bestN := 0, -1
		for i, m := range macs {
			n := 0
			for _, e := range epochs {
				prefix := append(binary.BigEndian.AppendUint16(nil, e), m...)
				for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix) && n < countCap; k, _ = c.Next() {
					n++
				}
				if n >= countCap {
					break
				}
			}
			if n == 0 {
				ids = nil
				return nil // a term nobody has: no result
			}
			if bestN < 0 || n < bestN {
				best, bestN = i, n
			}
		}
		// Walk the rarest term's postings, newest first, and check the others.
		for _, e := range epochs {
			prefix := append(binary.BigEndian.AppendUint16(nil, e), macs[best]...)
			end := append(bytes.Clone(prefix), 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff)
			k, v := c.Seek(end)
			if k == nil {
				k, v = c.Last()
			} else {
				k, v = c.Prev()
			}
			for ; k != nil && bytes.HasPrefix(k, prefix); k, v = c.Prev() {
				if _, err := tx.k.records.Open(bucketIndex, k, v); err != nil {
					return &TamperError{Bucket: string(bucketIndex), Key: fmt.Sprintf("%x", k)}
				}
				idb := k[epochLen+termMACLen:]
				all := true
				for j, m := range macs {
					if j == best {
						continue
					}
					key := append(append(binary.BigEndian.AppendUint16(nil, e), m...), idb...)
					ov := b.Get(key)
					if ov == nil {
						all = false
						break
					}
					if _, err := tx.k.records.Open(bucketIndex, key, ov); err != nil {
						return &TamperError{Bucket: string(bucketIndex), Key: fmt.Sprintf("%x", key)}
					}
				}
				if !all {
					continue
				}
				id, err := uuid.FromBytes(idb)
				if err != nil {
					return err
				}
				ids = append(ids, id.String())
				if limit > 0 && len(ids) >= limit {
					return nil
				}
			}
		}
		return nil
	})
	return ids, err
}

// Match reports whether s passes q's filters, as Cases applies them (for callers that
// filter other lists of summaries, such as search hits).
func (q CaseQuery) Match(s cases.Summary) bool { return q.match(&s) }

// SortSummaries orders list as Cases does for q's Sort and Desc.
func SortSummaries(list []cases.Summary, q CaseQuery) { sortSummaries(list, q.Sort, q.Desc) }

// FoldName returns name as the vault compares names: words in lower case, umlauts and
// ß spelt out, other diacritics dropped (for sorting service titles and the like the
// same way).
func FoldName(name string) string { return strings.Join(searchWords(name), " ") }
