// Command palisade runs Palisade, the white-label bot-protection service that
// hosting providers resell, and holds the operator's admin commands.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
	"time"
)

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

func main() { os.Exit(mainAt(time.Now)) }

// mainAt is main on the clock now, returning the exit code; a test running
// this binary as palisade (see TestMain) passes its own clock.
func mainAt(now func() time.Time) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, now, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(os.Stderr, "palisade:", err)
		}
		return exitCode(err)
	}
	return 0
}

func exitCode(err error) int {
	if errors.Is(err, flag.ErrHelp) || errors.Is(err, errUsage) {
		return 2
	}
	return 1
}

var errUsage = errors.New("usage error")

const usage = `palisade — bot protection and website firewall for hosting providers

Usage:
  palisade <command> [flags]

Commands:
  serve      run Palisade: partner APIs, decision endpoints (forward-auth, BotBye, BotGuard), metrics
  proxy      protect applications with no web server in front: decide, then forward by Host
  agent      run on a web server: scan the websites whose files are there for Palisade, with the local clamd
  migrate    bring the database schema up to date and exit
  backup     copy the SQLite database while Palisade runs (PostgreSQL: use pg_dump)
  restore    put a backup in place (Palisade must be stopped)
  partner    manage partners (hosting providers): create, list, show, topup, allow-ip, deny-ip, allow-downgrade,
             brand, set-lang, rotate-key, revoke-key
  plan       manage plans: list, create
  user       add: people who sign in to a partner's console or the operator pages
  waf        patch add, list, rm: virtual patches the operator pushes to every website
  bots       verified-bot range lists: refresh (download), status (alias list)
  signatures write: Palisade's own malware signatures, in ClamAV's formats, into clamd's database folder
  challenge  rotate-key: new key for challenges and clearances (the previous one still verifies)
  version    print the version

Run 'palisade <command> --help' for a command's flags. Every flag has an
environment twin: --database-url is PALISADE_DATABASE_URL. Flags win over
the environment, the environment over a --config file.
`

// run is the whole program, so tests can drive it like a shell would. now
// is its clock: time.Now, or in tests the test clock (PALISADE_TEST_NOW), so
// that the suite can run as if it were another date; no flag sets it.
func run(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return errUsage
	}
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], getenv, now, stdout, stderr)
	case "proxy":
		return cmdProxy(ctx, args[1:], getenv, now, stdout, stderr)
	case "agent":
		return cmdAgent(ctx, args[1:], getenv, now, stdout, stderr)
	case "challenge":
		return cmdChallenge(ctx, args[1:], getenv, now, stdout, stderr)
	case "bots":
		return cmdBots(ctx, args[1:], getenv, now, stdout, stderr)
	case "migrate":
		return cmdMigrate(ctx, args[1:], getenv, now, stdout, stderr)
	case "backup":
		return cmdBackup(ctx, args[1:], getenv, stdout, stderr)
	case "restore":
		return cmdRestore(ctx, args[1:], getenv, stdout, stderr)
	case "partner":
		return cmdPartner(ctx, args[1:], getenv, now, stdout, stderr)
	case "plan":
		return cmdPlan(ctx, args[1:], getenv, now, stdout, stderr)
	case "user":
		return cmdUser(ctx, args[1:], getenv, now, stdout, stderr)
	case "waf":
		return cmdWAF(ctx, args[1:], getenv, now, stdout, stderr)
	case "signatures":
		return cmdSignatures(args[1:], stdout, stderr)
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "palisade", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return fmt.Errorf("unknown command %q: %w", args[0], errUsage)
}
