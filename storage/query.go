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
type listCache struct {
	k    *keys
	txid int
	byID map[string]cases.Summary
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
	for _, s := range sums {
		r.list.byID[s.ID] = s
	}
	r.list.txid = txid
}

// withSummaries calls fn with all summaries as of tx (read-only map; fn must not keep it).
func (v *Vault) withSummaries(tx *Tx, fn func(map[string]cases.Summary)) error {
	r := &v.repo
	r.mu.Lock()
	defer r.mu.Unlock()
	txid := tx.btx.ID()
	if r.list == nil || r.list.k != tx.k || r.list.txid != txid {
		m, err := tx.loadSummaries()
		if err != nil {
			return err
		}
		r.list = &listCache{k: tx.k, txid: txid, byID: m}
	}
	fn(r.list.byID)
	return nil
}

// loadSummaries reads and decodes the summaries bucket, opening and decoding on all
// cores.
func (tx *Tx) loadSummaries() (map[string]cases.Summary, error) {
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
			errs[w] = guard(tx.path(), "read", func() error {
				for i := lo; i < hi; i++ {
					e := &raw[i]
					pt, err := tx.k.records.Open(bucketSummaries, e.k, e.v)
					if err != nil {
						return &TamperError{Bucket: string(bucketSummaries), Key: string(e.k)}
					}
					if err := decodeSummary(pt, &sums[i]); err != nil || sums[i].ID != string(e.k) {
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
	m := make(map[string]cases.Summary, len(sums))
	for _, s := range sums {
		m[s.ID] = s
	}
	return m, nil
}

// Cases returns the case list: summaries matching q, sorted, one page. It never
// decodes whole cases; after the first call the summaries stay decoded in memory
// until Lock.
func (v *Vault) Cases(q CaseQuery) ([]cases.Summary, error) {
	var list []cases.Summary
	err := v.View(func(tx *Tx) error {
		return v.withSummaries(tx, func(all map[string]cases.Summary) {
			list = make([]cases.Summary, 0, len(all)/4)
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
	sortSummaries(list, q.Sort, q.Desc)
	if q.Offset > 0 {
		if q.Offset >= len(list) {
			return []cases.Summary{}, nil
		}
		list = list[q.Offset:]
	}
	if q.Limit > 0 && len(list) > q.Limit {
		list = slices.Clone(list[:q.Limit])
	}
	return list, nil
}

func (q *CaseQuery) match(s cases.Summary) bool {
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

func sortSummaries(list []cases.Summary, by string, desc bool) {
	dir := 1
	if desc {
		dir = -1
	}
	var key func(s *cases.Summary) string
	switch by {
	case "due":
		// Empty due dates last in both directions.
		slices.SortFunc(list, func(a, b cases.Summary) int {
			switch {
			case a.DueDate == "" && b.DueDate != "":
				return 1
			case b.DueDate == "" && a.DueDate != "":
				return -1
			}
			return dir * cmp.Or(strings.Compare(a.DueDate, b.DueDate), strings.Compare(a.ID, b.ID))
		})
		return
	case "aktenzeichen":
		key = func(s *cases.Summary) string { return s.Aktenzeichen }
	case "status":
		key = func(s *cases.Summary) string { return s.Status }
	case "applicant":
		keys := make(map[string]string, len(list))
		for i := range list {
			keys[list[i].ID] = strings.Join(searchWords(list[i].Applicant), " ")
		}
		key = func(s *cases.Summary) string { return keys[s.ID] }
	default: // "updated"
		slices.SortFunc(list, func(a, b cases.Summary) int {
			return dir * cmp.Or(a.Updated.Compare(b.Updated), strings.Compare(a.ID, b.ID))
		})
		return
	}
	slices.SortFunc(list, func(a, b cases.Summary) int {
		return dir * cmp.Or(strings.Compare(key(&a), key(&b)), strings.Compare(a.ID, b.ID))
	})
}

// Search finds cases whose applicant name, Aktenzeichen, address or searchable form
// fields contain all words of text (case-insensitive, ä/ae, ö/oe, ü/ue, ß/ss folded;
// words of three or more characters match as prefixes, shorter ones whole). It
// answers from the blind index without decrypting cases and returns at most limit
// summaries (0 = all), newest case first.
func (v *Vault) Search(text string, limit int) ([]cases.Summary, error) {
	words := searchWords(text)
	slices.Sort(words)
	words = slices.Compact(words)
	if len(words) == 0 {
		return []cases.Summary{}, nil
	}
	var out []cases.Summary
	err := v.View(func(tx *Tx) error {
		ids, err := tx.searchIndex(words, limit)
		if err != nil || len(ids) == 0 {
			return err
		}
		out = make([]cases.Summary, 0, len(ids))
		// Summaries from the decoded list when it is current, else from the bucket.
		r := &v.repo
		r.mu.Lock()
		var cached map[string]cases.Summary
		if r.list != nil && r.list.k == tx.k && r.list.txid == tx.btx.ID() {
			cached = r.list.byID
		}
		for _, id := range ids {
			if s, ok := cached[id]; ok {
				out = append(out, s)
			}
		}
		r.mu.Unlock()
		if cached != nil && len(out) == len(ids) {
			return nil
		}
		out = out[:0]
		for _, id := range ids {
			b, err := tx.Get(bucketSummaries, []byte(id))
			if err != nil {
				return err
			}
			if b == nil {
				continue // index entry of a case without summary: not shown
			}
			var s cases.Summary
			if err := decodeSummary(b, &s); err != nil || s.ID != id {
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
		out = []cases.Summary{}
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
func (q CaseQuery) Match(s cases.Summary) bool { return q.match(s) }

// SortSummaries orders list as Cases does for q's Sort and Desc.
func SortSummaries(list []cases.Summary, q CaseQuery) { sortSummaries(list, q.Sort, q.Desc) }

// FoldName returns name as the vault compares names: words in lower case, umlauts and
// ß spelt out, other diacritics dropped (for sorting service titles and the like the
// same way).
func FoldName(name string) string { return strings.Join(searchWords(name), " ") }
