package app

// showDevice shows the device screen (to be built).
func (u *UI) showDevice() {}
