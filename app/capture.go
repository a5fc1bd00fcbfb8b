package app

// capture is the new-application flow (to be built: service, form, documents,
// signature, save).
type capture struct{}

// newApplication starts capturing a new application.
func (u *UI) newApplication() {}
