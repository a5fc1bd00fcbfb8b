// Command fieldoffice is the FieldOffice client: the app (GUI) by default, and headless
// admin commands (init, status, user, recover, keygen-recovery, case) for scripts and
// MDMs. See README.md.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"

	"fieldoffice/app"
	"fieldoffice/cli"
	"fieldoffice/platform"
	_ "fieldoffice/platform/locale" // before Fyne reads the locale: see its doc
)

func main() {
	args := os.Args[1:]
	if len(args) > 0 && cli.IsCommand(args[0]) {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		code := cli.Run(ctx, cli.OSEnv(args))
		stop()
		os.Exit(code)
	}

	fs := flag.NewFlagSet("fieldoffice", flag.ContinueOnError)
	var cfg app.Config
	fs.StringVar(&cfg.DataDir, "data", os.Getenv("FIELDOFFICE_DATA"), "data directory (env FIELDOFFICE_DATA)")
	fs.StringVar(&cfg.TPMSpec, "tpm", os.Getenv("FIELDOFFICE_TPM"), "TPM spec (env FIELDOFFICE_TPM): auto, device[:PATH], mssim:HOST:PORT, sim:FILE, none")
	fs.Usage = func() {
		fmt.Fprintln(os.Stderr, "Usage: fieldoffice [--data DIR] [--tpm SPEC]   start the app")
		fmt.Fprintln(os.Stderr, "       fieldoffice help                         list the admin commands")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if err == flag.ErrHelp {
			os.Exit(cli.ExitOK)
		}
		os.Exit(cli.ExitUsage)
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "fieldoffice: unknown command %q (run 'fieldoffice help')\n", fs.Arg(0))
		os.Exit(cli.ExitUsage)
	}
	// The system configuration of a managed install fills what flags and env left open.
	if sys, err := platform.LoadSystemConfig(); err != nil {
		fmt.Fprintln(os.Stderr, "fieldoffice:", err)
		os.Exit(cli.ExitError)
	} else {
		cfg.DataDir = cmp.Or(cfg.DataDir, sys.DataDir)
		cfg.TPMSpec = cmp.Or(cfg.TPMSpec, sys.TPM)
	}
	if err := app.CheckDisplay(); err != nil {
		fmt.Fprintln(os.Stderr, "fieldoffice:", err)
		os.Exit(cli.ExitError)
	}
	a := fyneapp.NewWithID("de.fieldoffice.client")
	// SIGTERM (logout, MDM, `make demo` ending) quits like the window's close: the vault
	// is locked and closed cleanly.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() { <-sig; fyne.Do(a.Quit) }()
	os.Exit(app.Run(a, cfg))
}
