package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/waf"
)

const wafUsage = `Usage: palisade waf patch <subcommand> [flags]

Virtual patches: rules pushed to every website at once (the operator's
apply to every partner's websites; partners push their own through the
REST API, /v1/waf/patches). They take effect on every node within a second.

Subcommands:
  patch add   --name N --reason R (--seclang-file F | --rule JSON) [--expires 72h|RFC3339]
                                       push a patch (SecLang: SecRule, SecAction, SecMarker only;
                                       --rule: {"path":"/x.php","target":"arg:action","op":"equals","value":"exploit"})
  patch list                           list every patch (the operator's and each partner's)
  patch rm ID                          delete a patch
`

func cmdWAF(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stderr, wafUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	if args[0] != "patch" || len(args) < 2 {
		fmt.Fprint(stderr, wafUsage)
		return fmt.Errorf("unknown waf subcommand %q: %w", strings.Join(args[:min(2, len(args))], " "), errUsage)
	}
	sub, args := args[1], args[2:]
	if sub == "--help" || sub == "-h" || sub == "help" {
		fmt.Fprint(stdout, wafUsage)
		return nil
	}
	fs := newFlagSet("waf patch "+sub, "waf patch "+sub+" [flags]", stderr)
	sf := storeFlags{now: now}
	sf.register(fs)
	var name, reason, seclangFile, ruleJSON, expires *string
	var id int64
	switch sub {
	case "add":
		name = fs.String("name", "", "the patch's name, e.g. CVE-2026-1234 vuln-plugin (1-100 characters)")
		reason = fs.String("reason", "", "why it is pushed (at most 500 characters)")
		seclangFile = fs.String("seclang-file", "", "a file of Coraza SecLang (SecRule, SecAction, SecMarker; rule ids 1-899999; phase 1 or 2)")
		ruleJSON = fs.String("rule", "", `the patch in Palisade's own form, JSON: {"path","method","target","op","value","action"}`)
		expires = fs.String("expires", "", "when it stops applying: a duration from now (72h) or an RFC 3339 time; empty: never (at most a year)")
	case "list":
	case "rm":
		// The id may come before the flags.
		if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
			n, err := strconv.ParseInt(args[0], 10, 64)
			if err != nil || n <= 0 {
				return fmt.Errorf("waf patch rm: %q is not a patch id: %w", args[0], errUsage)
			}
			id, args = n, args[1:]
		}
	default:
		fmt.Fprint(stderr, wafUsage)
		return fmt.Errorf("unknown waf patch subcommand %q: %w", sub, errUsage)
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if sub == "rm" && id == 0 && fs.NArg() == 1 {
		n, err := strconv.ParseInt(fs.Arg(0), 10, 64)
		if err != nil || n <= 0 {
			return fmt.Errorf("waf patch rm: %q is not a patch id: %w", fs.Arg(0), errUsage)
		}
		id = n
	} else if fs.NArg() > 0 {
		return fmt.Errorf("waf patch %s: unexpected arguments %q: %w", sub, fs.Args(), errUsage)
	}
	if sub == "rm" && id == 0 {
		return fmt.Errorf("waf patch rm needs the patch's id (waf patch list shows them): %w", errUsage)
	}
	var in core.WAFPatch
	if sub == "add" {
		var err error
		if in, err = patchFromFlags(*name, *reason, *seclangFile, *ruleJSON, *expires, now()); err != nil {
			return err
		}
	}
	log, _ := newLogger(stderr, "info", "text")
	db, svc, err := sf.open(ctx, log, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	op := core.Operator()
	switch sub {
	case "add":
		p, err := svc.CreateWAFPatch(ctx, op, in)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "pushed virtual patch %d %q to every website, %s\n", p.ID, p.Name, expiryText(p.ExpiresAt))
		return nil
	case "rm":
		if err := svc.DeleteWAFPatch(ctx, op, id); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "deleted virtual patch %d\n", id)
		return nil
	}
	ps, err := svc.WAFPatches(ctx, op)
	if err != nil {
		return cliError(err)
	}
	t := svc.Now()
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSCOPE\tNAME\tEXPIRES\tCREATED BY\tRULE")
	for _, p := range ps {
		scope := "all"
		if p.PartnerID != 0 {
			scope = "partner " + strconv.FormatInt(p.PartnerID, 10)
		}
		exp := "never"
		if p.ExpiresAt != nil {
			exp = p.ExpiresAt.UTC().Format(time.RFC3339)
			if p.Expired(t) {
				exp += " (expired)"
			}
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\n", p.ID, scope, oneLine(p.Name, 40), exp, p.CreatedBy, oneLine(ruleText(p), 60))
	}
	return tw.Flush()
}

// patchFromFlags reads waf patch add's flags into a patch.
func patchFromFlags(name, reason, seclangFile, ruleJSON, expires string, now time.Time) (core.WAFPatch, error) {
	p := core.WAFPatch{Name: name, Reason: reason}
	switch {
	case name == "":
		return p, fmt.Errorf("waf patch add needs --name: %w", errUsage)
	case (seclangFile == "") == (ruleJSON == ""):
		return p, fmt.Errorf("waf patch add needs one of --seclang-file and --rule: %w", errUsage)
	case seclangFile != "":
		f, err := os.Open(seclangFile)
		if err != nil {
			return p, fmt.Errorf("--seclang-file: %w", err)
		}
		defer f.Close()
		b, err := io.ReadAll(io.LimitReader(f, waf.PatchMaxSecLang+1))
		if err != nil {
			return p, fmt.Errorf("--seclang-file: %w", err)
		}
		p.SecLang = string(b)
	default:
		dec := json.NewDecoder(strings.NewReader(ruleJSON))
		dec.DisallowUnknownFields()
		p.Rule = new(waf.PatchRule)
		if err := dec.Decode(p.Rule); err != nil {
			return p, fmt.Errorf(`--rule: not a rule ({"path","method","target","op","value","action"}): %v: %w`, err, errUsage)
		}
	}
	if expires != "" {
		if d, err := time.ParseDuration(expires); err == nil {
			if d <= 0 {
				return p, fmt.Errorf("--expires %q: a duration must be positive: %w", expires, errUsage)
			}
			t := now.Add(d)
			p.ExpiresAt = &t
		} else if t, err := time.Parse(time.RFC3339, expires); err == nil {
			p.ExpiresAt = &t
		} else {
			return p, fmt.Errorf("--expires %q: a duration (72h) or an RFC 3339 time (2026-12-31T23:00:00Z): %w", expires, errUsage)
		}
	}
	return p, nil
}

func expiryText(t *time.Time) string {
	if t == nil {
		return "never expiring"
	}
	return "expiring " + t.UTC().Format(time.RFC3339)
}

// ruleText is a patch's rule as one line: its first SecLang directive, or
// its own-form rule as JSON.
func ruleText(p core.WAFPatch) string {
	if p.Rule != nil {
		b, _ := json.Marshal(p.Rule)
		return string(b)
	}
	for _, l := range strings.Split(p.SecLang, "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			return l
		}
	}
	return ""
}

// oneLine cuts s to n runes, control characters shown as spaces.
func oneLine(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return ' '
		}
		return r
	}, s)
	if r := []rune(s); len(r) > n {
		return string(r[:n-1]) + "…"
	}
	return s
}
