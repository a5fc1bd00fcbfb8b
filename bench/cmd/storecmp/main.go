// Command storecmp runs one workload through FieldOffice's encrypted store (the vault
// in fieldoffice/storage) and through SQLCipher, in one process on one machine, and
// prints the times side by side with the ratio SQLCipher / FieldOffice (> 1 means
// FieldOffice is ahead).
//
// The workload (issue 3): insert 100,000 cases of about 4 KiB of JSON with UUIDv7 IDs
// in transactions of 10,000; read them all; 1,000 random lookups by ID; 200
// single-record commits, each fsynced.
//
//	cd bench && go run ./cmd/storecmp            # or: make bench-sqlcipher
//	go run ./cmd/storecmp -n 10000 -journal wal   # a quick run
package main

import (
	"bufio"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"strings"
	"time"
)

// store is the part of each store's API the workload uses.
type store interface {
	insertBatch(keys, vals [][]byte) error
	readAll(fn func(k, v []byte)) error
	get(key []byte) ([]byte, error)
	update(key, val []byte) error
	files() []string
	close() error
}

type result struct {
	name     string
	insert   time.Duration
	readAll  time.Duration
	lookups  []time.Duration
	commits  []time.Duration
	fileSize int64
	settings *sqlcSettings
}

func main() {
	var (
		n       = flag.Int("n", 100_000, "cases to insert")
		size    = flag.Int("size", 4096, "approximate size of one case's JSON in bytes")
		batch   = flag.Int("batch", 10_000, "cases per insert transaction")
		lookups = flag.Int("lookups", 1_000, "random lookups by ID")
		commits = flag.Int("commits", 200, "single-record commits")
		journal = flag.String("journal", "wal,delete", "SQLCipher journal modes to run, comma-separated (each is a column)")
		memsec  = flag.String("memsec", "", "set PRAGMA cipher_memory_security to ON or OFF (default: leave SQLCipher's default)")
		dir     = flag.String("dir", "", "directory for the store files (default: a new temporary directory, removed afterwards); must be on a real disk, not tmpfs, for fsync to count")
		seed    = flag.Uint64("seed", 1, "seed of the generated data")
		cpuprof = flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	)
	flag.Parse()
	if *cpuprof != "" {
		f, err := os.Create(*cpuprof)
		if err == nil {
			err = pprof.StartCPUProfile(f)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "storecmp:", err)
			os.Exit(1)
		}
		defer pprof.StopCPUProfile()
	}
	if err := run(os.Stdout, *n, *size, *batch, *lookups, *commits, strings.Split(*journal, ","), *memsec, *dir, *seed); err != nil {
		fmt.Fprintln(os.Stderr, "storecmp:", err)
		pprof.StopCPUProfile()
		os.Exit(1)
	}
}

func run(out io.Writer, n, size, batch, lookups, commits int, journals []string, memsec, dir string, seed uint64) error {
	if n <= 0 || batch <= 0 || lookups <= 0 || commits <= 0 {
		return fmt.Errorf("-n, -batch, -lookups and -commits must be positive")
	}
	if dir == "" {
		d, err := os.MkdirTemp("", "storecmp-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		dir = d
	} else if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	t0 := time.Now()
	fmt.Fprintf(os.Stderr, "generating %d cases of ~%d bytes ...\n", n, size)
	w, err := makeWorkload(seed, n, size, lookups, commits)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "generated %.0f MiB in %v\n", float64(w.bytes)/(1<<20), time.Since(t0).Round(time.Millisecond))

	var results []result
	sub, err := os.MkdirTemp(dir, "fieldoffice-")
	if err != nil {
		return err
	}
	fo, err := openFieldOffice(sub)
	if err != nil {
		return fmt.Errorf("fieldoffice: %w", err)
	}
	r, err := measure("FieldOffice", fo, w, batch)
	if err != nil {
		return fmt.Errorf("fieldoffice: %w", err)
	}
	results = append(results, r)
	for _, j := range journals {
		j = strings.ToUpper(strings.TrimSpace(j))
		if j == "" {
			continue
		}
		sub, err := os.MkdirTemp(dir, "sqlcipher-")
		if err != nil {
			return err
		}
		sc, err := openSQLCipher(sub, j, memsec)
		if err != nil {
			return fmt.Errorf("sqlcipher %s: %w", j, err)
		}
		st, err := sc.settings()
		if err != nil {
			sc.close()
			return fmt.Errorf("sqlcipher %s: %w", j, err)
		}
		r, err := measure("SQLCipher "+j, sc, w, batch)
		if err != nil {
			return fmt.Errorf("sqlcipher %s: %w", j, err)
		}
		r.settings = &st
		results = append(results, r)
	}
	report(out, w, batch, dir, results)
	fmt.Fprintf(os.Stderr, "total %v\n", time.Since(t0).Round(time.Second))
	return nil
}

