package app

// locker locks the app on request and after the policy's idle minutes (to be built).
type locker struct{ u *UI }

func newLocker(u *UI) *locker { return &locker{u: u} }

// unlocked is called after every successful unlock.
func (l *locker) unlocked() {}

// lock ends the session, zeroes the keys and shows the unlock screen.
func (u *UI) lock() {
	s := u.sess
	u.sess = nil
	u.detail, u.list, u.capture = nil, nil, nil
	u.vlt.Lock() // keys zeroed now; a sync run in progress fails on the locked vault
	go s.end()
	u.showUnlock(tr("unlock.locked"))
}
