package storage

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"

	"fieldoffice/cases"
)

// TestRandomCorruption overwrites bytes at random offsets of a vault file (fixed seed,
// a fresh copy per trial) and checks that Open, Unlock, Case, a full read, Cases and
// AuditVerify either return exactly the original data or an error — never a crash,
// never other data. The last mode opens as the app does, with the structure check's
// second stage in the background (Config.BackgroundCheck).
func TestRandomCorruption(t *testing.T) {
	tpm := newFakeTPM()
	cfg := testConfig(t, tpm)
	cfg.Logger = nil
	v := MustCreate(t, cfg, CreateOptions{})
	if err := v.AddUser("bob", pinBob); err != nil {
		t.Fatal(err)
	}
	var orig []*cases.Case
	for i := range 300 {
		// Some big values, so that there are overflow pages and branch pages.
		f := map[string]string{"i": fmt.Sprint(i), "text": fmt.Sprintf("%0*d", 50+(i%7)*900, i), "name": fmt.Sprintf("Name%d", i)}
		orig = append(orig, newCase(t, f))
	}
	putCases(t, v, orig...)
	mustClose(t, v)
	src := filepath.Join(cfg.Dir, FileName)
	pristine, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("vault file: %d bytes", len(pristine))

	for _, mode := range []string{"anywhere", "page headers and elements", "page headers, background check"} {
		t.Run(mode, func(t *testing.T) {
			c := cfg
			c.BackgroundCheck = mode == "page headers, background check" // the app's way to open
			corruptTrials(t, c, pristine, orig, mode == "anywhere")
		})
	}
}

func corruptTrials(t *testing.T, cfg Config, pristine []byte, orig []*cases.Case, anywhere bool) {
	rng := rand.New(rand.NewPCG(2026, 1))
	outcomes := map[string]int{}
	const trials = 100
	const pageSize = 4096
	for trial := range trials {
		data := append([]byte(nil), pristine...)
		n := 1 + rng.IntN(8)
		for range n {
			off := rng.IntN(len(data))
			if !anywhere { // the first 128 bytes of a page: header, meta, element headers
				off = rng.IntN(len(data)/pageSize)*pageSize + rng.IntN(128)
			}
			data[off] = byte(rng.IntN(256))
		}
		c := cfg
		c.Dir = t.TempDir()
		if err := os.WriteFile(filepath.Join(c.Dir, FileName), data, 0o600); err != nil {
			t.Fatal(err)
		}
		outcome := func() string {
			v, err := Open(c)
			if err != nil {
				return classify("open", err)
			}
			defer v.Close()
			v.Users() // what the unlock screen reads before the check is done
			v.Status()
			if err := v.Unlock("anna", pinAnna); err != nil {
				return classify("unlock", err)
			}
			for _, i := range []int{0, 150, 299} {
				r, err := v.Case(orig[i].ID)
				if err != nil {
					return classify("get", err)
				}
				if !reflect.DeepEqual(r, orig[i]) {
					t.Fatalf("trial %d: Case returned different data", trial)
				}
			}
			list, err := listCases(v)
			if err != nil {
				return classify("list", err)
			}
			if !reflect.DeepEqual(list, orig) {
				t.Fatalf("trial %d: full read returned different data (%d records)", trial, len(list))
			}
			sums, err := v.Cases(CaseQuery{})
			if err != nil {
				return classify("summaries", err)
			}
			if len(sums) != len(orig) {
				t.Fatalf("trial %d: Cases returned %d summaries", trial, len(sums))
			}
			for _, s := range sums {
				if !strings.HasPrefix(s.Applicant, "Name") || s.Status != "eingegangen" {
					t.Fatalf("trial %d: Cases returned different data", trial)
				}
			}
			if _, err := v.AuditVerify(); err != nil {
				return classify("audit", err)
			}
			return "intact"
		}()
		outcomes[outcome]++
	}
	var keys []string
	for k := range outcomes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%3d × %s", outcomes[k], k)
	}
}

func classify(op string, err error) string {
	var ce *CorruptError
	var te *TamperError
	var wp *WrongPINError
	var ae *AuditError
	switch {
	case errors.As(err, &ae):
		return op + ": audit chain broken"
	case errors.As(err, &ce):
		return op + ": corrupt"
	case errors.As(err, &te):
		return op + ": tampered"
	case errors.As(err, &wp):
		return op + ": wrong PIN"
	case errors.Is(err, ErrTPMRefused):
		return op + ": TPM refused"
	case errors.Is(err, ErrNotFound):
		return op + ": not found"
	case errors.Is(err, ErrUnknownUser):
		return op + ": unknown user"
	}
	return op + ": other: " + err.Error()
}
