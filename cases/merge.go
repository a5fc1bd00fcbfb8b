package cases

// Conflict is a field both sides changed, to different values. Values are as in
// FieldChange ("" = absent; notes and attachments as JSON).
type Conflict struct {
	Field  string `json:"field"`
	Base   string `json:"base"`   // the value both started from
	Mine   string `json:"mine"`   // the local value
	Theirs string `json:"theirs"` // the portal's value, which the merged case holds for now
}

// Resolve returns the change that settles the conflict with the chosen value (mine,
// theirs or something else the user typed): applied to the merged case, it becomes a new
// local op.
func (c Conflict) Resolve(value string) FieldChange {
	return FieldChange{Field: c.Field, Old: c.Theirs, New: value}
}

// Merge merges two descendants of base three ways, per field: mine is the local copy,
// theirs the portal's. The merged case starts from theirs (its Revision, its untouched
// fields) and takes each of mine's changes (Diff(base, mine)) unless theirs changed the
// same field:
//
//   - changes to different fields merge silently;
//   - the same field changed to the same value is no conflict;
//   - the same field changed to different values (including one side removing it) is a
//     Conflict; the merged case keeps theirs for that field until the user resolves it
//     with Conflict.Resolve, which yields a new op against the merged case.
//
// Notes and attachments merge as sets keyed by ID and SHA-256: additions from both
// sides are kept; an item one side deleted stays deleted when the other side did not
// change it; an item one side changed and the other deleted is a conflict. Form values
// merge the same way per key; removing a value is a change like any other.
//
// A nil base counts as an empty case. Updated becomes the later of mine and theirs.
func Merge(base, mine, theirs *Case) (merged *Case, conflicts []Conflict) {
	merged = theirs.Clone()
	theirChanges := map[string]FieldChange{}
	for _, ch := range Diff(base, theirs) {
		theirChanges[ch.Field] = ch
	}
	for _, ch := range Diff(base, mine) {
		if t, both := theirChanges[ch.Field]; both {
			if t.New != ch.New {
				conflicts = append(conflicts, Conflict{Field: ch.Field, Base: ch.Old, Mine: ch.New, Theirs: t.New})
			}
			continue
		}
		// Theirs did not touch the field, so it still holds base's value: take mine's.
		// Set fails only for a malformed value of mine (a due date not in ISO form, a
		// broken note): then the user decides, as for a conflict.
		if err := merged.Set(ch.Field, ch.New); err != nil {
			conflicts = append(conflicts, Conflict{Field: ch.Field, Base: ch.Old, Mine: ch.New, Theirs: ch.Old})
		}
	}
	if mine.Updated.After(merged.Updated) {
		merged.Updated = mine.Updated
	}
	return merged, conflicts
}
