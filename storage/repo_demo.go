package storage

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"sync"
	"time"

	"fieldoffice/cases"
	"fieldoffice/cases/demo"
)

// demoBatch is the number of demo cases per transaction.
const demoBatch = 2000

// DemoData adds n realistic German demo cases (made by fieldoffice/cases/demo), spread
// over the four sample services (anmeldung, gewerbeanmeldung, bewohnerparkausweis,
// personalausweis), created over the two years before now, with names, addresses in
// real German cities, dates, workflow states, Aktenzeichen ("MB-2026-000123"),
// Sachbearbeitung and Wiedervorlage as the state needs them, and valid form values.
// Each case is written like CreateCase (case, summary, index, outbox "create", audit)
// in transactions of demoBatch cases; values are sealed on all cores. The same seed
// gives the same cases (but fresh IDs). Case IDs are UUIDv7s carrying the creation
// time.
func (v *Vault) DemoData(n int, seed int64, now time.Time) error {
	if n <= 0 {
		return nil
	}
	k, release, err := v.useKeys()
	if err != nil {
		return err
	}
	defer release()
	now = now.UTC()
	g := demo.NewGenerator(seed, now)
	for done := 0; done < n; {
		m := min(demoBatch, n-done)
		batch := make([]*cases.Case, m)
		for i := range batch {
			c, err := g.Case(demo.Created(now, done+i, n))
			if err != nil {
				return err
			}
			batch[i] = c
		}
		if err := v.writeDemoBatch(k, batch, now); err != nil {
			return err
		}
		done += m
	}
	return nil
}

// demoEncoded is one case, encoded by a worker.
type demoEncoded struct {
	caseJSON, sumJSON, outJSON []byte
	sum                        cases.Summary
	opID                       string
	fields                     []string
	index                      [][]byte
}

func (v *Vault) writeDemoBatch(k *keys, batch []*cases.Case, now time.Time) error {
	enc := make([]demoEncoded, len(batch))
	workers := runtime.GOMAXPROCS(0)
	errs := make([]error, workers)
	var wg sync.WaitGroup
	chunk := (len(batch) + workers - 1) / workers
	for w := range workers {
		lo, hi := w*chunk, min((w+1)*chunk, len(batch))
		wg.Go(func() {
			ix := newIndexer(k)
			defer ix.zero()
			for i := lo; i < hi; i++ {
				c := batch[i]
				s := v.schemaFor(c.Service)
				e := &enc[i]
				var err error
				if e.caseJSON, err = json.Marshal(c); err != nil {
					errs[w] = err
					return
				}
				e.sum = c.Summary()
				e.sum.Flags |= cases.FlagUnsynced
				e.sumJSON = encodeSummary(e.sum)
				p := cases.Diff(nil, c)
				e.fields = p.Fields()
				ob, err := newOutboxEntry(c, OpCreate, p, k.user, c.Created)
				if err != nil {
					errs[w] = err
					return
				}
				e.opID = ob.OpID
				if e.outJSON, err = json.Marshal(ob); err != nil {
					errs[w] = err
					return
				}
				_, e.index = ix.indexDiff(c.ID, nil, caseTerms(c, s))
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	var txid int
	err := v.Update(func(tx *Tx) error {
		n := len(batch)
		ids, cv, sv := make([][]byte, n), make([][]byte, n), make([][]byte, n)
		var ok, ov [][]byte
		var ik [][]byte
		for i, c := range batch {
			ids[i], cv[i], sv[i] = []byte(c.ID), enc[i].caseJSON, enc[i].sumJSON
			ok, ov = append(ok, []byte(enc[i].opID)), append(ov, enc[i].outJSON)
			ik = append(ik, enc[i].index...)
		}
		for _, b := range [][]byte{bucketCases, bucketSummaries} {
			bk := tx.btx.Bucket(b)
			if bk == nil {
				continue
			}
			for _, id := range ids {
				if bk.Get(id) != nil {
					return fmt.Errorf("%w: %s", ErrCaseExists, id)
				}
			}
		}
		if err := tx.PutBatch(bucketCases, ids, cv); err != nil {
			return err
		}
		if err := tx.PutBatch(bucketSummaries, ids, sv); err != nil {
			return err
		}
		if err := tx.PutBatch(bucketOutbox, ok, ov); err != nil {
			return err
		}
		// The per-case op index (sync.go), in key order for a sequential write.
		xk := make([][]byte, len(batch))
		xv := make([][]byte, len(batch))
		for i, c := range batch {
			xk[i], xv[i] = outboxCaseKey(c.ID, enc[i].opID), nil
		}
		slices.SortFunc(xk, bytes.Compare)
		if err := tx.PutBatch(bucketOutboxCase, xk, xv); err != nil {
			return err
		}
		slices.SortFunc(ik, bytes.Compare)
		iv := make([][]byte, len(ik))
		for i := range iv {
			iv[i] = emptySealedV
		}
		if err := tx.PutBatch(bucketIndex, ik, iv); err != nil {
			return err
		}
		a, err := tx.openAudit()
		if err != nil {
			return err
		}
		defer a.zero()
		ak, av, ac := make([][]byte, n), make([][]byte, n), make([]string, n)
		for i, c := range batch {
			ac[i] = c.ID
			e := AuditEntry{Time: now, User: k.user, Op: AuditDemo, CaseID: c.ID, Fields: enc[i].fields}
			if ak[i], av[i], err = a.next(&e); err != nil {
				return err
			}
		}
		if err := tx.writeAuditBatch(a, ak, av, ac); err != nil {
			return err
		}
		txid = tx.btx.ID()
		return nil
	})
	if err != nil {
		return err
	}
	sums := make([]cases.Summary, len(enc))
	for i := range enc {
		sums[i] = enc[i].sum
	}
	v.repo.committed(k, txid, sums)
	return nil
}
