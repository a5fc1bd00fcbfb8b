package platform

import (
	"errors"
	"testing"
)

func TestParseSpec(t *testing.T) {
	tests := []struct {
		in   string
		want Spec
		bad  bool
	}{
		{in: "", want: Spec{Kind: KindAuto}},
		{in: "auto", want: Spec{Kind: KindAuto}},
		{in: "  auto ", want: Spec{Kind: KindAuto}},
		{in: "none", want: Spec{Kind: KindNone}},
		{in: "device", want: Spec{Kind: KindDevice}},
		{in: "device:/dev/tpm0", want: Spec{Kind: KindDevice, Path: "/dev/tpm0"}},
		{in: "mssim:127.0.0.1:2321", want: Spec{Kind: KindMSSim, Addr: "127.0.0.1:2321"}},
		{in: "mssim:localhost:2321", want: Spec{Kind: KindMSSim, Addr: "localhost:2321"}},
		{in: "sim:/tmp/x.seed", want: Spec{Kind: KindSim, Path: "/tmp/x.seed"}},
		{in: "sim:C:\\seed", want: Spec{Kind: KindSim, Path: "C:\\seed"}},
		{in: "auto:x", bad: true},
		{in: "none:x", bad: true},
		{in: "device:", bad: true},
		{in: "sim", bad: true},
		{in: "sim:", bad: true},
		{in: "mssim", bad: true},
		{in: "mssim:2321", bad: true},
		{in: "mssim:host:", bad: true},
		{in: "mssim:host:0", bad: true},
		{in: "mssim:host:65535", bad: true},
		{in: "mssim:host:x", bad: true},
		{in: "tpm", bad: true},
		{in: "AUTO", bad: true},
	}
	for _, tc := range tests {
		got, err := ParseSpec(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrBadSpec) {
				t.Errorf("ParseSpec(%q) = %+v, %v; want ErrBadSpec", tc.in, got, err)
			}
			continue
		}
		if err != nil || got != tc.want {
			t.Errorf("ParseSpec(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
			continue
		}
		// String round-trips.
		again, err := ParseSpec(got.String())
		if err != nil || again != got {
			t.Errorf("ParseSpec(%q.String() = %q) = %+v, %v", tc.in, got.String(), again, err)
		}
	}
}

func TestOpenNone(t *testing.T) {
	_, err := Open(Spec{Kind: KindNone})
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Open(none) = %v, want ErrNotSupported", err)
	}
}

func TestOpenDeviceMissing(t *testing.T) {
	_, err := Open(Spec{Kind: KindDevice, Path: t.TempDir() + "/no-tpm"})
	if err == nil {
		t.Fatal("Open(missing device) succeeded")
	}
	if !errors.Is(err, ErrNoTPM) && !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Open(missing device) = %v, want ErrNoTPM or ErrNotSupported", err)
	}
	t.Log(err)
}

func TestDataDir(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	home := func() (string, error) { return "/home/u", nil }
	tests := []struct {
		goos string
		env  map[string]string
		want string
	}{
		{"linux", nil, "/home/u/.local/share/fieldoffice"},
		{"linux", map[string]string{"XDG_DATA_HOME": "/xdg"}, "/xdg/fieldoffice"},
		{"linux", map[string]string{"XDG_DATA_HOME": "relative"}, "/home/u/.local/share/fieldoffice"},
		{"darwin", nil, "/home/u/Library/Application Support/FieldOffice"},
		{"windows", map[string]string{"LOCALAPPDATA": "/appdata"}, "/appdata/FieldOffice"},
	}
	for _, tc := range tests {
		got, err := dataDir(tc.goos, env(tc.env), home)
		if err != nil || got != tc.want {
			t.Errorf("dataDir(%s, %v) = %q, %v; want %q", tc.goos, tc.env, got, err, tc.want)
		}
	}
	if _, err := dataDir("windows", env(nil), home); err == nil {
		t.Error("dataDir(windows) without LOCALAPPDATA succeeded")
	}
}
