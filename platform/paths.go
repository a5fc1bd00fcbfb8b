package platform

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
)

// DefaultDataDir returns the directory for FieldOffice's store and state:
//
//	Linux (and other Unix)  $XDG_DATA_HOME/fieldoffice, else ~/.local/share/fieldoffice
//	Windows                 %LOCALAPPDATA%\FieldOffice
//	macOS                   ~/Library/Application Support/FieldOffice
//
// It does not create the directory.
func DefaultDataDir() (string, error) {
	return dataDir(runtime.GOOS, os.Getenv, os.UserHomeDir)
}

// dataDir implements DefaultDataDir for goos with the given environment lookup.
func dataDir(goos string, getenv func(string) string, home func() (string, error)) (string, error) {
	switch goos {
	case "windows":
		if d := getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "FieldOffice"), nil
		}
		return "", fmt.Errorf("data directory: %%LOCALAPPDATA%% is not set")
	case "darwin", "ios":
		h, err := home()
		if err != nil {
			return "", fmt.Errorf("data directory: %w", err)
		}
		return filepath.Join(h, "Library", "Application Support", "FieldOffice"), nil
	}
	if d := getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "fieldoffice"), nil
	}
	h, err := home()
	if err != nil {
		return "", fmt.Errorf("data directory: %w (set XDG_DATA_HOME or HOME)", err)
	}
	return filepath.Join(h, ".local", "share", "fieldoffice"), nil
}
