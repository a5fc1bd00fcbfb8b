package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// mark is one timing line of the app: "fieldoffice-measure <unix-ns> <event> [n]".
type mark struct {
	at    time.Time
	event string
	n     int
}

// app is the running fieldoffice binary.
type app struct {
	cmd     *exec.Cmd
	display string
	started time.Time
	win     string // X window id, once known
	marks   chan mark
	exited  chan struct{}

	mu   sync.Mutex
	tail []string // the last lines of stderr that are not marks, for errors
}

// startApp starts the app on data directory dir, with FIELDOFFICE_MEASURE=1 and its
// preferences under home.
func startApp(bin, dir, home, display string) (*app, error) {
	if err := os.MkdirAll(home, 0o700); err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--data", dir, "--tpm", "none")
	cmd.Env = append(os.Environ(), "DISPLAY="+display, "HOME="+home, "FIELDOFFICE_MEASURE=1",
		"LANG=C.UTF-8", "LC_ALL=C.UTF-8", "FIELDOFFICE_CONFIG="+filepath.Join(home, "none.toml"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return nil, err
	}
	a := &app{cmd: cmd, display: display, marks: make(chan mark, 64), exited: make(chan struct{})}
	a.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	go a.read(stderr)
	return a, nil
}

// read parses the app's stderr until it closes.
func (a *app) read(r interface{ Read([]byte) (int, error) }) {
	defer close(a.exited)
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) >= 3 && f[0] == "fieldoffice-measure" {
			ns, err := strconv.ParseInt(f[1], 10, 64)
			if err == nil {
				m := mark{at: time.Unix(0, ns), event: f[2]}
				if len(f) > 3 {
					m.n, _ = strconv.Atoi(f[3])
				}
				select {
				case a.marks <- m:
				default: // nobody waits for it
				}
				continue
			}
		}
		a.mu.Lock()
		a.tail = append(a.tail, line)
		if len(a.tail) > 400 { // room for a goroutine dump (close)
			a.tail = a.tail[1:]
		}
		a.mu.Unlock()
	}
}

// wait returns the next mark of event (earlier marks of other events are skipped).
func (a *app) wait(event string, timeout time.Duration) (mark, error) {
	return a.waitFor(event, timeout, func(mark) bool { return true })
}

// waitListed waits for the case list showing cases.
func (a *app) waitListed(timeout time.Duration) (mark, error) {
	return a.waitFor("list-shown", timeout, func(m mark) bool { return m.n > 0 })
}

func (a *app) waitFor(event string, timeout time.Duration, ok func(mark) bool) (mark, error) {
	deadline := time.After(timeout)
	for {
		select {
		case m := <-a.marks:
			if m.event == event && ok(m) {
				return m, nil
			}
		case <-a.exited:
			return mark{}, fmt.Errorf("the app exited before %s:\n%s", event, a.stderrTail())
		case <-deadline:
			return mark{}, fmt.Errorf("no %s within %s (does the app have the FIELDOFFICE_MEASURE hooks?):\n%s", event, timeout, a.stderrTail())
		}
	}
}

// stderrTail returns the last 20 lines of stderr that were not marks.
func (a *app) stderrTail() string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return strings.Join(a.tail[max(0, len(a.tail)-20):], "\n")
}

// window finds the app's X window.
func (a *app) window() (string, error) {
	if a.win != "" {
		return a.win, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "xdotool", "search", "--sync", "--onlyvisible", "--name", "^FieldOffice")
	cmd.Env = append(os.Environ(), "DISPLAY="+a.display)
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("find the app window: %w", err)
	}
	a.win = strings.Fields(string(out) + " ")[0]
	return a.win, nil
}

// geometry returns the window's size.
func (a *app) geometry(win string) (w, h int, err error) {
	cmd := exec.Command("xdotool", "getwindowgeometry", "--shell", win)
	cmd.Env = append(os.Environ(), "DISPLAY="+a.display)
	out, err := cmd.Output()
	if err != nil {
		return 0, 0, fmt.Errorf("window geometry: %w", err)
	}
	for _, line := range strings.Split(string(out), "\n") {
		k, v, _ := strings.Cut(line, "=")
		n, _ := strconv.Atoi(v)
		switch k {
		case "WIDTH":
			w = n
		case "HEIGHT":
			h = n
		}
	}
	if w == 0 || h == 0 {
		return 0, 0, errors.New("window geometry: no size")
	}
	return w, h, nil
}

// scrollCost returns the app's CPU milliseconds per mouse-wheel step over the middle
// of the window (the case list), less what it spends idle in the same time.
func (a *app) scrollCost(win string, steps int) (float64, error) {
	w, h, err := a.geometry(win)
	if err != nil {
		return 0, err
	}
	if err := xdo(a.display, "mousemove", "--window", win, strconv.Itoa(w/2), strconv.Itoa(h/2)); err != nil {
		return 0, err
	}
	pid := a.cmd.Process.Pid
	quiet(pid)
	const delayMS = 10
	settle := 300 * time.Millisecond
	span := time.Duration(steps*delayMS)*time.Millisecond + settle

	c0, err := cpuTime(pid)
	if err != nil {
		return 0, err
	}
	time.Sleep(span)
	c1, _ := cpuTime(pid)
	idle := c1 - c0

	start := time.Now()
	c2, _ := cpuTime(pid)
	// Button 5 is the wheel down.
	if err := xdo(a.display, "click", "--repeat", strconv.Itoa(steps), "--delay", strconv.Itoa(delayMS), "5"); err != nil {
		return 0, err
	}
	time.Sleep(max(settle, span-time.Since(start)))
	c3, _ := cpuTime(pid)
	busy := c3 - c2
	// The wall time of the scroll part may exceed span; scale the idle share to it.
	idleScaled := time.Duration(float64(idle) * float64(time.Since(start)) / float64(span))
	fmt.Fprintf(os.Stderr, "measure:   scroll: %d steps, CPU %v busy, %v idle in %v\n", steps, busy, idleScaled, span)
	return max(0, float64(busy-idleScaled)/float64(time.Millisecond)/float64(steps)), nil
}

// quiet waits until pid uses at most 25 % of a core over half a second (at most 10 s):
// the list's first frames and any background work are over (a blinking cursor stays).
func quiet(pid int) {
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		c0, err := cpuTime(pid)
		if err != nil {
			return
		}
		time.Sleep(500 * time.Millisecond)
		if c1, _ := cpuTime(pid); c1-c0 <= 125*time.Millisecond {
			return
		}
	}
}

// close asks the window to close (as a window manager does), so the app locks and
// closes its vault cleanly; it kills the app when that takes more than 15 s.
func (a *app) close() {
	if a.win != "" {
		if err := closeWindow(a.display, a.win); err != nil {
			fmt.Fprintln(os.Stderr, "measure:", err)
		}
	} else {
		_ = a.cmd.Process.Signal(os.Interrupt)
	}
	done := make(chan struct{})
	go func() {
		_ = a.cmd.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(15 * time.Second):
		// SIGQUIT makes the Go runtime print every goroutine's stack: where it hangs.
		_ = a.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			_ = a.cmd.Process.Kill()
			<-done
		}
		<-a.exited
		dump := filepath.Join(os.TempDir(), fmt.Sprintf("fieldoffice-measure-hang-%d.txt", a.cmd.Process.Pid))
		a.mu.Lock()
		_ = os.WriteFile(dump, []byte(strings.Join(a.tail, "\n")), 0o600)
		a.mu.Unlock()
		fmt.Fprintln(os.Stderr, "measure: the app did not quit within 15 s; stopped it (the next start checks the vault); its stacks:", dump)
	}
}
