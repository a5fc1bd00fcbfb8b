package cli

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"fieldoffice/storage"
	"fieldoffice/storage/crypto"
)

func cmdUser(ctx context.Context, c *ctxt, args []string) error {
	if len(args) == 0 {
		return fmt.Errorf("%w: fieldoffice user list | add NAME | remove NAME | passwd [NAME] | reset NAME", errUsage)
	}
	sub, args := args[0], args[1:]
	switch sub {
	case "list":
		return userList(c, args)
	case "add", "remove", "reset":
		return userChange(c, sub, args)
	case "passwd":
		return userPasswd(c, args)
	}
	return fmt.Errorf("%w: unknown user command %q (list, add, remove, passwd, reset)", errUsage, sub)
}

func userList(c *ctxt, args []string) error {
	fs := c.flags("user list", "")
	if _, err := parse(fs, args); err != nil {
		return err
	}
	dir, err := c.dataDir()
	if err != nil {
		return err
	}
	v, err := storage.Open(storage.Config{Dir: dir, Logger: c.log})
	if err != nil {
		return err
	}
	defer v.Close()
	for _, s := range v.Status().Slots {
		if s.Type == "recovery" {
			continue
		}
		state := ""
		if s.Locked {
			state = " (locked)"
		}
		fmt.Fprintf(c.env.Stdout, "%s\t%s%s\n", s.Name, s.Type, state)
	}
	return nil
}

// userChange runs add, remove and reset: each needs the vault unlocked by the acting
// user (--user), who must be someone other than the target for reset.
func userChange(c *ctxt, sub string, args []string) error {
	fs := c.flags("user "+sub, "NAME [--user ACTING_USER]")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return fmt.Errorf("%w: fieldoffice user %s NAME", errUsage, sub)
	}
	name := pos[0]
	v, done, err := c.openVault()
	if err != nil {
		return err
	}
	defer done()
	if sub == "reset" && c.userFlag == "" && c.env.Getenv("FIELDOFFICE_USER") == "" {
		return fmt.Errorf("%w: say with --user which other user unlocks to reset %q (or use fieldoffice recover)", errUsage, name)
	}
	if err := c.unlock(v); err != nil {
		return err
	}
	switch sub {
	case "add":
		pin, err := c.pins.fresh(name)
		if err != nil {
			return err
		}
		defer clear(pin)
		if err := c.validateNewPIN(pin); err != nil {
			return err
		}
		if err := v.AddUser(name, pin); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "User %q added.\n", name)
	case "remove":
		if err := v.RemoveUser(name); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "User %q removed.\n", name)
	case "reset":
		if err := v.ResetUser(name); err != nil {
			return err
		}
		fmt.Fprintf(c.env.Stdout, "User %q may try their PIN again.\n", name)
	}
	return nil
}

func userPasswd(c *ctxt, args []string) error {
	fs := c.flags("user passwd", "[NAME]")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return fmt.Errorf("%w: fieldoffice user passwd [NAME]", errUsage)
	}
	v, done, err := c.openVault()
	if err != nil {
		return err
	}
	defer done()
	name := ""
	if len(pos) == 1 {
		name = pos[0]
	} else if name, err = c.actingUser(v); err != nil {
		return err
	}
	old, err := c.pins.current(name)
	if err != nil {
		return err
	}
	defer clear(old)
	pin, err := c.pins.fresh(name)
	if err != nil {
		return err
	}
	defer clear(pin)
	if err := c.validateNewPIN(pin); err != nil {
		return err
	}
	if err := v.ChangePIN(name, old, pin); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "PIN of %q changed.\n", name)
	return nil
}

func cmdRecover(_ context.Context, c *ctxt, args []string) error {
	fs := c.flags("recover", "--recovery-key FILE --user NAME")
	keyFile := fs.String("recovery-key", "", "the organisation's X25519 recovery private key (PEM)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *keyFile == "" || c.userFlag == "" {
		return fmt.Errorf("%w: fieldoffice recover --recovery-key FILE --user NAME", errUsage)
	}
	b, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("read recovery key: %w", err)
	}
	key, err := crypto.ParseRecoveryPrivateKey(b)
	clear(b)
	if err != nil {
		return fmt.Errorf("recovery key %s: %w", *keyFile, err)
	}
	v, done, err := c.openVault()
	if err != nil {
		return err
	}
	defer done()
	pin, err := c.pins.fresh(c.userFlag)
	if err != nil {
		return err
	}
	defer clear(pin)
	if err := c.validateNewPIN(pin); err != nil {
		return err
	}
	if err := v.Recover(key, c.userFlag, pin); err != nil {
		return err
	}
	fmt.Fprintf(c.env.Stdout, "Recovered: user %q has a new key slot on this TPM; the vault opens with the new PIN.\n", c.userFlag)
	return nil
}

func cmdKeygen(_ context.Context, c *ctxt, args []string) error {
	fs := c.flags("keygen-recovery", "--out FILE")
	out := fs.String("out", "", "private key file to write (the public key goes to FILE.pub)")
	pos, err := parse(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 || *out == "" {
		return fmt.Errorf("%w: fieldoffice keygen-recovery --out FILE", errUsage)
	}
	pubPath := *out + ".pub"
	for _, p := range []string{*out, pubPath} {
		if _, err := os.Stat(p); err == nil {
			return fmt.Errorf("%s exists: refusing to overwrite a key file", p)
		}
	}
	key, err := crypto.GenerateRecoveryKey()
	if err != nil {
		return err
	}
	priv, err := crypto.MarshalRecoveryPrivateKey(key)
	if err != nil {
		return err
	}
	defer clear(priv)
	pub, err := crypto.MarshalRecoveryPublicKey(key.PublicKey())
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o700); err != nil {
		return err
	}
	if err := os.WriteFile(*out, priv, 0o600); err != nil {
		return fmt.Errorf("write private key: %w", err)
	}
	if err := os.WriteFile(pubPath, pub, 0o644); err != nil {
		return fmt.Errorf("write public key: %w", err)
	}
	fmt.Fprintf(c.env.Stdout, "Private key: %s (keep it offline; it opens every vault enrolled with it)\nPublic key:  %s (give it to init --recovery-pubkey)\n", *out, pubPath)
	return nil
}
