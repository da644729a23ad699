package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

const partnerUsage = `Usage: palisade partner <subcommand> [flags]

Subcommands:
  create           --name NAME [--email E] [--allowed-ip CIDR ...] [--lang LANG]   create a partner; prints its API key once
  list                                                             list partners with their balances
  show             --name NAME                                     one partner: balance, keys, allowed IPs
  topup            --name NAME --amount 100.00 [--note TEXT]       add credit
  allow-ip         --name NAME CIDR                                add CIDR (at least /8, IPv6 /32) to the partner's allowed ranges (and its keys')
  deny-ip          --name NAME CIDR                                remove CIDR from them (not the last one)
  allow-downgrade  --name NAME [--allow=false]                     let (or stop) the partner move websites to cheaper plans
  brand            --name NAME --display "Acme Hosting" [--logo https://...]   what visitors see on challenge and deny pages
  set-lang         --name NAME LANG                                the partner's default language (de, pt_BR, german): what its new customers get when an order names none or an unknown one
  rotate-key       --name NAME [--keep-old]                        issue a new API key (printed once); revoke the old ones unless --keep-old
  revoke-key       --name NAME PREFIX                              revoke one key by the prefix 'partner show' lists

Allowed ranges: where the partner's API keys may be used from, set only by
the operator. None: REST from anywhere, GP and XML refused. A range wider
than /8 (IPv4) or /32 (IPv6), 0.0.0.0/0 above all, binds nothing.

Every subcommand also takes the store flags (--data-dir, --database-url, --master-key); see 'palisade partner create --help'.
`

