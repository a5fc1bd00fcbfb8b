//go:build !cgo || fieldoffice_nosim

package platform

import (
	"errors"
	"path/filepath"
	"testing"
)

func TestSimNotBuilt(t *testing.T) {
	_, err := Open(Spec{Kind: KindSim, Path: filepath.Join(t.TempDir(), "seed")})
	if !errors.Is(err, ErrNotSupported) {
		t.Fatalf("Open(sim) without the simulator = %v, want ErrNotSupported", err)
	}
}
