package platform_test

import (
	"errors"
	"testing"

	"fieldoffice/platform"
)

// testCounters exercises the NV counter methods on tp.
func testCounters(t *testing.T, tp platform.TPM) {
	t.Helper()
	idx := platform.DefaultCounterIndex + 1
	if _, err := tp.CounterRead(idx); !errors.Is(err, platform.ErrNoCounter) {
		t.Fatalf("CounterRead(undefined) = %v, want ErrNoCounter", err)
	}
	if _, err := tp.CounterIncrement(idx); !errors.Is(err, platform.ErrNoCounter) {
		t.Fatalf("CounterIncrement(undefined) = %v, want ErrNoCounter", err)
	}
	v0, err := tp.CounterCreate(idx)
	if err != nil {
		t.Fatalf("CounterCreate: %v", err)
	}
	again, err := tp.CounterCreate(idx)
	if err != nil || again != v0 {
		t.Fatalf("CounterCreate(existing) = %d, %v; want %d", again, err, v0)
	}
	v1, err := tp.CounterIncrement(idx)
	if err != nil || v1 != v0+1 {
		t.Fatalf("CounterIncrement = %d, %v; want %d", v1, err, v0+1)
	}
	r, err := tp.CounterRead(idx)
	if err != nil || r != v1 {
		t.Fatalf("CounterRead = %d, %v; want %d", r, err, v1)
	}
	if _, err := tp.CounterCreate(0x81000001); err == nil {
		t.Error("CounterCreate(persistent object handle) succeeded")
	}
}
