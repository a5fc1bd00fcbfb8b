package app

// caseDetail is one case on screen (to be built: form, workflow, notes, attachments,
// history).
type caseDetail struct{}

func (d *caseDetail) visible() bool { return false }
func (d *caseDetail) reload()       {}

// openCase shows case id.
func (u *UI) openCase(id string) {}
