package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/palisadehq/palisade/internal/botdata"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
)

const botsUsage = `Usage: palisade bots <subcommand> [flags]

Subcommands:
  status    show each verified-bot range list: prefixes, publication date, age, whether it is the
            snapshot shipped in the binary (or a list the snapshot holds no copy of) or a downloaded
            copy in --bot-data-dir, and its source
  refresh   download the published address ranges of search engines, AI crawlers, uptime monitors,
            payment providers and link-preview fetchers into --bot-data-dir (https only, or an
            operator's file:///path; a list with implausibly broad prefixes is refused, and one that
            changes wholesale from the last good copy, or from the shipped snapshot when there is
            none, too unless --force; a refused list keeps the last good copy)
  import    convert published lists (NAME.json, NAME.txt) in --from into the snapshot format in --out
            (how the snapshot shipped in the binary, internal/botdata/snapshot, is made)
  list      the same as status

Palisade ships a dated snapshot of the lists and uses it until a refresh succeeds; 'serve' refreshes
every 24 hours by default (--bot-refresh). A running Palisade picks refreshed lists up within ten minutes.
A source is [FORMAT:]URL[,URL...]: FORMAT google (the crawlers' JSON), text (one address or CIDR a
line), json (every address in the document) or json.KEY (those under KEY); left out, it is told by
the content. --bot-source NAME=SOURCE replaces a default or adds a list a signature refers to
(facebookexternalhit's "meta", for one, has no published URL).
`

func cmdBots(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || (args[0] != "refresh" && args[0] != "list" && args[0] != "status" && args[0] != "import") {
		fmt.Fprint(stderr, botsUsage)
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			return nil
		}
		return errUsage
	}
	sub := args[0]
	if sub == "import" {
		return cmdBotsImport(args[1:], getenv, stdout, stderr)
	}
	fs := newFlagSet("bots "+sub, "bots "+sub+" [flags]", stderr)
	dataDir := fs.String("data-dir", "./data", "data directory (the lists go to --data-dir/bots unless --bot-data-dir is given)")
	botDir := fs.String("bot-data-dir", "", "folder of range lists")
	var sources stringList
	force := new(bool)
	if sub == "refresh" {
		fs.Var(&sources, "bot-source", "NAME=[FORMAT:]https://URL[,URL...] of a list to download, over the defaults, or NAME=file:///path of an operator's own; NAME= drops one (repeatable; plain http only from a loopback address)")
		force = fs.Bool("force", false, "accept lists that change wholesale from the last good copy (fewer than half its prefixes kept, or many times its address space); the other checks still apply")
	}
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if *botDir == "" {
		*botDir = filepath.Join(*dataDir, "bots")
	}
	if sub == "refresh" {
		src, err := botdata.ParseSources(sources)
		if err != nil {
			return err
		}
		failed := 0
		for _, r := range botdata.RefreshWith(ctx, botdata.Options{Force: *force}, src, *botDir) {
			if r.Err != nil {
				failed++
				fmt.Fprintf(stdout, "%-18s FAILED: %v\n", r.Name, r.Err)
			} else {
				fmt.Fprintf(stdout, "%-18s %5d prefixes\n", r.Name, r.Prefixes)
			}
		}
		if failed > 0 {
			return fmt.Errorf("%d of %d lists were not refreshed; their last good copies (if any) are kept in %s", failed, len(src), *botDir)
		}
		return nil
	}
	r, err := engine.LoadBotRanges(*botDir)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LIST\tPREFIXES\tPUBLISHED\tAGE\tFROM\tSOURCE")
	for _, i := range r.Info() {
		src := i.Source
		if src == "" {
			src = botdata.DefaultWhere(i.Name)
		}
		if src == "" {
			src = "(no list URL published; not refreshed unless an operator supplies one with --bot-source " + i.Name + "=...)"
		}
		from := "shipped snapshot"
		switch {
		case i.Origin == engine.OriginDownloaded:
			from = filepath.Join(*botDir, i.Name+".json")
		case i.Prefixes == 0 && botdata.DefaultWhere(i.Name) != "":
			from = "no snapshot copy, awaiting first download"
		case i.Prefixes == 0:
			from = "no snapshot copy, none published"
		}
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\t%s\n", i.Name, i.Prefixes, i.Created, listAge(i.Created, now()), from, src)
	}
	return tw.Flush()
}