// measure runs the workload on s and closes it.
func measure(name string, s store, w *workload, batch int) (r result, err error) {
	r.name = name
	defer func() {
		if cerr := s.close(); err == nil && cerr != nil {
			err = cerr
		}
		for _, f := range s.files() {
			if fi, serr := os.Stat(f); serr == nil {
				r.fileSize += fi.Size()
			}
		}
	}()
	fmt.Fprintf(os.Stderr, "%s: insert ...\n", name)
	flushDisk()
	runtime.GC()
	start := time.Now()
	for i := 0; i < len(w.keys); i += batch {
		end := min(i+batch, len(w.keys))
		if err := s.insertBatch(w.keys[i:end], w.vals[i:end]); err != nil {
			return r, fmt.Errorf("insert: %w", err)
		}
	}
	r.insert = time.Since(start)

	fmt.Fprintf(os.Stderr, "%s: read all ...\n", name)
	runtime.GC()
	var count int
	var total int64
	start = time.Now()
	err = s.readAll(func(k, v []byte) { count++; total += int64(len(v)) })
	r.readAll = time.Since(start)
	if err != nil {
		return r, fmt.Errorf("read all: %w", err)
	}
	if count != len(w.keys) || total != w.bytes {
		return r, fmt.Errorf("read all: %d records, %d bytes; want %d, %d", count, total, len(w.keys), w.bytes)
	}

	fmt.Fprintf(os.Stderr, "%s: lookups ...\n", name)
	runtime.GC()
	for _, i := range w.lookups {
		start := time.Now()
		v, err := s.get(w.keys[i])
		d := time.Since(start)
		if err != nil {
			return r, fmt.Errorf("lookup %s: %w", w.keys[i], err)
		}
		if !bytes.Equal(v, w.vals[i]) {
			return r, fmt.Errorf("lookup %s: wrong value", w.keys[i])
		}
		r.lookups = append(r.lookups, d)
	}

	fmt.Fprintf(os.Stderr, "%s: single-record commits ...\n", name)
	flushDisk()
	runtime.GC()
	for c, i := range w.changed {
		start := time.Now()
		err := s.update(w.keys[i], w.changes[c])
		d := time.Since(start)
		if err != nil {
			return r, fmt.Errorf("commit %s: %w", w.keys[i], err)
		}
		r.commits = append(r.commits, d)
	}
	last := len(w.changed) - 1
	if v, err := s.get(w.keys[w.changed[last]]); err != nil || !bytes.Equal(v, w.changes[last]) {
		return r, fmt.Errorf("commit %s: change not read back (%v)", w.keys[w.changed[last]], err)
	}
	return r, nil
}

func mean(ds []time.Duration) time.Duration {
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}

// p95 is the nearest-rank 95th percentile.
func p95(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	i := (len(s)*95+99)/100 - 1
	return s[max(i, 0)]
}

