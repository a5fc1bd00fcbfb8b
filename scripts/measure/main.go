// Command measure runs the real FieldOffice binary under a virtual display (Xvfb) and
// measures what issue 5 asks of the GUI, as the user meets it:
//
//   - start → unlock screen: from starting the process to the unlock screen shown;
//   - PIN → case list: from the PIN submitted (typed with xdotool, Enter) to the case
//     list filled, with 1,000 and 100,000 cases;
//   - memory: VmRSS and VmHWM (/proc/PID/status) once the list shows;
//   - list scroll: CPU time of the app per scroll step (mouse wheel, xdotool), less the
//     idle CPU over the same time, with 1,000 and 100,000 cases. A virtualised list
//     does the same frame work whatever the number of cases.
//
// It prints the median of -runs runs. The app reports its moments itself: with
// FIELDOFFICE_MEASURE=1 it writes "fieldoffice-measure <unix-ns> <event> [n]" lines to
// stderr (app/unlock.go: unlock-shown, unlock-submit, list-shown N).
//
// Usage (from the repository root; `make measure`):
//
//	go run ./scripts/measure [-runs 5] [-cases 1000,100000] [-bin PATH] [-data DIR] [-cold] [-pin-after 300ms]
//
// Needs Linux, Xvfb, xdotool, gcc and the X11 headers (the same as the app's build).
// The stores are built once with `fieldoffice init` and `fieldoffice demo-data` and
// kept in -data (default .make/measure) for the next run.
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// The measurement vault's user and PIN (a throwaway store with demo data only).
const (
	measureUser = "messung"
	measurePIN  = "135790"
)

func main() {
	runs := flag.Int("runs", 5, "runs per store; the table shows the median")
	casesFlag := flag.String("cases", "1000,100000", "store sizes, comma-separated")
	bin := flag.String("bin", "", "the fieldoffice binary (default: go build into a temporary directory)")
	dataDir := flag.String("data", ".make/measure", "where the stores are kept between runs")
	steps := flag.Int("scroll", 120, "mouse-wheel steps per scroll measurement")
	cold := flag.Bool("cold", false, "drop the vault file from the page cache before each run (as after a reboot)")
	flag.DurationVar(&pinAfter, "pin-after", 300*time.Millisecond, "when to start typing the PIN, counted from the unlock screen (a person needs 2 s or more)")
	flag.Parse()
	coldCache = *cold
	if err := run(*runs, *casesFlag, *bin, *dataDir, *steps); err != nil {
		fmt.Fprintln(os.Stderr, "measure:", err)
		os.Exit(1)
	}
}

func run(runs int, casesFlag, bin, dataDir string, steps int) error {
	var sizes []int
	for _, s := range strings.Split(casesFlag, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 {
			return fmt.Errorf("-cases: %q is not a number of cases", s)
		}
		sizes = append(sizes, n)
	}
	for _, tool := range []string{"Xvfb", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("%s is needed (apt-get install xvfb xdotool)", tool)
		}
	}
	tmp, err := os.MkdirTemp("", "fieldoffice-measure-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	if bin == "" {
		bin = filepath.Join(tmp, "fieldoffice")
		fmt.Fprintln(os.Stderr, "measure: building the app …")
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("go build: %w", err)
		}
	}
	if bin, err = filepath.Abs(bin); err != nil {
		return err
	}
	x, err := startXvfb()
	if err != nil {
		return err
	}
	defer x.stop()

	results := map[int]*series{}
	for _, n := range sizes {
		dir, err := ensureStore(bin, dataDir, n)
		if err != nil {
			return err
		}
		s := &series{}
		results[n] = s
		for i := range runs {
			fmt.Fprintf(os.Stderr, "measure: %d cases, run %d of %d …\n", n, i+1, runs)
			if coldCache {
				if err := dropCache(filepath.Join(dir, "vault.db")); err != nil {
					return err
				}
			}
			r, err := measureOnce(bin, dir, filepath.Join(tmp, "home"), x.display, n, steps)
			if err != nil {
				return fmt.Errorf("%d cases, run %d: %w", n, i+1, err)
			}
			s.add(r)
		}
	}
	printTable(os.Stdout, sizes, results, runs, steps)
	return nil
}

