// Package cases is the FieldOffice domain: the Vorgang (Case) a caseworker works on,
// the forms citizens fill in, the workflow a case moves through, and the field patches
// and three-way merge that let a device work for days offline and still agree with the
// portal afterwards. It is pure Go: no I/O, no storage, no GUI. Storage, sync and the
// app build on it; it depends on nothing of ours.
//
// # A case
//
// A Case is one application (Antrag) of one service type ("anmeldung",
// "gewerbeanmeldung", …). It carries the Aktenzeichen, the applicant (Antragsteller/in)
// with name and postal address, the form values, the workflow status, the assigned
// Sachbearbeiter/in, the Wiedervorlage (DueDate), notes (Vermerke), attachment
// references (Anlagen — the bytes live in the blob store, addressed by SHA-256), the
// portal's revision and local timestamps. Its JSON is snake_case and stable: storage and
// the portal keep it as is.
//
// New cases come from Schema.NewCase (fresh UUIDv7, status = the workflow's initial
// state). Lists show Summary values, never whole cases: Case.Summary gives the few
// fields a row needs.
//
// Form values are strings (Values), in a canonical stored form: dates "YYYY-MM-DD",
// numbers with a decimal point, checkboxes "true", multi-selects and file lists
// comma-separated, files and signatures as SHA-256 hex of their attachment. An address
// field "wohnung" is stored as its parts "wohnung.strasse", "wohnung.hausnummer",
// "wohnung.plz", "wohnung.ort" (and optionally "wohnung.zusatz", "wohnung.staat"), so
// each part can be searched, patched and merged on its own. An empty value is the same
// as no value.
//
// # Forms
//
// A form schema is data — JSON the portal delivers (samples in assets/forms). ParseSchema
// reads it and refuses a broken schema with a list of problems: unknown keys, unknown
// field types, duplicate names, selects without options, patterns that do not compile,
// visible_if conditions pointing nowhere or in a circle, workflow states that cannot be
// reached. A schema has sections of fields; each field has a type (text, multiline,
// number, date, select, multiselect, checkbox, email, phone, iban, address, file,
// signature), labels and help in German and English, and rules: required, min/max,
// min_length/max_length, pattern (with a pattern_hint for the message), options,
// not_in_future, visible_if, and searchable (the field goes into the blind index).
//
// Validation checks values against the schema:
//
//	msgs := schema.Validate(c.Values, "de", time.Now())
//	// msgs["neue_wohnung.plz"] == "Postleitzahl muss fünf Ziffern haben"
//
// It returns one message per wrong value key, in German or English, in the words an
// office uses. Hidden fields (visible_if false) are neither required nor checked. Users
// may type dates as TT.MM.JJJJ, numbers with a decimal comma and IBANs with spaces;
// Schema.Normalize turns values into the stored form before they are saved. ParseDate,
// FormatDate and ISODate convert between the German and the stored date forms; CheckIBAN
// checks ISO 13616 format, country length and the mod-97 checksum.
//
// # Workflow
//
// Each schema carries its service's Workflow: states (Eingegangen, In Bearbeitung,
// Rückfrage, Zurückgestellt, Entscheidung, Abgeschlossen, Abgelehnt, …) and transitions,
// each with the roles that may take it ("sachbearbeitung", "buergerbuero") and what the
// case needs to enter the target state: named fields valid and filled, case attributes
// (Aktenzeichen, Sachbearbeitung, Wiedervorlage, applicant) set, or the whole form valid.
//
//	if err := wf.Check(c, "rueckfrage", role, schema, now); err != nil {
//		var te *cases.TransitionError // te.Message("de"): "Für „Rückfrage“ fehlen oder sind ungültig: Wiedervorlage"
//	}
//	for _, ch := range wf.Allowed(c, role, schema, now) { /* a button per ch; disabled with ch.Reason */ }
//
// # Patches and merge
//
// Every local change is a Patch: a list of FieldChange{Field, Old, New} over field paths
// — "status", "due_date", "applicant.address.postcode", "values.neue_wohnung.plz",
// "notes.<id>", "attachments.<sha256>" ("" means absent; notes and attachments are
// whole JSON items, so lists merge as sets by ID). Diff computes a patch, Patch.Apply
// applies it compare-and-set per field (a field whose current value is neither Old nor
// New fails with a *MismatchError naming it, and nothing changes). This is what the
// outbox stores and what the portal applies.
//
// When the portal's copy (theirs) and the device's (mine) both moved on from the last
// agreed copy (base), Merge combines them per field: different fields merge silently,
// identical changes are no conflict, different changes to the same field become a
// Conflict and the merged case keeps the portal's value until the user chooses;
// Conflict.Resolve turns the choice into a new change. Additions to notes and
// attachments from both sides are kept; a deletion on one side wins unless the other
// side changed that item.
package cases
