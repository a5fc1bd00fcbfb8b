package storage

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"fieldoffice/assets"
)

// benchCases is the size of the demo store the repository benchmarks run on.
const benchCases = 100_000

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

	// 200 realistic queries: family names, name + city, cities, prefixes, Aktenzeichen.
	rnd := rand.New(rand.NewPCG(7, 7))
	pick := func(xs []string) string { return xs[rnd.IntN(len(xs))] }
	var queries []string
	for i := range 200 {
		city := demoCities[rnd.IntN(len(demoCities))]
		switch i % 5 {
		case 0:
			queries = append(queries, pick(demoFamily))
		case 1:
			queries = append(queries, pick(demoFamily)+" "+city.name)
		case 2:
			queries = append(queries, pick(demoFamily)+" "+pick(append(slices.Clone(demoFemale), demoMale...)))
		case 3:
			f := []rune(pick(demoFamily))
			queries = append(queries, string(f[:min(len(f), 4)])+" "+pick(city.plz))
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

	b.Run("ListFilter", func(b *testing.B) {
		q := CaseQuery{Status: "in_bearbeitung", Sort: "due", Limit: 50}
		v.repo.drop()
		t0 := time.Now()
		if got, err := v.Cases(q); err != nil || len(got) != 50 {
			b.Fatalf("Cases: %d %v", len(got), err)
		}
		cold := time.Since(t0)
		for b.Loop() {
			if _, err := v.Cases(q); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(ms(cold), "cold-ms")
		b.ReportMetric(ms(b.Elapsed())/float64(b.N), "warm-ms")
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
	})

	b.Run("WriteCase", func(b *testing.B) {
		list, err := v.Cases(CaseQuery{Limit: 1000})
		if err != nil {
			b.Fatal(err)
		}
		i := 0
		for b.Loop() {
			s := list[i%len(list)]
			if _, err := v.SetFields(s.ID, map[string]string{"telefon": fmt.Sprintf("030 %07d", i)}); err != nil {
				b.Fatal(err)
			}
			i++
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
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
