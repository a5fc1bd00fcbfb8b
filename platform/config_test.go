package platform

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSystemConfigPath(t *testing.T) {
	env := map[string]string{"ProgramData": `D:\PD`}
	get := func(k string) string { return env[k] }
	for goos, want := range map[string]string{
		"linux":   "/etc/fieldoffice/config.toml",
		"freebsd": "/etc/fieldoffice/config.toml",
		"darwin":  "/Library/Application Support/FieldOffice/config.toml",
		"windows": filepath.Join(`D:\PD`, "FieldOffice", "config.toml"),
	} {
		if got := systemConfigPath(goos, get); got != want {
			t.Errorf("%s: %q, want %q", goos, got, want)
		}
	}
}

func TestLoadSystemConfig(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "config.toml")
	t.Setenv("FIELDOFFICE_CONFIG", path)
	t.Setenv("USER", "mueller")

	if c, err := LoadSystemConfig(); err != nil || c != (SystemConfig{}) {
		t.Fatalf("missing file: %+v, %v", c, err)
	}
	write := func(s string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("portal_url = \"https://portal.example.org:8443\"\ntpm = \"none\"\ndata_dir = \"/var/lib/fo/%u\"\n")
	c, err := LoadSystemConfig()
	if err != nil || c.PortalURL != "https://portal.example.org:8443" || c.TPM != "none" || c.DataDir != "/var/lib/fo/mueller" || c.Path != path {
		t.Fatalf("config = %+v, %v", c, err)
	}
	for name, bad := range map[string]string{
		"syntax":  "portal_url = ",
		"unknown": "portl_url = \"x\"\n",
		"tpm":     "tpm = \"quantum\"\n",
	} {
		write(bad)
		if _, err := LoadSystemConfig(); err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: err = %v", name, err)
		}
	}
}
