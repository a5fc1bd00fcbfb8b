package storage

import (
	"bytes"
	"testing"

	"fieldoffice/cases"
)

// TestDraftBlobs: attachments of an application that was never saved are deleted at
// the next Unlock; attached ones, and content a case already has, stay.
func TestDraftBlobs(t *testing.T) {
	v, cfg := repoVault(t)
	c := newAnmeldung(t, v, "Schulz", "Eva", "Lindenstraße", "04109", "Leipzig")

	attached := genBytes(t, 1, 150_000)
	discarded := genBytes(t, 2, 200_000)
	shared := genBytes(t, 3, 70_000) // attached, then added to a draft again
	put := func(data []byte) BlobInfo {
		t.Helper()
		info, err := v.PutDraftBlob(bytes.NewReader(data), 0)
		if err != nil {
			t.Fatal(err)
		}
		return info
	}
	for _, data := range [][]byte{attached, shared} {
		info := put(data)
		if _, err := v.AddAttachment(c.ID, cases.AttachmentRef{SHA256: info.SHA256, Name: "Anlage.pdf", Size: info.Size}); err != nil {
			t.Fatal(err)
		}
	}
	put(shared)    // a draft of content the case has already
	put(discarded) // the draft is then discarded (lock)
	before := len(blobKeys(t, v))

	v.Lock()
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		data []byte
		kept bool
	}{{attached, true}, {shared, true}, {discarded, false}} {
		has, err := v.HasBlob(shaHex(tc.data))
		if err != nil || has != tc.kept {
			t.Errorf("blob of %d bytes: stored %v (%v), want %v", len(tc.data), has, err, tc.kept)
		}
		if tc.kept {
			if got, err := readBlob(t, v, shaHex(tc.data)); err != nil || !bytes.Equal(got, tc.data) {
				t.Errorf("blob of %d bytes does not read back: %v", len(tc.data), err)
			}
		}
	}
	after := blobKeys(t, v)
	if len(after) >= before {
		t.Errorf("blob keys: %d before, %d after", before, len(after))
	}
	for _, k := range after {
		if bytes.HasPrefix([]byte(k), blobPrefixDraft) {
			t.Errorf("draft mark left: %q", k)
		}
	}

	// A download (PutBlob) of content that is a draft makes it stay.
	again := genBytes(t, 4, 10_000)
	put(again)
	if _, err := v.PutBlob(bytes.NewReader(again), 0); err != nil {
		t.Fatal(err)
	}
	mustClose(t, v)
	v = MustOpen(t, cfg)
	if err := v.Unlock("anna", pinAnna); err != nil {
		t.Fatal(err)
	}
	if has, _ := v.HasBlob(shaHex(again)); !has {
		t.Error("content stored by PutBlob after its draft was deleted at Unlock")
	}
}