// listAge is how long ago a list was published, in days.
func listAge(created string, now time.Time) string {
	if len(created) < 10 {
		return "?"
	}
	t, err := time.Parse("2006-01-02", created[:10])
	if err != nil {
		return "?"
	}
	days := int(now.Sub(t).Hours() / 24)
	if days < 1 {
		return "today"
	}
	return fmt.Sprintf("%d days", days)
}

func cmdBotsImport(args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("bots import", "bots import --from DIR --out DIR", stderr)
	from := fs.String("from", "", "folder of published lists: NAME.json (Google's schema with creationTime, prefixes and source, or other JSON with a date) or NAME.txt (one address or CIDR a line, with '# published YYYY-MM-DD' and '# source URL' lines)")
	out := fs.String("out", "", "folder to write the snapshot to (NAME.ranges); internal/botdata/snapshot for the one shipped in the binary")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if *from == "" || *out == "" {
		return fmt.Errorf("--from and --out are required: %w", errUsage)
	}
	res, err := botdata.Import(*from, *out)
	if err != nil {
		return err
	}
	for _, r := range res {
		src := r.URL
		if src == "" {
			src = "(no source URL)"
		}
		if r.Prefixes == 0 && r.URL == "" {
			fmt.Fprintf(stdout, "%-38s empty: no list URL published (an operator may supply one)\n", r.Name)
			continue
		}
		if r.Prefixes == 0 {
			fmt.Fprintf(stdout, "%-38s empty: no copy at hand (dated; a refresh downloads it)  %s\n", r.Name, src)
			continue
		}
		fmt.Fprintf(stdout, "%-38s %5d prefixes  %s\n", r.Name, r.Prefixes, src)
	}
	return nil
}

func cmdChallenge(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "rotate-key" {
		fmt.Fprint(stderr, "Usage: palisade challenge rotate-key [store flags]\n\nMakes a new key sign challenges and clearance cookies; the previous key keeps verifying, so\nvisitors who already passed are not challenged again. Running nodes pick it up at their next reload (within 10 seconds).\n")
		return errUsage
	}
	fs := newFlagSet("challenge rotate-key", "challenge rotate-key [flags]", stderr)
	sf := storeFlags{now: now}
	sf.register(fs)
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	log, _ := newLogger(stderr, "info", "text")
	db, svc, err := sf.open(ctx, log, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if err := svc.RotateChallengeKey(ctx, core.Operator()); err != nil {
		return err
	}
	fmt.Fprintln(stdout, "challenge key rotated; running nodes sign with it within 10 seconds (clearances signed with the previous key stay valid)")
	return nil
}

// cmdUser adds people who sign in to the partner console or the operator
// pages.
func cmdUser(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "add" {
		fmt.Fprint(stderr, "Usage: palisade user add --email E [--partner NAME] [--password P] [store flags]\n\nAdds a person who signs in at /console/login: to the console of partner NAME, or, without\n--partner, to the operator pages (/operator). Without --password a strong one is generated\nand printed once.\n")
		return errUsage
	}
	fs := newFlagSet("user add", "user add --email E [--partner NAME] [flags]", stderr)
	sf := storeFlags{now: now}
	sf.register(fs)
	email := fs.String("email", "", "the person's email, used to sign in")
	partner := fs.String("partner", "", "the partner whose console it opens; empty: the operator pages")
	password := fs.String("password", "", "the password (at least 8 characters, three kinds); empty: generated and printed")
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	if *email == "" {
		return fmt.Errorf("--email is required: %w", errUsage)
	}
	log, _ := newLogger(stderr, "info", "text")
	db, svc, err := sf.open(ctx, log, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	var partnerID int64
	if *partner != "" {
		p, err := svc.PartnerByName(ctx, core.Operator(), *partner)
		if err != nil {
			return fmt.Errorf("no partner is named %q", *partner)
		}
		partnerID = p.ID
	}
	pw := *password
	if pw == "" {
		b := make([]byte, 15)
		_, _ = rand.Read(b)
		pw = "Pa1-" + base64.RawURLEncoding.EncodeToString(b)
	}
	u, err := svc.CreateConsoleUser(ctx, core.Operator(), partnerID, *email, pw)
	if err != nil {
		return cliError(err)
	}
	where := "the operator pages (/operator)"
	if partnerID != 0 {
		where = *partner + "'s console (/console)"
	}
	fmt.Fprintf(stdout, "%s can now sign in at /console/login to %s\n", u.Email, where)
	if *password == "" {
		fmt.Fprintf(stdout, "password: %s\n(shown only this once)\n", pw)
	}
	return nil
}
