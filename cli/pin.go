package cli

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"
)

// pinSource reads PINs for the CLI. In order of precedence a PIN comes from
//
//   - the environment (FIELDOFFICE_PIN for the PIN that unlocks, FIELDOFFICE_NEW_PIN for a
//     PIN being set) — meant for automation only;
//   - the terminal, without echo, when stdin is a terminal (a new PIN is asked twice);
//   - otherwise one line of stdin per PIN, in the order the command asks for them.
type pinSource struct {
	env    func(string) string
	stdin  io.Reader
	stderr io.Writer
	isTTY  bool
	fd     int
	lines  *bufio.Reader
}

func newPINSource(env func(string) string, stdin io.Reader, stderr io.Writer) *pinSource {
	p := &pinSource{env: env, stdin: stdin, stderr: stderr}
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		p.isTTY, p.fd = true, int(f.Fd())
	}
	return p
}

// current asks for the PIN that unlocks user's slot.
func (p *pinSource) current(user string) ([]byte, error) {
	if v := p.env("FIELDOFFICE_PIN"); v != "" {
		return []byte(v), nil
	}
	return p.read(fmt.Sprintf("PIN for %s: ", user))
}

// fresh asks for a new PIN for user (twice on a terminal).
func (p *pinSource) fresh(user string) ([]byte, error) {
	if v := p.env("FIELDOFFICE_NEW_PIN"); v != "" {
		return []byte(v), nil
	}
	pin, err := p.read(fmt.Sprintf("New PIN for %s (at least 6 digits): ", user))
	if err != nil || !p.isTTY {
		return pin, err
	}
	again, err := p.read("Repeat the new PIN: ")
	if err != nil {
		return nil, err
	}
	if string(again) != string(pin) {
		return nil, fmt.Errorf("%w: the two PINs differ, nothing was changed", errUsage)
	}
	return pin, nil
}

func (p *pinSource) read(prompt string) ([]byte, error) {
	if p.isTTY {
		fmt.Fprint(p.stderr, prompt)
		b, err := term.ReadPassword(p.fd)
		fmt.Fprintln(p.stderr)
		if err != nil {
			return nil, fmt.Errorf("read PIN from terminal: %w", err)
		}
		return b, nil
	}
	if p.lines == nil {
		p.lines = bufio.NewReader(p.stdin)
	}
	line, err := p.lines.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		if errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("%w: no PIN given: type it at a terminal, pipe it on stdin or set FIELDOFFICE_PIN", errUsage)
		}
		return nil, fmt.Errorf("read PIN from stdin: %w", err)
	}
	return []byte(strings.TrimRight(line, "\r\n")), nil
}
