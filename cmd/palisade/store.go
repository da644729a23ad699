package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/netguard"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store"
)

// storeFlags are the settings every command that opens the store shares.
type storeFlags struct {
	dataDir     string
	databaseURL string
	masterKey   string
	publicURL   string
	nodes       stringList
	defaultPlan string
	retention   time.Duration
	egressIPs   stringList
	addonPrice  string
	// scanPrices are the monthly prices of the scanning add-ons, by
	// product (smart, smart_patch, smart_database, backup).
	scanPrices   map[string]*string
	scanRequired bool
	brandName    string
	scanRoots    stringList
	backupRoots  stringList
	allowNets    stringList
	patchUpdate  string
	now          func() time.Time // the service's clock (run's)
	euid         func() int       // the process's user (os.Geteuid when nil)
}

func (s *storeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&s.dataDir, "data-dir", "./data", "directory for the SQLite database and the generated master key")
	fs.StringVar(&s.databaseURL, "database-url", "", "PostgreSQL URL (postgres://user@host/db); empty: SQLite in --data-dir")
	fs.StringVar(&s.masterKey, "master-key", "", "32-byte key (64 hex digits or base64) sealing API keys at rest; empty: --data-dir/master.key, created on first start. Every node of a fleet needs the same one")
	fs.StringVar(&s.publicURL, "public-url", "", "base URL partners and customers reach this server at (default http://<addr>)")
	fs.Var(&s.nodes, "node", "address a web-server integration calls, primary first (repeatable; default: --public-url)")
	fs.StringVar(&s.defaultPlan, "default-plan", "Free", "plan of a website registered without one")
	fs.DurationVar(&s.retention, "event-retention", 30*24*time.Hour, "how long events are kept (minute counters are kept 400 days)")
	fs.Var(&s.egressIPs, "egress-ip", "address Palisade connects to customers' sites from (free scans, the reverse proxy), which XML getIpAddresses tells their firewalls (repeatable)")
	fs.Var(&s.scanRoots, "scan-root", "[PARTNER=]DIR: a directory under which that partner (without PARTNER=: every partner) may name its websites' document roots for malware scans, patch checks and backups, such as acme=/home (repeatable; none: files are reached over SFTP only); no two websites may share or nest one")
	fs.Var(&s.backupRoots, "backup-root", "[PARTNER=]DIR: a directory under which that partner (without PARTNER=: every partner) may keep local backup repositories (repeatable; none: sftp: and s3: repositories only)")
	fs.Var(&s.allowNets, "scan-allow-net", "[PARTNER=]CIDR: an address range, beyond public addresses, where that partner's (without PARTNER=: every partner's) websites' SFTP servers, databases, S3 endpoints and SFTP backup servers may be, such as 10.0.0.0/8 or 127.0.0.1 for a database on this machine (repeatable; none: public addresses only, so that scan and backup settings cannot reach your own network)")
	fs.StringVar(&s.patchUpdate, "patch-update-command", "", "command that updates one component of a website's CMS, run by the node after a backup when the website's partner or customer asks (never chosen by them), without a shell; {root} is the install's folder, {type} core, plugin or theme, {slug} the component's checked slug (left out for the core), {owner} the user owning the install's folder (never root), such as \"sudo -u {owner} wp --path={root} {type} update {slug}\"; run as root, Palisade requires {owner}, since the command loads the website's own code; empty: updates are not offered")
	fs.StringVar(&s.brandName, "brand-name", "", "your product's name, shown on the pages before sign-in, the operator pages and the pages of a website no partner brands (an unknown host's deny page, the User API docs before sign-in); empty: no name at all")
	fs.StringVar(&s.addonPrice, "addon-price", "2.50", "monthly price of one add-on unit (10,000 extra requests a month)")
	s.scanPrices = map[string]*string{}
	for _, p := range []struct {
		product, flag string
		def           core.Cents
		what          string
	}{
		{core.AddonSmart, "smart-price", core.DefaultSmartPrice, "malware scanning of its files (SMART)"},
		{core.AddonSmartPatch, "smart-patch-price", core.DefaultSmartPatchPrice, "patch checks (SMART Patch)"},
		{core.AddonSmartDatabase, "smart-database-price", core.DefaultSmartDatabasePrice, "database scanning (SMART Database)"},
		{core.AddonBackup, "backup-price", core.DefaultBackupPrice, "backups"},
	} {
		s.scanPrices[p.product] = fs.String(p.flag, p.def.String(), "monthly price of add-on "+p.product+": "+p.what+" for one website")
	}
	fs.BoolVar(&s.scanRequired, "scan-addons-required", true, "a website's scanning features (malware scan, patch check, database scan, backups) are switched on only when it has bought their add-ons (smart, smart_patch, smart_database, backup); false: partners switch them on freely, for an operator who does not sell scanning through Palisade's billing")
}

