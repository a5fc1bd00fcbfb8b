package server

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// Sentinel errors. Functions wrap them with %w; match them with [errors.Is]. No error
// carries a secret, a token or case content other than field names.
var (
	ErrNotInitialized     = errors.New("no portal in this directory (run `portald init --dir DIR`)")
	ErrAlreadyInitialized = errors.New("a portal already exists in this directory")
	ErrInUse              = errors.New("portal.db is in use by another process")
	ErrNotFound           = errors.New("not found")
	ErrInvalidInput       = errors.New("invalid input")
	ErrNoURL              = errors.New("no portal URL known: pass --url https://HOST:PORT (no `portald serve` has recorded one yet)")
	ErrInvalidToken       = errors.New("enrollment token unknown, already used or expired")
	ErrBadCSR             = errors.New("invalid certificate request")
	ErrSoftwareKey        = errors.New("the device policy does not allow software keys")
	ErrCursorAhead        = errors.New("cursor is ahead of the change feed")
	ErrUploadOffset       = errors.New("upload does not continue where the portal's copy ends")
	ErrHashMismatch       = errors.New("uploaded bytes do not match the SHA-256 address")
	ErrTooLarge           = errors.New("too large")
	ErrConflict           = errors.New("conflict")
	ErrServerClosed       = errors.New("portal server closed")
)

// ValidationError is an office edit (SetCaseFields, AssignCase) the portal refused: a
// German reason and, where the refusal is about values, a German message per field
// path. Nothing was written.
type ValidationError struct {
	Reason string            // why, in German
	Fields map[string]string // field path → message (German); may be empty
}

func (e *ValidationError) Error() string {
	var b strings.Builder
	b.WriteString("refused: ")
	b.WriteString(e.Reason)
	for _, k := range slices.Sorted(maps.Keys(e.Fields)) {
		fmt.Fprintf(&b, "; %s: %s", k, e.Fields[k])
	}
	return b.String()
}

// Is makes a *ValidationError match [ErrInvalidInput].
func (e *ValidationError) Is(target error) bool { return target == ErrInvalidInput }

// OffsetError is returned by a blob upload that does not start at the bytes the portal
// holds. It matches [ErrUploadOffset].
type OffsetError struct {
	Received int64 // bytes the portal holds; the upload must continue there
}

func (e *OffsetError) Error() string {
	return fmt.Sprintf("%v: the portal holds %d bytes", ErrUploadOffset, e.Received)
}

// Is makes an *OffsetError match [ErrUploadOffset].
func (e *OffsetError) Is(target error) bool { return target == ErrUploadOffset }
