// Command portald is the reference FieldOffice portal: it serves the device API over
// TLS with its own CA (fieldoffice/portal/server) and has the admin commands to run
// it — enrollment tokens, devices and their remote actions, demo data, cases, the
// device policy and the recovery key.
//
//	portald init   --dir DIR [--hosts HOST,…]
//	portald serve  --dir DIR [--listen ADDR]
//	portald token create --dir DIR --office NAME [--ttl 24h] [--url https://HOST:PORT] [--json]
//	portald device list [--json] | show ID [--json] | revoke ID
//	portald device wipe|lock|resync|rotate ID | cancel ID ACTION-ID
//	portald seed   --dir DIR --cases N [--seed S]
//	portald case   list [--json] | show ID [--json] | set ID FIELD=VALUE… | assign ID USER
//	portald policy show [--json] | set KEY=VALUE…
//	portald recovery export --out FILE [--remove] | show
//	portald version
//
// --dir defaults to $PORTALD_DIR. While `serve` runs, the other commands reach it
// through DIR/admin.sock; otherwise they open DIR/portal.db directly. Exit codes: 0
// success, 1 error, 2 usage.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr, os.Getenv)
	stop()
	os.Exit(code)
}
