package platform

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"github.com/BurntSushi/toml"
)

// SystemConfig is the system-wide configuration of a managed install, written by
// the MDM or the installer:
//
//	Linux (and other Unix)  /etc/fieldoffice/config.toml
//	Windows                 %ProgramData%\FieldOffice\config.toml
//	macOS                   /Library/Application Support/FieldOffice/config.toml
//
// (FIELDOFFICE_CONFIG names another file, for tests and special installs.) Every
// setting is optional. The environment (FIELDOFFICE_DATA, FIELDOFFICE_TPM) overrides
// the file, and command-line flags override both.
//
//	# /etc/fieldoffice/config.toml
//	portal_url = "https://portal.example.org:8443"  # enrollment tokens for other portals are refused
//	tpm = "auto"                                     # TPM spec: auto, device[:PATH], mssim:HOST:PORT, none
//	data_dir = "/var/lib/fieldoffice/%u"             # %u = the user's login name
type SystemConfig struct {
	PortalURL string `toml:"portal_url"`
	TPM       string `toml:"tpm"`
	DataDir   string `toml:"data_dir"`

	Path string `toml:"-"` // the file it was read from ("" when there is none)
}

// SystemConfigPath returns where the system configuration is looked for.
func SystemConfigPath() string {
	if p := os.Getenv("FIELDOFFICE_CONFIG"); p != "" {
		return p
	}
	return systemConfigPath(runtime.GOOS, os.Getenv)
}

func systemConfigPath(goos string, getenv func(string) string) string {
	switch goos {
	case "windows":
		d := getenv("ProgramData")
		if d == "" {
			d = `C:\ProgramData`
		}
		return filepath.Join(d, "FieldOffice", "config.toml")
	case "darwin", "ios":
		return "/Library/Application Support/FieldOffice/config.toml"
	}
	return "/etc/fieldoffice/config.toml"
}

// LoadSystemConfig reads the system configuration. A missing file is no error (the
// zero config); a file that does not parse, or names an unknown setting, is — with
// the file and what is wrong, so the admin can fix it.
func LoadSystemConfig() (SystemConfig, error) {
	path := SystemConfigPath()
	var c SystemConfig
	md, err := toml.DecodeFile(path, &c)
	switch {
	case errors.Is(err, os.ErrNotExist):
		return SystemConfig{}, nil
	case err != nil:
		return SystemConfig{}, fmt.Errorf("system configuration %s: %w", path, err)
	}
	if un := md.Undecoded(); len(un) > 0 {
		return SystemConfig{}, fmt.Errorf("system configuration %s: unknown setting %q (known: portal_url, tpm, data_dir)", path, un[0].String())
	}
	if c.TPM != "" {
		if _, err := ParseSpec(c.TPM); err != nil {
			return SystemConfig{}, fmt.Errorf("system configuration %s: tpm: %w", path, err)
		}
	}
	c.DataDir = expandUser(c.DataDir)
	c.Path = path
	return c, nil
}

// expandUser replaces %u with the login name.
func expandUser(dir string) string {
	if dir == "" {
		return ""
	}
	name := os.Getenv("USER")
	if name == "" {
		name = os.Getenv("USERNAME")
	}
	out := make([]byte, 0, len(dir))
	for i := 0; i < len(dir); i++ {
		if dir[i] == '%' && i+1 < len(dir) && dir[i+1] == 'u' {
			out = append(out, name...)
			i++
			continue
		}
		out = append(out, dir[i])
	}
	return string(out)
}
