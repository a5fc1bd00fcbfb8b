// Package tpmtest gives tests in other packages a TPM to work with: the in-process
// simulator (SimSpec) or a swtpm process (StartSWTPM).
//
// The in-process simulator is a singleton: tests that open it must not run in
// parallel with each other (no t.Parallel), and must Close it before the next Open.
package tpmtest

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"fieldoffice/platform"
)

// SimSpec returns a spec for the in-process simulator with a fresh seed file in
// t.TempDir(). Each call gives a different TPM (a different seed).
func SimSpec(t testing.TB) platform.Spec {
	t.Helper()
	return platform.Spec{Kind: platform.KindSim, Path: filepath.Join(t.TempDir(), "sim.seed")}
}

// StartSWTPM starts swtpm on a free pair of loopback ports with its state in
// t.TempDir() and returns its mssim spec; t.Cleanup stops it. It skips the test when
// swtpm is not installed.
func StartSWTPM(t testing.TB) platform.Spec {
	t.Helper()
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		t.Skip("swtpm not installed: apt-get install swtpm swtpm-tools")
	}
	dir := t.TempDir()
	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port, err := freePortPair()
		if err != nil {
			t.Fatalf("find free ports for swtpm: %v", err)
		}
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
		cmd := exec.Command(bin, "socket", "--tpm2",
			"--server", fmt.Sprintf("type=tcp,bindaddr=127.0.0.1,port=%d", port),
			"--ctrl", fmt.Sprintf("type=tcp,bindaddr=127.0.0.1,port=%d", port+1),
			"--tpmstate", "dir="+dir,
			"--flags", "not-need-init")
		cmd.Stdout = os.Stderr
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatalf("start swtpm: %v", err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		if err := waitListening(addr, exited); err != nil {
			_ = cmd.Process.Kill()
			lastErr = err
			continue
		}
		t.Cleanup(func() {
			_ = cmd.Process.Kill()
			<-exited
		})
		return platform.Spec{Kind: platform.KindMSSim, Addr: addr}
	}
	t.Fatalf("swtpm did not start: %v", lastErr)
	return platform.Spec{}
}

// freePortPair finds a port P such that P and P+1 are free on 127.0.0.1.
func freePortPair() (int, error) {
	for i := 0; i < 50; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, err
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+1)))
		_ = l.Close()
		if err == nil {
			_ = l2.Close()
			return p, nil
		}
	}
	return 0, errors.New("no free pair of adjacent ports")
}

// waitListening waits until addr accepts connections, swtpm exits, or 10 s pass.
func waitListening(addr string, exited <-chan error) error {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("swtpm exited: %v", err)
		default:
		}
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			_ = c.Close()
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("swtpm not listening on %s after 10s", addr)
}