func cmdPartner(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stderr, partnerUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("partner "+sub, "partner "+sub+" [flags]", stderr)
	sf := storeFlags{now: now}
	sf.register(fs)
	name := fs.String("name", "", "partner name (unique)")
	var (
		email    *string
		amount   *string
		note     *string
		allow    *bool
		keepOld  *bool
		display  *string
		logo     *string
		lang     *string
		allowIPs stringList
	)
	switch sub {
	case "create":
		email = fs.String("email", "", "partner's contact email")
		lang = fs.String("lang", "", "the partner's default language, an ISO 639-1 code (de), a locale (pt_BR) or an English name (german): what its new customers get when an order names none or one Palisade does not know (default en)")
		fs.Var(&allowIPs, "allowed-ip", "IP or CIDR the partner's API keys may be used from: the partner's allowed ranges, which only the operator sets (repeatable; none: REST from anywhere, GP and XML refused; a range wider than /8, IPv6 /32, binds nothing)")
	case "topup":
		amount = fs.String("amount", "", "credit to add, e.g. 100.00")
		note = fs.String("note", "", "reason shown in the ledger")
	case "allow-downgrade":
		allow = fs.Bool("allow", true, "true lets the partner downgrade plans; false stops it")
	case "brand":
		display = fs.String("display", "", "name shown to visitors (default: the partner name)")
		logo = fs.String("logo", "", "https URL of a logo shown beside it")
	case "rotate-key":
		keepOld = fs.Bool("keep-old", false, "keep the old keys working, for a changeover in two steps")
	case "list", "show", "allow-ip", "deny-ip", "revoke-key", "set-lang":
	default:
		fmt.Fprint(stderr, partnerUsage)
		return fmt.Errorf("unknown partner subcommand %q: %w", sub, errUsage)
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if sub != "list" && *name == "" {
		return fmt.Errorf("partner %s: --name is required: %w", sub, errUsage)
	}
	if (sub == "allow-ip" || sub == "deny-ip") && fs.NArg() != 1 {
		return fmt.Errorf("partner %s: give exactly one IP or CIDR after the flags: %w", sub, errUsage)
	}
	if sub == "revoke-key" && fs.NArg() != 1 {
		return fmt.Errorf("partner revoke-key: give the key's prefix (see 'partner show') after the flags: %w", errUsage)
	}
	if sub == "set-lang" && fs.NArg() != 1 {
		return fmt.Errorf("partner set-lang: give exactly one language (de, pt_BR, german) after the flags: %w", errUsage)
	}
	if sub != "allow-ip" && sub != "deny-ip" && sub != "revoke-key" && sub != "set-lang" && fs.NArg() > 0 {
		return fmt.Errorf("partner %s: unexpected arguments %q: %w", sub, fs.Args(), errUsage)
	}
	var parsedLang string
	switch {
	case sub == "set-lang":
		var err error
		if parsedLang, err = langArg("partner set-lang", fs.Arg(0)); err != nil {
			return err
		}
	case sub == "create" && *lang != "":
		var err error
		if parsedLang, err = langArg("partner create --lang", *lang); err != nil {
			return err
		}
	}
	var parsedAmount core.Cents
	if sub == "topup" {
		var err error
		if parsedAmount, err = core.ParseCents(*amount); err != nil {
			return fmt.Errorf("--amount: %v", err)
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
	case "create":
		p, key, err := svc.CreatePartner(ctx, op, core.PartnerCreate{Name: *name, Email: *email, AllowedIPs: allowIPs, Lang: parsedLang})
		if err != nil {
			return cliError(err)
		}
		warnNotBinding(stderr, allowIPs...)
		fmt.Fprintf(stdout, "partner: %s (id %d)\n", p.Name, p.ID)
		fmt.Fprintf(stdout, "api_key: %s\n", key)
		fmt.Fprintln(stdout, "Keep the key safe: it is shown only this once. Partners send it as: Authorization: Bearer <api_key>")
		if len(allowIPs) > 0 {
			fmt.Fprintf(stdout, "allowed source addresses: %s\n", strings.Join(allowIPs, ", "))
		}
		fmt.Fprintf(stdout, "default language: %s\n", p.Language())
		return nil
	case "list":
		ps, err := svc.AllPartners(ctx, op)
		if err != nil {
			return err
		}
		tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tNAME\tEMAIL\tBALANCE\tDOWNGRADES\tCREATED")
		for _, p := range ps {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%v\t%s\n", p.ID, p.Name, p.Email, p.Balance, p.AllowDowngrade, p.CreatedAt.Format("2006-01-02"))
		}
		return tw.Flush()
	}
	p, err := svc.PartnerByName(ctx, op, *name)
	if err != nil {
		return cliError(err)
	}
	switch sub {
	case "show":
		keys, err := svc.PartnerKeys(ctx, op, p.ID)
		if err != nil {
			return err
		}
		sum, bal, err := svc.LedgerBalanced(ctx, op, p.ID)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "partner:    %s (id %d)\nemail:      %s\nbalance:    %s (ledger sum %s)\ndowngrades: %v\nlanguage:   %s\ncreated:    %s\n",
			p.Name, p.ID, p.Email, bal, sum, p.AllowDowngrade, p.Language(), p.CreatedAt.Format("2006-01-02 15:04 MST"))
		if p.BrandName != "" || p.BrandLogo != "" {
			fmt.Fprintf(stdout, "brand:      %s %s\n", firstNonEmpty(p.BrandName, p.Name), p.BrandLogo)
		}
		ranges, err := svc.PartnerAllowedRanges(ctx, op, p.ID)
		if err != nil {
			return err
		}
		allowed := []string{}
		for _, r := range ranges {
			if core.IsBinding(r) {
				allowed = append(allowed, r.String())
			} else {
				allowed = append(allowed, r.String()+" (binds nothing)")
			}
		}
		if len(allowed) == 0 {
			allowed = append(allowed, "none set (REST from anywhere; no GP or XML; the partner cannot bind keys)")
		}
		fmt.Fprintf(stdout, "allowed:    %s\n", strings.Join(allowed, ", "))
		for _, k := range keys {
			ips := "any"
			if len(k.AllowedCIDRs) > 0 {
				var s []string
				for _, c := range k.AllowedCIDRs {
					s = append(s, c.String())
				}
				ips = strings.Join(s, ", ")
			}
			fmt.Fprintf(stdout, "api key:    %s… (created %s), allowed from: %s\n", k.Prefix, k.CreatedAt.Format("2006-01-02"), ips)
		}
		return nil
	case "topup":
		e, err := svc.TopUp(ctx, op, p.ID, parsedAmount, *note)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "added %s to %s; balance is now %s\n", e.Amount, p.Name, e.BalanceAfter)
		return nil
	case "allow-ip":
		if err := svc.AllowIP(ctx, op, p.ID, fs.Arg(0)); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "%s's API keys may now be used from %s\n", p.Name, fs.Arg(0))
		return nil
	case "deny-ip":
		if err := svc.DenyIP(ctx, op, p.ID, fs.Arg(0)); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "%s removed from %s's allowed ranges (and its keys'); see 'palisade partner show'\n", fs.Arg(0), p.Name)
		return nil
	case "rotate-key":
		key, err := svc.RotateKey(ctx, op, p.ID, *keepOld)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "api_key: %s\n", key)
		if *keepOld {
			fmt.Fprintln(stdout, "The old keys still work until you revoke them with 'palisade partner revoke-key'. This key is shown only this once.")
		} else {
			fmt.Fprintln(stdout, "The old keys no longer work. This key is shown only this once.")
		}
		return nil
	case "brand":
		if err := svc.SetBrand(ctx, op, p.ID, *display, *logo); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "%s's pages now say %q\n", p.Name, firstNonEmpty(*display, p.Name))
		return nil
	case "set-lang":
		if err := svc.SetDefaultLanguage(ctx, op, p.ID, parsedLang); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "%s's default language is now %s: its new customers get it when an order names no language or one Palisade does not know\n", p.Name, parsedLang)
		return nil
	case "revoke-key":
		if err := svc.RevokeKey(ctx, op, p.ID, fs.Arg(0)); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "revoked %s's key %s\n", p.Name, fs.Arg(0))
		return nil
	case "allow-downgrade":
		if err := svc.SetAllowDowngrade(ctx, op, p.ID, *allow); err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "%s may downgrade plans: %v\n", p.Name, *allow)
		return nil
	}
	return nil
}

