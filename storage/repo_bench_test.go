package storage

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/cases/demo"
)

// benchCases is the size of the demo store the repository benchmarks run on.
const benchCases = 100_000

// writesPerOp is how many single-case writes (one transaction each) one op of
// WriteCase makes, so that -benchtime 1x still averages over many fsyncs.
const writesPerOp = 500

// BenchmarkRepo builds one store of benchCases demo cases (DemoData) and measures the
// repository on it. It works with -benchtime 1x.
func BenchmarkRepo(b *testing.B) {
	cfg := testConfig(b, newFakeTPM())
	cfg.Logger = nil
	v := MustCreate(b, cfg, CreateOptions{})
	b.Cleanup(func() { v.Close() }) // v is replaced by FirstPage
	v.SetForms(assets.Schemas{})
	now := time.Now()
	start := time.Now()
	if err := v.DemoData(benchCases, 1, now); err != nil {
		b.Fatal(err)
	}
	b.Logf("DemoData(%d): %v (%.0f cases/s)", benchCases, time.Since(start).Round(time.Millisecond), benchCases/time.Since(start).Seconds())
	plain := plainCaseStore(b, v)

	// 200 realistic queries: family names, name + city, cities, prefixes, Aktenzeichen.
	rnd := rand.New(rand.NewPCG(7, 7))
	pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }
	var queries []string
	for i := range 200 {
		city := demo.Cities[rnd.IntN(len(demo.Cities))]
		switch i % 5 {
		case 0:
			queries = append(queries, pick(demo.Family))
		case 1:
			queries = append(queries, pick(demo.Family)+" "+city.Name)
		case 2:
			queries = append(queries, pick(demo.Family)+" "+pick(append(slices.Clone(demo.Female), demo.Male...)))
		case 3:
			f := []rune(pick(demo.Family))
			queries = append(queries, string(f[:min(len(f), 4)])+" "+pick(city.PLZ))
		case 4:
			queries = append(queries, fmt.Sprintf("%s-%d-%06d", pick([]string{"MB", "PA", "SV", "GA"}), now.Year()-rnd.IntN(2), 1+rnd.IntN(20000)))
		}
	}

	b.Run("Search", func(b *testing.B) {
		var lat []time.Duration
		hits := 0
		for b.Loop() {
			for _, q := range queries {
				t0 := time.Now()
				got, err := v.Search(q, 50)
				lat = append(lat, time.Since(t0))
				if err != nil {
					b.Fatal(err)
				}
				hits += len(got)
			}
		}
		slices.Sort(lat)
		b.ReportMetric(ms(lat[len(lat)*95/100]), "p95-ms")
		b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
		b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
		b.ReportMetric(float64(hits)/float64(len(lat)), "hits/query")
	})

	filter := CaseQuery{Status: "in_bearbeitung", Sort: "due", Limit: 50}
	b.Run("ListFilterCold/vault", func(b *testing.B) {
		for b.Loop() {
			v.repo.drop()
			if got, err := v.Cases(filter); err != nil || len(got) != 50 {
				b.Fatalf("Cases: %d %v", len(got), err)
			}
		}
	})
	b.Run("ListFilterCold/plain", func(b *testing.B) {
		for b.Loop() {
			if got := plainCases(b, plain, filter); len(got) != 50 {
				b.Fatalf("plain list: %d", len(got))
			}
		}
	})
	b.Run("ListFilterWarm/vault", func(b *testing.B) {
		for b.Loop() {
			if _, err := v.Cases(filter); err != nil {
				b.Fatal(err)
			}
		}
	})

	b.Run("ReadAll/vault", func(b *testing.B) {
		for b.Loop() {
			n := 0
			err := v.ReadAll(bucketCases, func(_, val []byte) error {
				var c cases.Case
				n++
				return json.Unmarshal(val, &c)
			})
			if err != nil || n < benchCases {
				b.Fatalf("ReadAll: %d cases, %v", n, err)
			}
		}
	})
	b.Run("ReadAll/plain", func(b *testing.B) {
		for b.Loop() {
			n := 0
			err := plain.View(func(tx *bolt.Tx) error {
				return tx.Bucket(bucketCases).ForEach(func(_, val []byte) error {
					var c cases.Case
					n++
					return json.Unmarshal(val, &c)
				})
			})
			if err != nil || n < benchCases {
				b.Fatalf("plain read: %d cases, %v", n, err)
			}
		}
	})

	b.Run("FirstPage", func(b *testing.B) {
		var unlock, page time.Duration
		for b.Loop() {
			mustClose(b, v)
			t0 := time.Now()
			var err error
			if v, err = Open(cfg); err != nil {
				b.Fatal(err)
			}
			v.SetForms(assets.Schemas{})
			if err := v.Unlock("anna", pinAnna); err != nil {
				b.Fatal(err)
			}
			t1 := time.Now()
			got, err := v.Cases(CaseQuery{Sort: "updated", Desc: true, Limit: 50})
			if err != nil || len(got) != 50 {
				b.Fatalf("Cases: %d %v", len(got), err)
			}
			unlock += t1.Sub(t0)
			page += time.Since(t1)
		}
		b.ReportMetric(ms(unlock)/float64(b.N), "open+unlock-ms")
		b.ReportMetric(ms(page)/float64(b.N), "first-page-ms")
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		b.ReportMetric(float64(m.HeapInuse)/(1<<20), "heap-with-list-MiB")
	})

	b.Run("WriteCase/vault", func(b *testing.B) {
		list, err := v.Cases(CaseQuery{Limit: 1000})
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			for range writesPerOp {
				s := list[i%len(list)]
				if _, err := v.SetFields(s.ID, map[string]string{"telefon": fmt.Sprintf("030 %07d", i)}); err != nil {
					b.Fatal(err)
				}
				i++
			}
		}
		b.ReportMetric(float64(b.N*writesPerOp)/b.Elapsed().Seconds(), "writes/s")
	})
	b.Run("WriteCase/plain", func(b *testing.B) {
		list := plainCases(b, plain, CaseQuery{Limit: 1000})
		i := 0
		for b.Loop() {
			for range writesPerOp {
				plainWriteCase(b, plain, list[i%len(list)].ID, fmt.Sprintf("030 %07d", i), uint64(i))
				i++
			}
		}
		b.ReportMetric(float64(b.N*writesPerOp)/b.Elapsed().Seconds(), "writes/s")
	})

	b.Run("CreateBatch", func(b *testing.B) {
		const n = 10_000
		seed := int64(100)
		for b.Loop() {
			seed++
			if err := v.DemoData(n, seed, now); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(n*b.N)/b.Elapsed().Seconds(), "cases/s")
	})
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// The plain-bbolt floor for the repository: the same cases and summaries as JSON,
// unencrypted, no index; a write puts case, summary, outbox and audit entry in one
// transaction like the vault (without sealing, index maintenance and the audit MAC).