// ensureStore returns the data directory of a store with n demo cases, building it
// (software key slot, demo data) when it is not there yet.
func ensureStore(bin, base string, n int) (string, error) {
	dir, err := filepath.Abs(filepath.Join(base, fmt.Sprintf("cases-%d", n)))
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, "vault.db")); err == nil {
		return dir, nil
	}
	fmt.Fprintf(os.Stderr, "measure: building a store with %d demo cases in %s (once) …\n", n, dir)
	if err := os.MkdirAll(filepath.Dir(dir), 0o700); err != nil {
		return "", err
	}
	tmp := dir + ".tmp"
	os.RemoveAll(tmp)
	env := append(os.Environ(), "FIELDOFFICE_DATA="+tmp, "FIELDOFFICE_TPM=none", "FIELDOFFICE_USER="+measureUser,
		"FIELDOFFICE_NEW_PIN="+measurePIN, "FIELDOFFICE_PIN="+measurePIN, "FIELDOFFICE_CONFIG="+filepath.Join(tmp, "none.toml"))
	for _, args := range [][]string{
		{"init", "--user", measureUser, "--allow-software-key"},
		{"demo-data", "--cases", strconv.Itoa(n)},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Env = env
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("fieldoffice %s: %w\n%s", args[0], err, out)
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return dir, nil
}

// result is one run against one store.
type result struct {
	startup   time.Duration // process start → unlock screen
	unlock    time.Duration // PIN submitted → case list filled
	listed    int           // cases the list showed
	rssUnlock int64         // VmRSS at the unlock screen (window, GL, fonts; no case yet)
	rss, hwm  int64         // bytes, once the list shows
	scrollMS  float64       // app CPU ms per scroll step, less idle
}

// measureOnce starts the app on dir, unlocks it and measures one run.
func measureOnce(bin, dir, home, display string, n, steps int) (result, error) {
	var r result
	a, err := startApp(bin, dir, home, display)
	if err != nil {
		return r, err
	}
	defer a.close()

	shown, err := a.wait("unlock-shown", 30*time.Second)
	if err != nil {
		return r, err
	}
	r.startup = shown.at.Sub(a.started)
	time.Sleep(300 * time.Millisecond) // the first frames
	if r.rssUnlock, _, err = memory(a.cmd.Process.Pid); err != nil {
		return r, err
	}
	time.Sleep(time.Until(shown.at.Add(pinAfter)))
	win, err := a.window()
	if err != nil {
		return r, err
	}
	// The PIN field has the focus; the window gets the keyboard.
	if err := xdo(display, "windowfocus", "--sync", win); err != nil {
		return r, err
	}
	if err := xdo(display, "type", "--delay", "15", measurePIN); err != nil {
		return r, err
	}
	if err := xdo(display, "key", "Return"); err != nil {
		return r, err
	}
	submit, err := a.wait("unlock-submit", 10*time.Second)
	if err != nil {
		return r, err
	}
	listed, err := a.waitListed(30 * time.Second)
	if err != nil {
		return r, err
	}
	r.unlock, r.listed = listed.at.Sub(submit.at), listed.n
	time.Sleep(time.Second) // let the first frames and the background load settle
	if r.rss, r.hwm, err = memory(a.cmd.Process.Pid); err != nil {
		return r, err
	}
	if r.scrollMS, err = a.scrollCost(win, steps); err != nil {
		return r, err
	}
	fmt.Fprintf(os.Stderr, "measure:   start→unlock %v, PIN→list %v (%d cases), RSS %d MB (unlock screen %d MB), scroll %.2f ms/step\n",
		r.startup.Round(time.Millisecond), r.unlock.Round(time.Millisecond), r.listed, r.rss>>20, r.rssUnlock>>20, r.scrollMS)
	return r, nil
}

// series collects the runs against one store.
type series struct{ runs []result }

func (s *series) add(r result) { s.runs = append(s.runs, r) }