func fmtDur(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d >= 100*time.Millisecond:
		return fmt.Sprintf("%.0f ms", float64(d)/1e6)
	case d >= time.Millisecond:
		return fmt.Sprintf("%.2f ms", float64(d)/1e6)
	default:
		return fmt.Sprintf("%.1f µs", float64(d)/1e3)
	}
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func report(out io.Writer, w *workload, batch int, dir string, rs []result) {
	fo := rs[0]
	n := len(w.keys)
	fmt.Fprintf(out, "\nstorecmp — %s, %d cores (%s), %s, %s/%s\n", time.Now().Format("2006-01-02 15:04 MST"),
		runtime.NumCPU(), cpuModel(), runtime.Version(), runtime.GOOS, runtime.GOARCH)
	fmt.Fprintf(out, "workload: %d cases, JSON %d–%d bytes (mean %d), UUIDv7 IDs, insert in transactions of %d; files under %s\n",
		n, minLen(w.vals), maxLen(w.vals), w.bytes/int64(n), batch, dir)
	fmt.Fprintf(out, "FieldOffice: storage.Vault, software key slot, AES-256-GCM per record, bbolt with fsync on every commit\n")
	for _, r := range rs[1:] {
		s := r.settings
		fmt.Fprintf(out, "%s: SQLCipher %s (SQLite %s), provider %s %s, raw 32-byte key, cipher_page_size %s, HMAC %s, cipher_memory_security %s, journal_mode %s, synchronous %s (2 = FULL)\n",
			r.name, s.Version, s.SQLite, s.Provider, s.ProviderVersion, s.PageSize, s.HMAC, s.MemorySecurity, s.Journal, s.Synchronous)
	}
	if mod := modVersion("github.com/mutecomm/go-sqlcipher/v4"); mod != "" {
		fmt.Fprintf(out, "driver: github.com/mutecomm/go-sqlcipher/v4 %s\n", mod)
	}
	fmt.Fprintln(out)

	type row struct {
		name string
		get  func(result) time.Duration
	}
	rows := []row{
		{fmt.Sprintf("insert %d × ~%d B, %d per tx", n, w.bytes/int64(n), batch), func(r result) time.Duration { return r.insert }},
		{fmt.Sprintf("read all %d", n), func(r result) time.Duration { return r.readAll }},
		{fmt.Sprintf("lookup by ID, mean of %d", len(w.lookups)), func(r result) time.Duration { return mean(r.lookups) }},
		{fmt.Sprintf("lookup by ID, p95 of %d", len(w.lookups)), func(r result) time.Duration { return p95(r.lookups) }},
		{fmt.Sprintf("1-record commit, mean of %d", len(w.changed)), func(r result) time.Duration { return mean(r.commits) }},
		{fmt.Sprintf("1-record commit, p95 of %d", len(w.changed)), func(r result) time.Duration { return p95(r.commits) }},
	}
	head := "| row | FieldOffice |"
	sep := "| --- | ---: |"
	for _, r := range rs[1:] {
		head += fmt.Sprintf(" %s | ratio |", r.name)
		sep += " ---: | ---: |"
	}
	fmt.Fprintln(out, head+" FieldOffice ahead |")
	fmt.Fprintln(out, sep+" --- |")
	var behind []string
	for _, rw := range rows {
		f := rw.get(fo)
		line := fmt.Sprintf("| %s | %s |", rw.name, fmtDur(f))
		ahead := true
		for _, r := range rs[1:] {
			s := rw.get(r)
			ratio := float64(s) / float64(f)
			line += fmt.Sprintf(" %s | %.2f× |", fmtDur(s), ratio)
			if ratio <= 1 {
				ahead = false
			}
		}
		if ahead {
			line += " yes |"
		} else {
			line += " **no** |"
			behind = append(behind, rw.name)
		}
		fmt.Fprintln(out, line)
	}
	line := fmt.Sprintf("| file size after the run | %.0f MiB |", float64(fo.fileSize)/(1<<20))
	for _, r := range rs[1:] {
		line += fmt.Sprintf(" %.0f MiB | %.2f× |", float64(r.fileSize)/(1<<20), float64(r.fileSize)/float64(fo.fileSize))
	}
	fmt.Fprintln(out, line+" (not timed) |")
	fmt.Fprintln(out)
	fmt.Fprintln(out, "ratio = SQLCipher time / FieldOffice time: > 1 means FieldOffice is ahead.")
	if len(behind) == 0 {
		fmt.Fprintln(out, "Goal \"FieldOffice ahead on every row\": MET (against every SQLCipher journal mode run).")
	} else {
		fmt.Fprintf(out, "Goal \"FieldOffice ahead on every row\": NOT MET — behind or even on: %s.\n", strings.Join(behind, "; "))
	}
}

func minLen(vs [][]byte) int {
	m := len(vs[0])
	for _, v := range vs {
		m = min(m, len(v))
	}
	return m
}

func maxLen(vs [][]byte) int {
	m := 0
	for _, v := range vs {
		m = max(m, len(v))
	}
	return m
}

func modVersion(path string) string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, d := range bi.Deps {
		if d.Path == path {
			return d.Version
		}
	}
	return ""
}