var bucketPlainAudit = []byte("audit")

func plainCaseStore(b *testing.B, v *Vault) *bolt.DB {
	db, err := bolt.Open(filepath.Join(b.TempDir(), "plain-cases.db"), 0o600, &bolt.Options{Timeout: time.Second})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	for _, bucket := range [][]byte{bucketCases, bucketSummaries} {
		var keys, vals [][]byte
		flush := func() {
			err := db.Update(func(tx *bolt.Tx) error {
				bk, err := tx.CreateBucketIfNotExists(bucket)
				if err != nil {
					return err
				}
				for i := range keys {
					if err := bk.Put(keys[i], vals[i]); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			keys, vals = keys[:0], vals[:0]
		}
		err := v.ReadAll(bucket, func(k, val []byte) error {
			keys, vals = append(keys, k), append(vals, val)
			if len(keys) == 10_000 {
				flush()
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		flush()
	}
	return db
}

// plainCases is Cases on the plain store: decode every summary, filter, sort, page.
func plainCases(b *testing.B, db *bolt.DB, q CaseQuery) []cases.Summary {
	var list []cases.Summary
	err := db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketSummaries).ForEach(func(_, val []byte) error {
			var s cases.Summary
			if err := decodeSummary(val, &s); err != nil {
				return err
			}
			if q.match(&s) {
				list = append(list, s)
			}
			return nil
		})
	})
	if err != nil {
		b.Fatal(err)
	}
	sortSummaries(list, q.Sort, q.Desc)
	if q.Limit > 0 && len(list) > q.Limit {
		list = list[:q.Limit]
	}
	return list
}

// plainWriteCase sets one value of a case in the plain store with summary, outbox
// and audit entry in one transaction.
func plainWriteCase(b *testing.B, db *bolt.DB, id, phone string, seq uint64) {
	err := db.Update(func(tx *bolt.Tx) error {
		bc := tx.Bucket(bucketCases)
		var c cases.Case
		if err := json.Unmarshal(bc.Get([]byte(id)), &c); err != nil {
			return err
		}
		next := c.Clone()
		next.Values["telefon"] = phone
		next.Touch(time.Now())
		patch := cases.Diff(&c, next)
		cj, err := json.Marshal(next)
		if err != nil {
			return err
		}
		if err := bc.Put([]byte(id), cj); err != nil {
			return err
		}
		if err := tx.Bucket(bucketSummaries).Put([]byte(id), encodeSummary(next.Summary())); err != nil {
			return err
		}
		e, err := newOutboxEntry(next, OpPatch, patch, "anna", time.Now())
		if err != nil {
			return err
		}
		ej, _ := json.Marshal(e)
		ob, err := tx.CreateBucketIfNotExists(bucketOutbox)
		if err != nil {
			return err
		}
		if err := ob.Put([]byte(e.OpID), ej); err != nil {
			return err
		}
		ab, err := tx.CreateBucketIfNotExists(bucketPlainAudit)
		if err != nil {
			return err
		}
		aj, _ := json.Marshal(AuditEntry{Seq: seq, Time: time.Now(), User: "anna", Op: AuditPatch, CaseID: id, Fields: patch.Fields()})
		return ab.Put(bytes.Clone(auditKey(seq+1)), aj)
	})
	if err != nil {
		b.Fatal(err)
	}
}
