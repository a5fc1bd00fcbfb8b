package storage

import (
	"runtime"
	"testing"
	"time"

	"fieldoffice/assets"
)

// BenchmarkListMemory measures the heap the case list keeps with benchCases demo
// cases (live heap after a full GC, against the same vault before its first list):
//
//	cache-MiB         the vault's decoded list alone, after a first page
//	cache+list-MiB    and the whole list as the case list screen holds it (CaseRefs)
//	cache+values-MiB  and the whole list as copies (Cases, as the CLI gets it)
//
// It also times the first page (the decode of every summary) and a warm filtered
// list. Run with -benchtime 1x or a few x (the figures are averages):
//
//	go test -run '^$' -bench ListMemory -benchtime 3x ./storage/
func BenchmarkListMemory(b *testing.B) {
	cfg := testConfig(b, newFakeTPM())
	cfg.Logger = nil
	v := MustCreate(b, cfg, CreateOptions{})
	b.Cleanup(func() { v.Close() })
	v.SetForms(assets.Schemas{})
	if err := v.DemoData(benchCases, 1, time.Now()); err != nil {
		b.Fatal(err)
	}
	all := CaseQuery{Sort: "updated", Desc: true}
	filter := CaseQuery{Status: "in_bearbeitung", Sort: "due"}
	var firstPage, warm time.Duration
	var cache, list, values float64
	for b.Loop() {
		v.repo.drop()
		base := liveHeapMiB()
		t0 := time.Now()
		if _, err := v.CaseRefs(CaseQuery{Sort: "updated", Desc: true, Limit: 50}); err != nil {
			b.Fatal(err)
		}
		firstPage += time.Since(t0)
		cache += liveHeapMiB() - base

		refs, err := v.CaseRefs(all)
		if err != nil || len(refs) != benchCases {
			b.Fatalf("CaseRefs: %d %v", len(refs), err)
		}
		list += liveHeapMiB() - base
		runtime.KeepAlive(refs)
		refs = nil

		vals, err := v.Cases(all)
		if err != nil || len(vals) != benchCases {
			b.Fatalf("Cases: %d %v", len(vals), err)
		}
		values += liveHeapMiB() - base
		runtime.KeepAlive(vals)
		vals = nil

		t0 = time.Now()
		for range 10 {
			if _, err := v.CaseRefs(filter); err != nil {
				b.Fatal(err)
			}
		}
		warm += time.Since(t0) / 10
	}
	n := float64(b.N)
	b.ReportMetric(cache/n, "cache-MiB")
	b.ReportMetric(list/n, "cache+list-MiB")
	b.ReportMetric(values/n, "cache+values-MiB")
	b.ReportMetric(ms(firstPage)/n, "first-page-ms")
	b.ReportMetric(ms(warm)/n, "warm-filtered-ms")
}

// liveHeapMiB returns the heap taken by live objects after a full collection.
func liveHeapMiB() float64 {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return float64(m.HeapAlloc) / (1 << 20)
}
