package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"path/filepath"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/metrics"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/server"
)

func cmdServe(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [flags]", stderr)
	var sf storeFlags
	sf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	role := fs.String("role", "all", "which planes to run: all, edge or control (only all exists so far)")
	var proxies stringList
	fs.Var(&proxies, "trusted-proxy", "IP or CIDR of a reverse proxy whose X-Forwarded-For is believed (repeatable)")
	var webServers stringList
	fs.Var(&webServers, "web-server", "IP or CIDR of a web server whose X-Real-IP / X-Forwarded-For the decision endpoints believe (repeatable; default 127.0.0.0/8 and ::1)")
	botDataDir := fs.String("bot-data-dir", "", "folder of verified-bot range lists (NAME.json, the vendors' schema); default --data-dir/bots")
	verifyRDNS := fs.Bool("verify-rdns", true, "verify search-engine crawlers by forward-confirmed reverse DNS where no range list is loaded")
	grantSample := fs.Float64("grant-sample", 0.01, "share of granted requests kept as events (0 to 1); denies and challenges are always kept")
	var metricsAllow stringList
	fs.Var(&metricsAllow, "metrics-allow", "IP or CIDR that may read /metrics (repeatable; default 127.0.0.0/8 and ::1)")
	grace := fs.Duration("shutdown-grace", 15*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q: %w", fs.Args(), errUsage)
	}
	if *role != "all" && *role != "control" && *role != "edge" {
		return fmt.Errorf("--role %q: use all, edge or control: %w", *role, errUsage)
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return err
	}
	trusted, err := prefixFlag("trusted-proxy", proxies)
	if err != nil {
		return err
	}
	wsTrusted, err := prefixFlag("web-server", webServers)
	if err != nil {
		return err
	}
	metricsTrusted, err := prefixFlag("metrics-allow", metricsAllow)
	if err != nil {
		return err
	}
	if *grantSample < 0 || *grantSample > 1 {
		return fmt.Errorf("--grant-sample %v: use a share between 0 and 1: %w", *grantSample, errUsage)
	}
	if *botDataDir == "" {
		*botDataDir = filepath.Join(sf.dataDir, "bots")
	}
	sigs, err := engine.LoadSignatures()
	if err != nil {
		return fmt.Errorf("signatures: %w", err)
	}
	ranges, err := engine.LoadBotRanges(*botDataDir)
	if err != nil {
		return fmt.Errorf("--bot-data-dir: %w", err)
	}
	var rdns *engine.RDNSVerifier
	if *verifyRDNS {
		rdns = engine.NewRDNSVerifier(nil)
	}
	prot := protect.New(engine.New(engine.NewClassifier(sigs, ranges, rdns), nil), log)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	if sf.publicURL == "" {
		sf.publicURL = "http://" + ln.Addr().String()
	}
	db, svc, err := sf.open(ctx, log, stderr, core.WithChangeHook(prot.Changed))
	if err != nil {
		return err
	}
	defer db.Close()
	prot.SetService(svc)
	rec := events.New(svc.RecordDecisions, events.Options{GrantSample: *grantSample, Logger: log})
	prot.Observe(rec, metrics.New(prot.Engine.Len, rec.Dropped, rec.Written, rec.Pending))
	if err := prot.Reload(ctx); err != nil {
		return fmt.Errorf("load websites into the engine: %w", err)
	}
	log.Info("decision engine loaded", "websites", prot.Engine.Len(), "signatures", len(sigs), "bot_range_lists", len(ranges.Info()), "bot_data_dir", *botDataDir)

	partners, err := svc.Partners(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "palisade %s listening on http://%s (store: %s)\n", version, ln.Addr(), describeStore(sf))
	fmt.Fprintf(stdout, "API docs: %s/docs\n", sf.publicURL)
	if len(partners) == 0 {
		fmt.Fprintf(stdout, "No partners yet. Create the first one in another shell (it prints the API key once):\n  palisade partner create --name \"My Hosting\"%s\n", storeArgs(sf))
	}
	mctx, stopMaintenance := context.WithCancel(ctx)
	defer stopMaintenance()
	go svc.RunMaintenance(mctx, time.Hour)
	go prot.Run(mctx, 10*time.Second)
	recDone := make(chan struct{})
	go func() { rec.Run(mctx); close(recDone) }()
	h := server.NewHandler(server.Deps{Service: svc, Logger: log, TrustedProxies: trusted, Protector: prot, WebServers: wsTrusted, MetricsAllowed: metricsTrusted})
	err = server.Serve(ctx, ln, h, *grace, log)
	stopMaintenance() // the recorder writes what it still holds, then returns
	<-recDone
	return err
}

// prefixFlag parses a repeatable IP/CIDR flag; nil when it was not given.
func prefixFlag(name string, vals []string) (protect.Trusted, error) {
	var out protect.Trusted
	for _, v := range vals {
		ps, err := core.ParsePrefixes(name, []string{v})
		if err != nil {
			return nil, fmt.Errorf("--%s %q is not an IP or CIDR", name, v)
		}
		out = append(out, ps...)
	}
	return out, nil
}

func describeStore(sf storeFlags) string {
	if strings.HasPrefix(sf.databaseURL, "postgres") {
		return "PostgreSQL"
	}
	if sf.databaseURL != "" {
		return "SQLite " + sf.databaseURL
	}
	return "SQLite " + sf.dataDir + "/palisade.db"
}

// storeArgs repeats the store flags a follow-up command needs.
func storeArgs(sf storeFlags) string {
	switch {
	case sf.databaseURL != "":
		return " --database-url '" + sf.databaseURL + "'"
	case sf.dataDir != "./data":
		return " --data-dir " + sf.dataDir
	}
	return ""
}

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate [flags]", stderr)
	var sf storeFlags
	sf.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	log, _ := newLogger(stderr, "info", "text")
	db, _, err := sf.open(ctx, log, stderr)
	if err != nil {
		return err
	}
	defer db.Close()
	v, err := db.SchemaVersion(ctx)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s schema is at version %d\n", describeStore(sf), v)
	return nil
}
