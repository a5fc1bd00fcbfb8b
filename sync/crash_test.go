package sync_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"fieldoffice/assets"
	"fieldoffice/cases"
	"fieldoffice/cli"
	"fieldoffice/storage"
	scrypto "fieldoffice/storage/crypto"
)

// TestMain lets the test binary play the fieldoffice CLI in a child process
// (FIELDOFFICE_TEST_CLI=1): the crash test kills it with SIGKILL.
func TestMain(m *testing.M) {
	if os.Getenv("FIELDOFFICE_TEST_CLI") == "1" {
		args := strings.Split(os.Getenv("FIELDOFFICE_TEST_ARGS"), "\x1f")
		os.Exit(cli.Run(context.Background(), cli.OSEnv(args)))
	}
	os.Exit(m.Run())
}

// killAfter is when to kill run i: the first three runs are not killed (they
// measure how long a run takes); then a random moment within one and a half runs.
func killAfter(rnd *rand.Rand, i int, runTime time.Duration) time.Duration {
	if i < 3 || runTime == 0 {
		return time.Minute
	}
	return time.Duration(rnd.Int64N(int64(runTime) * 3 / 2))
}

// TestCrashDuringSync: 200 sync runs of the real CLI (`fieldoffice sync`), each
// killed with SIGKILL at a random moment, with local edits acknowledged to the user
// (committed) in between. Afterwards one clean sync must leave every acknowledged
// edit on the portal exactly once and device and portal equal.
func TestCrashDuringSync(t *testing.T) {
	runs := 200
	if testing.Short() {
		runs = 30
	}
	p := startPortal(t)
	if _, err := p.store().Seed(40, 21); err != nil {
		t.Fatal(err)
	}
	d := enrollDevice(t, p, p.url())
	d.sync()
	list, err := d.vault.Cases(storage.CaseQuery{Sort: "aktenzeichen"})
	if err != nil {
		t.Fatal(err)
	}
	d.vault.Close()

	rnd := rand.New(rand.NewPCG(42, 42))
	notes := map[string]string{}  // note text → case ID: acknowledged
	phones := map[string]string{} // case ID → last acknowledged telefon
	kills, finished := 0, 0
	// The kill comes at a random moment within the time a whole run takes (learned
	// from the runs that finished), so it falls in every phase: start, unlock, pull,
	// upload, push, recording the answers.
	runTime := time.Duration(0)
	reached := 0 // killed runs whose note had reached the portal: the kill came late
	open := func() *storage.Vault {
		v, err := storage.Open(storage.Config{Dir: d.dir, KDF: scrypto.KDFParams{Time: 1, MemoryKiB: 1024, Threads: 1}})
		if err != nil {
			t.Fatal(err)
		}
		if err := v.Unlock("anna", []byte("135790")); err != nil {
			t.Fatal(err)
		}
		v.SetForms(assets.Schemas{})
		return v
	}
	for i := range runs {
		// Local work, acknowledged when the call returns.
		v := open()
		c := list[rnd.IntN(len(list))]
		text := fmt.Sprintf("Vermerk aus Lauf %d", i)
		if _, err := v.AddNote(c.ID, text); err != nil {
			t.Fatal(err)
		}
		notes[text] = c.ID
		if i%3 == 0 {
			c2 := list[rnd.IntN(len(list))]
			phone := fmt.Sprintf("0345 %07d", i)
			if _, err := v.SetFields(c2.ID, map[string]string{"telefon": phone}); err != nil {
				t.Fatal(err)
			}
			phones[c2.ID] = phone
		}
		if err := v.Close(); err != nil {
			t.Fatal(err)
		}

		// A sync in a child process, killed at a random point.
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "FIELDOFFICE_TEST_CLI=1",
			"FIELDOFFICE_TEST_ARGS="+strings.Join([]string{"sync", "--data", d.dir}, "\x1f"),
			"FIELDOFFICE_PIN=135790", "FIELDOFFICE_USER=anna")
		start := time.Now()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		select {
		case <-time.After(killAfter(rnd, i, runTime)):
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-exited
			kills++
			if pc, err := p.store().Case(c.ID); err == nil && slices.ContainsFunc(pc.Notes, func(n cases.Note) bool { return n.Text == text }) {
				reached++
			}
		case err := <-exited:
			if err != nil {
				t.Fatalf("run %d: sync failed on its own: %v", i, err)
			}
			finished++
			if runTime == 0 {
				runTime = time.Since(start)
			}
			runTime = (runTime*3 + time.Since(start)) / 4
		}
	}
	t.Logf("%d runs (a whole run takes ~%v): %d killed — %d after their change had reached the portal — and %d finished before the kill",
		runs, runTime.Round(time.Millisecond), kills, reached, finished)
	if kills < runs/3 || reached == 0 || reached == kills {
		t.Errorf("the kills do not spread over the run: %d killed, %d after the push", kills, reached)
	}

	d.vault = open()
	d.connect(p.url())
	d.syncUntilDone()
	converged(t, p, d)
	for text, id := range notes {
		pc, err := p.store().Case(id)
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, note := range pc.Notes {
			if note.Text == text {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("acknowledged note %q is %d times on the portal", text, n)
		}
	}
	for id, phone := range phones {
		if pc, _ := p.store().Case(id); pc.Values["telefon"] != phone {
			t.Fatalf("case %s: telefon on the portal %q, acknowledged %q", id, pc.Values["telefon"], phone)
		}
	}
	if _, err := d.vault.AuditVerify(); err != nil {
		t.Fatalf("audit trail after %d kills: %v", kills, err)
	}
}