// langArg reads a partner's default language as the operator gives it: an
// ISO 639-1 code, a locale or an English name (core.ParseLanguage).
func langArg(what, s string) (string, error) {
	code, ok := core.ParseLanguage(s)
	if !ok {
		return "", fmt.Errorf("%s: %q is not a language Palisade knows; give an ISO 639-1 code (de), a locale (pt_BR) or an English name (german): %w", what, s, errUsage)
	}
	return code, nil
}

const planUsage = `Usage: palisade plan <subcommand> [flags]

Subcommands:
  list                                                       list plans
  create  --name 10k --quota 10000 --price 5.00 --rank 2     add a plan (rank orders upgrades and downgrades);
          [--waf=false]                                      --waf=false: websites on it get no website firewall
  set-waf --name 10k --waf=false                             say whether websites on a plan have the website firewall
`

func cmdPlan(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprint(stderr, planUsage)
		if len(args) == 0 {
			return errUsage
		}
		return nil
	}
	sub, args := args[0], args[1:]
	fs := newFlagSet("plan "+sub, "plan "+sub+" [flags]", stderr)
	sf := storeFlags{now: now}
	sf.register(fs)
	var name, price *string
	var quota *int64
	var rank *int
	var wafOn *bool
	switch sub {
	case "create":
		name = fs.String("name", "", "plan name, e.g. 500k")
		quota = fs.Int64("quota", -1, "requests per month")
		price = fs.String("price", "", "monthly price, e.g. 5.00")
		rank = fs.Int("rank", -1, "position for upgrade/downgrade: higher is bigger")
		wafOn = fs.Bool("waf", true, "websites on the plan have the website firewall (false: none, whatever their settings say)")
	case "set-waf":
		name = fs.String("name", "", "plan name")
		wafOn = fs.Bool("waf", true, "true: websites on the plan have the website firewall; false: they have none")
	case "list":
	default:
		fmt.Fprint(stderr, planUsage)
		return fmt.Errorf("unknown plan subcommand %q: %w", sub, errUsage)
	}
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("plan %s: unexpected arguments %q: %w", sub, fs.Args(), errUsage)
	}
	var plan core.Plan
	if sub == "create" {
		if *name == "" || *quota < 0 || *price == "" || *rank < 0 {
			return fmt.Errorf("plan create needs --name, --quota, --price and --rank: %w", errUsage)
		}
		p, err := core.ParseCents(*price)
		if err != nil {
			return fmt.Errorf("--price: %v", err)
		}
		plan = core.Plan{Name: *name, MonthlyQuota: *quota, Price: p, Rank: *rank, WAF: *wafOn}
	}
	if sub == "set-waf" && *name == "" {
		return fmt.Errorf("plan set-waf needs --name: %w", errUsage)
	}
	log, _ := newLogger(stderr, "info", "text")
	db, svc, err := sf.open(ctx, log, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	if sub == "create" {
		p, err := svc.CreatePlan(ctx, core.Operator(), plan)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "created plan %s: %d requests/month for %s, rank %d, %s\n", p.Name, p.MonthlyQuota, p.Price, p.Rank, planWAF(p.WAF))
		return nil
	}
	if sub == "set-waf" {
		p, err := svc.SetPlanWAF(ctx, core.Operator(), *name, *wafOn)
		if err != nil {
			return cliError(err)
		}
		fmt.Fprintf(stdout, "plan %s: %s\n", p.Name, planWAF(p.WAF))
		return nil
	}
	plans, err := svc.Plans(ctx)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "NAME\tREQUESTS/MONTH\tPRICE\tRANK\tWAF\t")
	for _, p := range plans {
		w := "yes"
		if !p.WAF {
			w = "no"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t\n", p.Name, groupDigits(p.MonthlyQuota), p.Price, p.Rank, w)
	}
	return tw.Flush()
}

// planWAF says what a plan's WAF flag means.
func planWAF(on bool) string {
	if on {
		return "website firewall included"
	}
	return "no website firewall"
}

func groupDigits(n int64) string {
	s := strconv.FormatInt(n, 10)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// cliError shows a domain error's safe message; anything else as it is.
func cliError(err error) error {
	if code := core.ErrorCode(err); code != core.EINTERNAL {
		return fmt.Errorf("%s", core.ErrorMessage(err))
	}
	return err
}

func firstNonEmpty(vals ...string) string {
	for _, v := range vals {
		if v != "" {
			return v
		}
	}
	return ""
}

// warnNotBinding tells the operator, on stderr, about each allowed range
// that binds nothing (core.IsBinding): it is stored, but ties no key to
// addresses and enables neither GP nor XML.
func warnNotBinding(stderr io.Writer, cidrs ...string) {
	ps, err := core.ParsePrefixes("allowed-ip", cidrs)
	if err != nil {
		return
	}
	for _, p := range ps {
		if !core.IsBinding(p) {
			fmt.Fprintf(stderr, "warning: %s is wider than /%d (IPv6: /%d) and binds nothing: it ties no API key to addresses and enables neither GP nor XML; give the partner's panel addresses instead (remove it with 'palisade partner deny-ip')\n",
				p, core.MinBindingBitsV4, core.MinBindingBitsV6)
		}
	}
}