// open opens the store and the service over it.
func (s *storeFlags) open(ctx context.Context, log *slog.Logger, stderr io.Writer, opts ...core.Option) (*store.DB, *core.Service, error) {
	var key []byte
	var err error
	if s.masterKey != "" {
		if key, err = secret.ParseKey(s.masterKey); err != nil {
			return nil, nil, fmt.Errorf("--master-key: %w", err)
		}
	} else {
		path := filepath.Join(s.dataDir, "master.key")
		var created bool
		if key, created, err = secret.LoadOrCreateKeyFile(path); err != nil {
			return nil, nil, fmt.Errorf("master key: %w", err)
		}
		if created {
			log.Info("generated a new master key; back it up, API keys cannot be read without it", "path", path)
		}
	}
	box, err := secret.NewBox(key, nil)
	if err != nil {
		return nil, nil, err
	}
	db, err := store.Open(ctx, s.databaseURL, s.dataDir)
	if err != nil {
		return nil, nil, err
	}
	if s.publicURL == "" {
		s.publicURL = "http://127.0.0.1:8080"
	}
	s.publicURL = strings.TrimRight(s.publicURL, "/")
	nodes := []string(s.nodes)
	if len(nodes) == 0 {
		nodes = []string{s.publicURL}
	}
	addonPrice, err := core.ParseCents(s.addonPrice)
	if err != nil || addonPrice <= 0 {
		db.Close()
		return nil, nil, fmt.Errorf("--addon-price %q: give a positive amount such as 2.50: %w", s.addonPrice, errUsage)
	}
	scanPrices := map[string]core.Cents{}
	for _, product := range []string{core.AddonSmart, core.AddonSmartPatch, core.AddonSmartDatabase, core.AddonBackup} {
		v := *s.scanPrices[product]
		p, err := core.ParseCents(v)
		if err != nil || p <= 0 {
			db.Close()
			return nil, nil, fmt.Errorf("--%s-price %q: give a positive amount such as 3.00: %w", strings.ReplaceAll(product, "_", "-"), v, errUsage)
		}
		scanPrices[product] = p
	}
	for _, ip := range s.egressIPs {
		if _, err := netip.ParseAddr(ip); err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("--egress-ip %q is not an IP address: %w", ip, errUsage)
		}
	}
	for _, roots := range []struct {
		flag string
		dirs []string
	}{{"--scan-root", s.scanRoots}, {"--backup-root", s.backupRoots}} {
		for _, r := range roots.dirs {
			name, d, ok := strings.Cut(r, "=")
			if !ok {
				d = r
			}
			if (ok && strings.TrimSpace(name) == "") || !filepath.IsAbs(d) || filepath.Clean(d) != d || d == "/" {
				db.Close()
				return nil, nil, fmt.Errorf("%s %q: give [PARTNER=]DIR, DIR absolute and other than /, without . or .. parts: %w", roots.flag, r, errUsage)
			}
		}
	}
	if s.patchUpdate != "" {
		args, err := core.ParseUpdateCommand(s.patchUpdate)
		if err != nil {
			db.Close()
			return nil, nil, fmt.Errorf("--patch-update-command: %w: %w", err, errUsage)
		}
		euid := os.Geteuid
		if s.euid != nil {
			euid = s.euid
		}
		if euid() == 0 && !core.UpdateCommandUsesOwner(args) {
			// WP-CLI and the like load the website's wp-config.php and
			// plugins: run by root, a customer's file would run as root.
			db.Close()
			return nil, nil, fmt.Errorf("--patch-update-command: Palisade runs as root, and the command loads the website's own code: run it as the site's user with {owner}, such as \"sudo -u {owner} wp --path={root} {type} update {slug}\": %w", errUsage)
		}
	}
	if _, _, err := netguard.ParseAllow(s.allowNets); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("%w: %w", err, errUsage)
	}
	now := s.now
	if now == nil {
		now = time.Now
	}
	svc := core.NewService(db, box, core.Config{PublicURL: s.publicURL, Nodes: nodes, DefaultPlan: s.defaultPlan, EventRetention: s.retention,
		EgressIPs: s.egressIPs, AddonUnitPrice: addonPrice, BrandName: strings.TrimSpace(s.brandName),
		SmartPrice: scanPrices[core.AddonSmart], SmartPatchPrice: scanPrices[core.AddonSmartPatch],
		SmartDatabasePrice: scanPrices[core.AddonSmartDatabase], BackupPrice: scanPrices[core.AddonBackup], ScanAddonsRequired: s.scanRequired,
		ScanRoots: s.scanRoots, BackupRoots: s.backupRoots, ScanAllowNets: s.allowNets,
		PatchUpdateCommand: s.patchUpdate}, append([]core.Option{core.WithLogger(log), core.WithClock(now)}, opts...)...)
	if err := svc.CheckMasterKey(ctx); err != nil {
		db.Close()
		return nil, nil, err
	}
	if _, err := svc.SeedPlans(ctx); err != nil {
		db.Close()
		return nil, nil, fmt.Errorf("seed plans: %w", err)
	}
	return db, svc, nil
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch format {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

func newFlagSet(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: palisade %s\n\nFlags (each also as PALISADE_<NAME> in the environment):\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}
