package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"fieldoffice/portal"
	"fieldoffice/portal/server"
)

// lockedBuffer is an io.Writer shared by a running serve and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// portald runs one command line in-process.
func portald(t *testing.T, dir string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	getenv := func(k string) string {
		if k == "PORTALD_DIR" {
			return dir
		}
		return ""
	}
	code = run(context.Background(), args, &out, &errb, getenv)
	return code, out.String(), errb.String()
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{nil, exitUsage},
		{[]string{"help"}, exitOK},
		{[]string{"frobnicate"}, exitUsage},
		{[]string{"version"}, exitOK},
		{[]string{"version", "x"}, exitUsage},
		{[]string{"token"}, exitUsage},
		{[]string{"token", "create"}, exitUsage}, // no --office
		{[]string{"case", "set", "id"}, exitUsage},
		{[]string{"case", "set", "id", "novalue"}, exitUsage},
		{[]string{"seed"}, exitUsage},
		{[]string{"policy", "frob"}, exitUsage},
		{[]string{"serve", "--bogus"}, exitUsage},
		{[]string{"device", "list"}, exitError}, // no portal in the directory
	} {
		if code, _, stderr := portald(t, t.TempDir(), tc.args...); code != tc.code {
			t.Errorf("portald %v: exit %d, want %d: %s", tc.args, code, tc.code, stderr)
		}
	}
	if code, _, stderr := portald(t, "", "device", "list"); code != exitUsage || !strings.Contains(stderr, "--dir") {
		t.Errorf("without --dir: %d %s", code, stderr)
	}
}

func TestCommands(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "portal")
	code, out, stderr := portald(t, dir, "init", "--hosts", "portal.example")
	if code != exitOK || !regexp.MustCompile(`CA SHA-256: [0-9a-f]{64}`).MatchString(out) {
		t.Fatalf("init: %d %s %s", code, out, stderr)
	}
	if code, _, _ := portald(t, dir, "init"); code != exitError {
		t.Errorf("second init: %d", code)
	}
	// Without a server: the store directly.
	if code, _, stderr := portald(t, dir, "token", "create", "--office", "Bürgerbüro"); code != exitError || !strings.Contains(stderr, "--url") {
		t.Errorf("token without URL: %d %s", code, stderr)
	}
	if code, out, _ := portald(t, dir, "seed", "--cases", "12", "--seed", "4"); code != exitOK || !strings.Contains(out, "12 demo cases") {
		t.Fatalf("seed: %d %s", code, out)
	}
	code, out, _ = portald(t, dir, "case", "list", "--json")
	var list []server.CaseInfo
	if code != exitOK || json.Unmarshal([]byte(out), &list) != nil || len(list) != 12 {
		t.Fatalf("case list: %d %s", code, out)
	}
	id := list[0].ID
	if code, out, _ := portald(t, dir, "case", "show", id); code != exitOK || !strings.Contains(out, list[0].Aktenzeichen) {
		t.Errorf("case show: %d %s", code, out)
	}
	if code, _, stderr := portald(t, dir, "case", "set", id, "due_date=99.99.2026"); code != exitError || !strings.Contains(stderr, "gültiges Datum") {
		t.Errorf("case set invalid: %d %s", code, stderr)
	}
	if code, out, _ := portald(t, dir, "case", "set", id, "due_date=01.12.2026", "--json"); code != exitOK || !strings.Contains(out, `"due_date": "2026-12-01"`) {
		t.Errorf("case set: %d %s", code, out)
	}
	if code, out, _ := portald(t, dir, "policy", "set", "allow_software_keys=true", "max_offline_days=5"); code != exitOK || !regexp.MustCompile(`version\s+2\n`).MatchString(out) {
		t.Errorf("policy set: %d %s", code, out)
	}
	if code, _, _ := portald(t, dir, "policy", "set", "bogus=1"); code != exitError {
		t.Errorf("policy set bogus: %d", code)
	}

	// With a server: the same commands go through the admin socket.
	var serveOut, serveErr lockedBuffer
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	getenv := func(string) string { return "" }
	go func() {
		done <- run(ctx, []string{"serve", "--dir", dir, "--listen", "127.0.0.1:0"}, &serveOut, &serveErr, getenv)
	}()
	urlRe := regexp.MustCompile(`portal on (https://127\.0\.0\.1:\d+)`)
	deadline := time.Now().Add(5 * time.Second)
	for !urlRe.MatchString(serveOut.String()) {
		if time.Now().After(deadline) {
			t.Fatalf("serve did not start: %s %s", serveOut.String(), serveErr.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	url := urlRe.FindStringSubmatch(serveOut.String())[1]
	code, out, stderr = portald(t, dir, "token", "create", "--office", "Bürgerbüro Nord", "--ttl", "2h")
	tok, err := portal.ParseToken(strings.TrimSpace(out))
	if code != exitOK || err != nil || tok.URL != url || !strings.Contains(stderr, "Bürgerbüro Nord") {
		t.Fatalf("token create while serving: %d %v %q %s", code, err, out, stderr)
	}
	if code, out, _ := portald(t, dir, "case", "assign", id, "m.schulz"); code != exitOK || !strings.Contains(out, "revision 3") {
		t.Errorf("case assign: %d %s", code, out)
	}
	if code, out, _ := portald(t, dir, "device", "list"); code != exitOK || !strings.Contains(out, "ID") {
		t.Errorf("device list: %d %s", code, out)
	}
	if code, _, stderr := portald(t, dir, "device", "revoke", "nope"); code != exitError || !strings.Contains(stderr, "not found") {
		t.Errorf("device revoke unknown: %d %s", code, stderr)
	}
	cancel()
	if code := <-done; code != exitOK {
		t.Fatalf("serve: exit %d: %s", code, serveErr.String())
	}
	if strings.Contains(serveErr.String(), tok.Secret) {
		t.Error("the token secret is in the server's log")
	}
}
