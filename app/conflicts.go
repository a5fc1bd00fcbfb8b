package app

// resolveConflicts shows the conflicts of case id, field by field (to be built).
func (u *UI) resolveConflicts(id string) {}
