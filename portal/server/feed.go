package server

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/cases"
	"fieldoffice/portal"
)

// The change feed
//
// Every write of a case takes the next number of one global sequence (the feed
// bucket's Sequence). The feed bucket maps that number to the case ID; caseseq maps
// the case ID back to its number, so that the write deletes the case's previous feed
// entry: the feed holds each case exactly once, at its latest change. A device asks
// for the entries after its cursor (the last number it has seen); a page is a seek
// and up to limit steps of a bbolt cursor plus one case read per entry — its cost
// does not depend on how many cases the portal holds.

// putCase stores c (its Revision and Updated already set) and moves it to the end of
// the feed. It returns the stored JSON, which is what the feed and op results serve.
func putCase(tx *bolt.Tx, c *cases.Case) ([]byte, error) {
	raw, err := json.Marshal(c)
	if err != nil {
		return nil, fmt.Errorf("encode case %s: %w", c.ID, err)
	}
	id := []byte(c.ID)
	if err := tx.Bucket(bucketCases).Put(id, raw); err != nil {
		return nil, err
	}
	feed, seqs := tx.Bucket(bucketFeed), tx.Bucket(bucketCaseSeq)
	if old := seqs.Get(id); old != nil {
		if err := feed.Delete(slices.Clone(old)); err != nil {
			return nil, err
		}
	}
	seq, err := feed.NextSequence()
	if err != nil {
		return nil, err
	}
	if err := feed.Put(u64(seq), id); err != nil {
		return nil, err
	}
	return raw, seqs.Put(id, u64(seq))
}

// getCase returns the stored case and its JSON; (nil, nil, nil) when there is none.
func getCase(tx *bolt.Tx, id string) (*cases.Case, []byte, error) {
	raw := tx.Bucket(bucketCases).Get([]byte(id))
	if raw == nil {
		return nil, nil, nil
	}
	raw = slices.Clone(raw)
	var c cases.Case
	if err := json.Unmarshal(raw, &c); err != nil {
		return nil, nil, fmt.Errorf("portal.db: case %s: %w", id, err)
	}
	if c.Values == nil {
		c.Values = cases.Values{}
	}
	return &c, raw, nil
}

// Changes returns up to limit feed entries after position since (0 = from the
// start), oldest first: each case at most once, as it is now. Next is the cursor of
// the last entry returned, or since's cursor when there is none; More says whether
// entries after Next exist already. limit is clamped to 1…portal.MaxChangesLimit. A
// since beyond the last position ever written gives [ErrCursorAhead]: the device's
// cursor belongs to another (or a restored) portal.
func (s *Store) Changes(since uint64, limit int) (portal.ChangesPage, error) {
	limit = min(max(limit, 1), portal.MaxChangesLimit)
	page := portal.ChangesPage{Changes: []portal.Change{}, Next: portal.Cursor(since)}
	err := s.db.View(func(tx *bolt.Tx) error {
		feed, all := tx.Bucket(bucketFeed), tx.Bucket(bucketCases)
		if last := feed.Sequence(); since > last {
			return fmt.Errorf("%w: %s, the feed ends at %s", ErrCursorAhead, portal.Cursor(since), portal.Cursor(last))
		}
		c := feed.Cursor()
		k, v := c.Seek(u64(since + 1))
		for ; k != nil && len(page.Changes) < limit; k, v = c.Next() {
			raw := all.Get(v)
			if raw == nil {
				return fmt.Errorf("portal.db: feed entry %d names case %s, which is missing", binary.BigEndian.Uint64(k), v)
			}
			seq := binary.BigEndian.Uint64(k)
			page.Changes = append(page.Changes, portal.Change{Seq: seq, Case: slices.Clone(raw)})
			page.Next = portal.Cursor(seq)
		}
		page.More = k != nil
		return nil
	})
	if err != nil {
		return portal.ChangesPage{}, err
	}
	return page, nil
}

// FeedEnd returns the position of the newest feed entry (0 when empty).
func (s *Store) FeedEnd() (uint64, error) {
	var n uint64
	err := s.db.View(func(tx *bolt.Tx) error {
		n = tx.Bucket(bucketFeed).Sequence()
		return nil
	})
	return n, err
}
