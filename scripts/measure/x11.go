package main

/*
#cgo LDFLAGS: -lX11
#include <stdlib.h>
#include <X11/Xlib.h>

// close_window sends WM_DELETE_WINDOW to win, as a window manager's close button does.
static int close_window(const char *display, unsigned long win) {
	Display *d = XOpenDisplay(display);
	if (d == NULL) {
		return 1;
	}
	XEvent ev = {0};
	ev.xclient.type = ClientMessage;
	ev.xclient.window = (Window)win;
	ev.xclient.message_type = XInternAtom(d, "WM_PROTOCOLS", False);
	ev.xclient.format = 32;
	ev.xclient.data.l[0] = XInternAtom(d, "WM_DELETE_WINDOW", False);
	ev.xclient.data.l[1] = CurrentTime;
	XSendEvent(d, (Window)win, False, NoEventMask, &ev);
	XFlush(d);
	XCloseDisplay(d);
	return 0;
}
*/
import "C"

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"
	"unsafe"
)

// xvfb is a virtual X display of our own.
type xvfb struct {
	display string
	cmd     *exec.Cmd
}

// startXvfb starts Xvfb on the first free display from :150 (1280x800, 24 bit).
func startXvfb() (*xvfb, error) {
	for n := 150; n < 250; n++ {
		if exists(fmt.Sprintf("/tmp/.X11-unix/X%d", n)) || exists(fmt.Sprintf("/tmp/.X%d-lock", n)) {
			continue
		}
		d := ":" + strconv.Itoa(n)
		cmd := exec.Command("Xvfb", d, "-screen", "0", "1280x800x24", "-nolisten", "tcp")
		if err := cmd.Start(); err != nil {
			return nil, fmt.Errorf("start Xvfb: %w", err)
		}
		for range 100 {
			if exists(fmt.Sprintf("/tmp/.X11-unix/X%d", n)) {
				return &xvfb{display: d, cmd: cmd}, nil
			}
			time.Sleep(50 * time.Millisecond)
		}
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		return nil, errors.New("Xvfb did not come up within 5 s")
	}
	return nil, errors.New("no free X display between :150 and :249")
}

func (x *xvfb) stop() {
	_ = x.cmd.Process.Signal(syscall.SIGTERM)
	_ = x.cmd.Wait()
}

func exists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// closeWindow asks X window win (decimal id) on display to close.
func closeWindow(display, win string) error {
	id, err := strconv.ParseUint(win, 10, 64)
	if err != nil {
		return fmt.Errorf("window id %q: %w", win, err)
	}
	cd := C.CString(display)
	defer C.free(unsafe.Pointer(cd))
	if C.close_window(cd, C.ulong(id)) != 0 {
		return fmt.Errorf("cannot open X display %s", display)
	}
	return nil
}