// median of f over the runs.
func (s *series) median(f func(result) float64) float64 {
	v := make([]float64, 0, len(s.runs))
	for _, r := range s.runs {
		v = append(v, f(r))
	}
	slices.Sort(v)
	if len(v) == 0 {
		return 0
	}
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// printTable prints the medians, one column per store, with the goals.
func printTable(w *os.File, sizes []int, res map[int]*series, runs, steps int) {
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	mb := func(b int64) float64 { return float64(b) / (1 << 20) }
	rows := []struct {
		name, goal string
		cell       func(s *series) string
	}{
		{"start → unlock screen", "< 1 s", func(s *series) string {
			return fmt.Sprintf("%.0f ms", s.median(func(r result) float64 { return ms(r.startup) }))
		}},
		{"PIN → case list filled", "< 1 s", func(s *series) string {
			return fmt.Sprintf("%.0f ms", s.median(func(r result) float64 { return ms(r.unlock) }))
		}},
		{"cases in the list", "", func(s *series) string {
			return fmt.Sprintf("%.0f", s.median(func(r result) float64 { return float64(r.listed) }))
		}},
		{"RSS at the unlock screen", "", func(s *series) string {
			return fmt.Sprintf("%.0f MB", s.median(func(r result) float64 { return mb(r.rssUnlock) }))
		}},
		{"RSS after the list (VmRSS)", "< 200 MB", func(s *series) string {
			return fmt.Sprintf("%.0f MB", s.median(func(r result) float64 { return mb(r.rss) }))
		}},
		{"peak RSS (VmHWM)", "", func(s *series) string {
			return fmt.Sprintf("%.0f MB", s.median(func(r result) float64 { return mb(r.hwm) }))
		}},
		{"CPU per scroll step (less idle)", "flat", func(s *series) string {
			return fmt.Sprintf("%.2f ms", s.median(func(r result) float64 { return r.scrollMS }))
		}},
	}
	cache := "warm disk cache"
	if coldCache {
		cache = "cold disk cache (vault file dropped from the page cache before each run)"
	}
	fmt.Fprintf(w, "\nFieldOffice GUI measurements — median of %d runs; Xvfb 1280x800, software GL; %d wheel steps per scroll test; %s; PIN typed %v after the unlock screen\n", runs, steps, cache, pinAfter)
	fmt.Fprintf(w, "machine: %d CPUs, load average %s (a loaded machine inflates every figure)\n\n", runtime.NumCPU(), loadAverage())
	fmt.Fprintf(w, "%-34s", "")
	for _, n := range sizes {
		fmt.Fprintf(w, "%16s", fmt.Sprintf("%d cases", n))
	}
	fmt.Fprintf(w, "%12s\n", "goal")
	for _, row := range rows {
		fmt.Fprintf(w, "%-34s", row.name)
		for _, n := range sizes {
			fmt.Fprintf(w, "%16s", row.cell(res[n]))
		}
		fmt.Fprintf(w, "%12s\n", row.goal)
	}
	if len(sizes) >= 2 {
		lo, hi := res[sizes[0]], res[sizes[len(sizes)-1]]
		step := func(r result) float64 { return r.scrollMS }
		a, b := lo.median(step), hi.median(step)
		verdict := "no growth with the number of cases"
		// CPU ticks are 10 ms: below 0.2 ms per step the difference is noise.
		if b > 1.5*a && b-a > 0.2 {
			verdict = "GROWS with the number of cases"
		}
		fmt.Fprintf(w, "\nscroll: %.2f ms per step with %d cases, %.2f ms with %d: %s\n", a, sizes[0], b, sizes[len(sizes)-1], verdict)
	}
}

// loadAverage returns the 1, 5 and 15 minute load averages (/proc/loadavg).
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if f := strings.Fields(string(b)); err == nil && len(f) >= 3 {
		return strings.Join(f[:3], " ")
	}
	return "unknown"
}

// coldCache and pinAfter are the -cold and -pin-after flags.
var (
	coldCache bool
	pinAfter  time.Duration
)

// dropCache writes the file's dirty pages and drops all of its pages from the page
// cache (posix_fadvise DONTNEED), so that the next start reads it from disk as after
// a reboot. The binary and the libraries stay cached.
func dropCache(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Sync(); err != nil {
		return err
	}
	if err := unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		return fmt.Errorf("drop %s from the page cache: %w", path, err)
	}
	return nil
}

// memory reads VmRSS and VmHWM of pid in bytes.
func memory(pid int) (rss, hwm int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = kb << 10
		case "VmHWM:":
			hwm = kb << 10
		}
	}
	if rss == 0 {
		return 0, 0, errors.New("no VmRSS in /proc status")
	}
	return rss, hwm, nil
}

// cpuTime is the user+system CPU time of pid (/proc/PID/stat, clock ticks of 10 ms).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	// Fields after the command name in parentheses: state is field 3, utime 14, stime 15.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * 10 * time.Millisecond, nil
}

// xdo runs xdotool on display.
func xdo(display string, args ...string) error {
	cmd := exec.Command("xdotool", args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+display)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("xdotool %s: %w: %s", strings.Join(args, " "), err, cmp.Or(strings.TrimSpace(string(out)), "no output"))
	}
	return nil
}
