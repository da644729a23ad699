package main

import (
	"context"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/palisadehq/palisade/internal/api/fcgiauth"
	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/api/spoe"
	"github.com/palisadehq/palisade/internal/api/userapi"
	"github.com/palisadehq/palisade/internal/botdata"
	"github.com/palisadehq/palisade/internal/challenge"
	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/mail"
	"github.com/palisadehq/palisade/internal/metrics"
	"github.com/palisadehq/palisade/internal/netutil"
	"github.com/palisadehq/palisade/internal/scanrun"

	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/proxy"
	"github.com/palisadehq/palisade/internal/proxy/bodypeek"
	"github.com/palisadehq/palisade/internal/ratelimit"
	"github.com/palisadehq/palisade/internal/server"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/waf"
	"github.com/palisadehq/palisade/internal/webbotauth"
)

// planeFlags are the settings of the decision plane, shared by serve and proxy.
type planeFlags struct {
	botDataDir   string
	botRefresh   time.Duration
	botSources   stringList
	geoCountry   string
	geoASN       string
	webServers   protect.Trusted // set by the command from --web-server
	redisURL     string
	challengeKey string
	verifyRDNS   bool
	webBotAuth   bool
	agentDirs    stringList
	agents       stringList
	grantSample  float64
	grantCache   time.Duration
	grace        time.Duration
	logLevel     string
	logFormat    string
	configPoll   time.Duration
}

func (pf *planeFlags) register(fs *flag.FlagSet) {
	fs.StringVar(&pf.botDataDir, "bot-data-dir", "", "folder of verified-bot range lists (NAME.json, the vendors' schema); default --data-dir/bots")
	fs.DurationVar(&pf.botRefresh, "bot-refresh", defaultBotRefresh, "download the verified-bot range lists this often (the first time a minute after start); until a list's download succeeds the snapshot shipped in the binary is used; 0: never (run 'palisade bots refresh' yourself)")
	fs.Var(&pf.botSources, "bot-source", "NAME=URL of a range list to download, over the defaults; NAME= drops one (repeatable)")
	fs.StringVar(&pf.redisURL, "redis-url", "", "Redis (or Valkey) URL, redis://host:6379/0: shares rate limits and the challenge spent-set across nodes; empty: both in memory, per node")
	fs.StringVar(&pf.challengeKey, "challenge-key", "", "key (hex or base64, at least 32 bytes) that signs challenges and clearance cookies; empty: a generated key kept in the store (see 'palisade challenge rotate-key')")
	fs.StringVar(&pf.geoCountry, "geoip-country", "", "MaxMind-format country database (.mmdb) for country conditions in rules")
	fs.StringVar(&pf.geoASN, "geoip-asn", "", "MaxMind-format ASN database (.mmdb) for asn conditions in rules")
	fs.BoolVar(&pf.verifyRDNS, "verify-rdns", true, "verify crawlers by forward-confirmed reverse DNS where their range list is not loaded or does not hold the address")
	fs.BoolVar(&pf.webBotAuth, "web-bot-auth", true, "verify Web Bot Auth signatures (RFC 9421, Ed25519, keys from the agent's https key directory, fetched in the background): a verified signer is signed_agent in rules, and one on --web-bot-auth-agent is in category signed_agents; with --redis-url the replay cache is shared")
	fs.Var(&pf.agents, "web-bot-auth-agent", "IDENTITY: a signed agent whose verified requests are in category signed_agents (repeatable; default "+strings.Join(engine.DefaultTrustedAgents, ",")+"; none: no agent). Others who sign are judged as if unsigned: anyone with a domain can sign; a site grants one by a rule on signed_agent")
	fs.Var(&pf.agentDirs, "web-bot-auth-directory", "ORIGIN=FILE: an agent's key directory (JWK Set) read from FILE instead of fetched, e.g. https://agent.example=/etc/palisade/agent-keys.json (repeatable)")
	fs.Float64Var(&pf.grantSample, "grant-sample", 0.01, "share of granted requests kept as events (0 to 1); denies and challenges are always kept")
	fs.DurationVar(&pf.grantCache, "grant-cache", engine.DefaultGrantCache, "how long a web server may reuse a grant Palisade marks cacheable (whole seconds, at most 1m): nginx in locations with deploy/nginx/palisade-static.conf, Apache's mod_palisade; only category grants (a browser) on websites without rate limits; 0: no grant is cacheable")
	fs.DurationVar(&pf.grace, "shutdown-grace", 15*time.Second, "how long in-flight requests may take to finish on SIGINT/SIGTERM")
	fs.DurationVar(&pf.configPoll, "config-poll", time.Second, "how often to check the store's config version, so a change made on another node (or a missed PostgreSQL notification) reaches this one's engine")
	fs.StringVar(&pf.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&pf.logFormat, "log-format", "text", "text or json")
}

// plane is a running core and decision engine: the store, the service, the
// engine with its loader, the event recorder.
type plane struct {
	log  *slog.Logger
	db   *store.DB
	svc  *core.Service
	prot *protect.Protector
	rec  *events.Recorder
	stop func() // stops the background work and closes the store
	// heartbeat starts writing this node's heartbeat (the operator's
	// overview), naming it by the address it listens on.
	heartbeat func(listen string)
}

// startPlane opens the store and starts what role needs: the engine with its
// loader and event recorder (all, edge) and the maintenance loop (all,
// control). A control node keeps an engine only to explain rules.
func startPlane(ctx context.Context, sf *storeFlags, pf *planeFlags, role string, stderr io.Writer) (*plane, error) {
	log, err := newLogger(stderr, pf.logLevel, pf.logFormat)
	if err != nil {
		return nil, err
	}
	if pf.configPoll <= 0 {
		return nil, fmt.Errorf("--config-poll %v: give a positive duration such as 1s: %w", pf.configPoll, errUsage)
	}
	if pf.grantSample < 0 || pf.grantSample > 1 {
		return nil, fmt.Errorf("--grant-sample %v: use a share between 0 and 1: %w", pf.grantSample, errUsage)
	}
	if pf.grantCache < 0 || pf.grantCache > engine.MaxGrantCache {
		return nil, fmt.Errorf("--grant-cache %v: use 0 (off) to %v: %w", pf.grantCache, engine.MaxGrantCache, errUsage)
	}
	if pf.botDataDir == "" {
		pf.botDataDir = filepath.Join(sf.dataDir, "bots")
	}
	sigs, err := engine.LoadSignatures()
	if err != nil {
		return nil, fmt.Errorf("signatures: %w", err)
	}
	ranges, err := engine.LoadBotRanges(pf.botDataDir)
	if err != nil {
		return nil, fmt.Errorf("--bot-data-dir: %w", err)
	}
	var rdns *engine.RDNSVerifier
	if pf.verifyRDNS {
		rdns = engine.NewRDNSVerifier(nil)
	}
	// The website firewall's default rule set is compiled before the
	// first website loads, so a website created a moment after start is
	// protected (and found) at once rather than after the compile.
	fw, err := waf.Default.Firewall(engine.DefaultParanoia)
	if err != nil {
		return nil, fmt.Errorf("website firewall: %w", err)
	}
	log.Info("website firewall ready", "rule_set", "OWASP CRS v4 on Coraza v3", "paranoia", engine.DefaultParanoia, "compiled_in", fw.Compiled.Round(time.Millisecond))
	prot := protect.New(engine.New(engine.NewClassifier(sigs, ranges, rdns), nil), log)
	if pf.geoCountry != "" || pf.geoASN != "" {
		geo, err := engine.OpenGeoIP(pf.geoCountry, pf.geoASN)
		if err != nil {
			return nil, fmt.Errorf("--geoip-*: %w", err)
		}
		prot.Engine.SetGeoIP(geo)
	}
	db, svc, err := sf.open(ctx, log, stderr, core.WithChangeHook(prot.Changed))
	if err != nil {
		return nil, err
	}
	prot.SetService(svc)
	configured, err := parseChallengeKey(pf.challengeKey)
	if err != nil {
		db.Close()
		return nil, err
	}
	// The configured key (if any) signs; the stored ones keep verifying, so
	// switching to a configured key does not re-challenge cleared visitors.
	keySource := func(ctx context.Context) (*challenge.Keys, error) {
		keys, err := svc.ChallengeKeys(ctx)
		if err != nil {
			return nil, fmt.Errorf("challenge keys: %w", err)
		}
		if configured != nil {
			return challenge.NewKeys(configured, keys...)
		}
		return challenge.NewKeys(keys[0], keys[1:]...)
	}
	ck, err := keySource(ctx)
	if err != nil {
		db.Close()
		return nil, err
	}
	var spent challenge.SpentSet = challenge.NewMemorySpent(svc.Now)
	var rdb *redis.Client
	var redisSpent *challenge.RedisSpent
	if pf.redisURL != "" {
		opt, err := redis.ParseURL(pf.redisURL)
		if err != nil {
			db.Close()
			return nil, fmt.Errorf("--redis-url: %w", err)
		}
		opt.DialTimeout, opt.ReadTimeout, opt.WriteTimeout = time.Second, 500*time.Millisecond, 500*time.Millisecond
		rdb = redis.NewClient(opt)
		if err := rdb.Ping(ctx).Err(); err != nil {
			log.Warn("Redis does not answer yet; rate limits and the challenge spent-set are per node until it does", "err", err)
		}
		redisSpent = sharedSpentSet(rdb, "", "the challenge spent-set", "a solved challenge could be replayed once on another node", log)
		spent = redisSpent
	}
	if pf.webBotAuth {
		if err := enableWebBotAuth(prot.Engine.Classifier(), pf.agentDirs, pf.agents, rdb, log); err != nil {
			db.Close()
			return nil, err
		}
	}
	prot.EnableChallenges(challenge.NewIssuer(ck, spent, svc.Now), pf.webServers)
	prot.RefreshChallengeKeys(keySource)
	eng := prot.Engine
	eng.SetGrantCache(pf.grantCache)
	rec := events.New(svc.RecordBatch, events.Options{GrantSample: pf.grantSample, Logger: log, Now: svc.Now, Counts: svc.RecordEventCounts,
		Country: func(ip netip.Addr) string { c, _ := eng.GeoIP().Lookup(ip); return c }})
	m := metrics.New(prot.Engine.Len, rec.Dropped, rec.Written, rec.Pending)
	prot.Observe(rec, m)
	hostname, _ := os.Hostname()
	m.WatchFleet(prot.Fleet(), hostname, role, version, role != server.RoleControl)
	// Findings and jobs (palisade_scan_*): counted where the core stores
	// them, so on the node that runs the job (or that an agent reports to).
	svc.SetScanObserver(m.Scans())
	decides := role != server.RoleControl
	var syncer *ratelimit.Syncer
	if rdb != nil && decides {
		syncer = ratelimit.NewSyncer(prot.Engine, ratelimit.NewRedis(rdb, ""), 0, log)
		m.WatchRedis(syncer.Shared, redisSpent.Shared, syncer.Failures)
	}
	if decides {
		if err := prot.Reload(ctx); err != nil {
			db.Close()
			return nil, fmt.Errorf("load websites into the engine: %w", err)
		}
		log.Info("decision engine loaded", "role", role, "websites", prot.Engine.Len(), "config_version", prot.Fleet().Version(), "signatures", len(sigs), "bot_range_lists", len(ranges.Info()), "bot_data_dir", pf.botDataDir)
	}
	bctx, cancel := context.WithCancel(ctx)
	if role != server.RoleEdge {
		go svc.RunMaintenance(bctx, time.Hour)
	}
	if decides {
		go prot.Run(bctx, pf.configPoll)
	} else {
		go prot.Fleet().WatchStore(bctx, db, pf.configPoll)
	}
	if syncer != nil {
		go syncer.Run(bctx)
	}
	sources, err := botdata.ParseSources(pf.botSources)
	if err != nil {
		cancel()
		db.Close()
		return nil, fmt.Errorf("--bot-source: %w", err)
	}
	go keepRangesFresh(bctx, prot.Engine.Classifier(), pf.botDataDir, pf.botRefresh, sources, log)
	recDone := make(chan struct{})
	if decides {
		go func() { rec.Run(bctx); close(recDone) }()
	} else {
		close(recDone)
	}
	pl := &plane{log: log, db: db, svc: svc, prot: prot, rec: rec}
	beat := &protect.Heartbeat{Service: svc, Fleet: prot.Fleet(), Role: role, Version: version, Dropped: rec.Dropped, Started: svc.Now(), Log: log}
	if rdb != nil {
		beat.Redis = func(ctx context.Context) error { return rdb.Ping(ctx).Err() }
	}
	pl.heartbeat = func(listen string) { beat.Name = protect.NodeName(listen); go beat.Run(bctx) }
	pl.stop = func() {
		cancel()
		<-recDone // the recorder writes what it still holds
		db.Close()
		if rdb != nil {
			rdb.Close()
		}
	}
	return pl, nil
}

// sharedSpentSet is a spent set in Redis under prefix, shared by the
// fleet, that logs when Redis stops answering (what is then per node, and
// the risk while it is) and when it answers again.
func sharedSpentSet(rdb *redis.Client, prefix, what, risk string, log *slog.Logger) *challenge.RedisSpent {
	s := challenge.NewRedisSpent(rdb, prefix)
	s.OnChange = func(up bool, err error) {
		if up {
			log.Info("Redis answers again: " + what + " is shared across nodes")
		} else {
			log.Warn("Redis does not answer: "+what+" is per node until it does ("+risk+")", "err", err)
		}
	}
	return s
}

// enableWebBotAuth gives the classifier a Web Bot Auth verifier: key
// directories fetched in the background (and those configured by file),
// the replay cache in Redis when there is one.
func enableWebBotAuth(cls *engine.Classifier, dirs, agents []string, rdb *redis.Client, log *slog.Logger) error {
	trusted, err := trustedAgents(agents)
	if err != nil {
		return err
	}
	o := webbotauth.Options{Fetcher: webbotauth.NewFetcher(), Logger: log, Shared: func(id string) bool { return slices.Contains(trusted, id) }}
	if rdb != nil {
		o.Replay = sharedSpentSet(rdb, webbotauth.RedisReplayPrefix, "the Web Bot Auth replay cache", "a signature could be used once more on another node", log)
	}
	v := webbotauth.New(o)
	for _, d := range dirs {
		origin, file, ok := strings.Cut(d, "=")
		if !ok || file == "" {
			return fmt.Errorf("--web-bot-auth-directory %q: give ORIGIN=FILE, e.g. https://agent.example=/etc/palisade/agent-keys.json: %w", d, errUsage)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return fmt.Errorf("--web-bot-auth-directory %s: %w", origin, err)
		}
		if err := v.AddDirectory(origin, b); err != nil {
			return fmt.Errorf("--web-bot-auth-directory %s: %w", origin, err)
		}
	}
	cls.SetTrustedAgents(trusted)
	cls.SetAgentVerifier(v)
	return nil
}

// trustedAgents reads --web-bot-auth-agent: identities as the verifier
// gives them (a host name, with its port when not 443); none given: the
// defaults; "none": no agent.
func trustedAgents(list []string) ([]string, error) {
	if len(list) == 0 {
		return engine.DefaultTrustedAgents, nil
	}
	if len(list) == 1 && list[0] == "none" {
		return nil, nil
	}
	for _, id := range list {
		host, port, hasPort := strings.Cut(id, ":")
		if len(id) > 255 || host == "" || strings.ContainsAny(host, "/@ ") || host != strings.ToLower(host) || !strings.Contains(host, ".") ||
			hasPort && (port == "" || port == "443" || strings.Trim(port, "0123456789") != "") {
			return nil, fmt.Errorf("--web-bot-auth-agent %q: give the agent's host name as its Signature-Agent names it, e.g. chatgpt.com (lower case, no scheme, path or :443): %w", id, errUsage)
		}
	}
	return list, nil
}

// defaultBotRefresh is how often serve downloads the verified-bot range
// lists unless --bot-refresh says otherwise; firstBotRefresh is how long after
// start it does so the first time (the shipped snapshot serves until then).
const (
	defaultBotRefresh = 24 * time.Hour
	firstBotRefresh   = time.Minute
)

// keepRangesFresh reloads the range lists from dir every ten minutes (so a
// 'palisade bots refresh' run elsewhere takes effect) and, when every > 0,
// downloads them a minute after start and then that often.
func keepRangesFresh(ctx context.Context, cls *engine.Classifier, dir string, every time.Duration, sources map[string]string, log *slog.Logger) {
	reload := time.NewTicker(10 * time.Minute)
	defer reload.Stop()
	var download <-chan time.Time
	if every > 0 {
		t := time.NewTimer(min(firstBotRefresh, every))
		defer t.Stop()
		download = t.C
	}
	for {
		r, err := engine.LoadBotRanges(dir)
		if err != nil {
			log.Warn("verified-bot range lists do not load; keeping the previous ones", "dir", dir, "err", err)
		} else {
			cls.SetRanges(r)
		}
		select {
		case <-ctx.Done():
			return
		case <-reload.C:
		case <-download:
			refreshRanges(ctx, sources, dir, log)
			download = time.After(every)
		}
	}
}

func refreshRanges(ctx context.Context, sources map[string]string, dir string, log *slog.Logger) {
	for _, r := range botdata.Refresh(ctx, nil, sources, dir) {
		if r.Err != nil {
			log.Warn("verified-bot range list not refreshed; keeping the last good copy", "list", r.Name, "err", r.Err)
		} else {
			log.Info("verified-bot range list refreshed", "list", r.Name, "prefixes", r.Prefixes)
		}
	}
}

func cmdServe(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	fs := newFlagSet("serve", "serve [flags]", stderr)
	sf := storeFlags{now: now}
	sf.register(fs)
	var pf planeFlags
	pf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on (host:port; port 0 picks a free one)")
	role := fs.String("role", "all", "which planes to run: all; edge (only the decision endpoints, deciding from the in-memory snapshot even while the store is down); control (only the APIs and dashboards)")
	smtpURL := fs.String("smtp-url", "", "deliver the outbox's emails through this server: smtp://user:pass@mail.example.net:587 (STARTTLS) or smtps://…:465; empty: partners fetch them (GET /v1/emails)")
	userAPIKey := fs.String("userapi-key", "", "PEM file of the RSA key that signs User API tokens (RS256); created when missing (default --data-dir/userapi-key.pem). Every node needs the same file")
	spoeAddr := fs.String("spoe-addr", "", "also answer HAProxy's SPOE (filter spoe) on this address (e.g. 127.0.0.1:9082; see deploy/haproxy); only from --web-server addresses")
	fastcgiAddr := fs.String("fastcgi-addr", "", "also answer Apache's mod_authnz_fcgi as a FastCGI authorizer on this address (e.g. 127.0.0.1:9081; see deploy/apache); only from --web-server addresses")
	reuseFile := fs.String("reuse-file", "", "count the requests nginx serves without asking (grants reused from its grant cache, files served on an asset pass), which deploy/nginx/palisade.conf appends as lines to this file; Palisade creates it (mode 0660) and frees what it has counted (docs/INTEGRATIONS.md, \"Reuse reports\"); default --data-dir/reuse.log; off: not read")
	reuseAddr := fs.String("reuse-addr", reuselog.DefaultAddr, "count the grants web servers reuse from their grant cache, reported as syslog lines over UDP on this address, only from --web-server addresses: mod_palisade's, and nginx's on another host configured with the syslog lines (docs/INTEGRATIONS.md, \"Reuse reports\"; nginx on this host writes --reuse-file); \"\": off (reused grants are then not counted)")
	smtpFrom := fs.String("smtp-from", "", "sender of delivered emails, such as \"Acme Hosting <noreply@acme.example>\" (required with --smtp-url)")
	var proxies, webServers, metricsAllow stringList
	fs.Var(&proxies, "trusted-proxy", "IP or CIDR of a load balancer in front of the APIs and dashboards, optionally =HEADER: the header it sets the client's address in (default X-Forwarded-For, right-most address that is not a trusted proxy; or e.g. 10.0.0.5=X-Real-IP for a proxy that overwrites X-Real-IP). Only that header is believed, only from that proxy (repeatable)")
	fs.Var(&webServers, "web-server", "IP or CIDR of a web server that asks for decisions: its forwarded client address (each integration's own header, see docs/INTEGRATIONS.md) is believed, and, when listed here, it may look websites up by Host on /v2.1/check without a server key (repeatable; not given: 127.0.0.0/8 and ::1 for addresses, and no keyless lookups)")
	clamdAddr := fs.String("clamd", "", "clamd that scans websites' files for malware: unix:/run/clamav/clamd.ctl or host:port; load Palisade's own signatures into it (palisade signatures write); empty: no file scans")
	osvFeed := fs.String("osv-feed", "", "vulnerability feed (OSV JSON) for patch checks: a file, a folder of records, a zip such as osv.dev's all.zip, or an https URL (fetched again when it changed); empty: no patch checks")
	scanWorkers := fs.Int("scan-workers", 1, "scan and backup jobs this node runs at once (0: none; edge nodes run none)")
	backupReads := fs.Int("backup-reads", core.DefaultBackupReads, "backup browses and downloads (restic processes) this node runs at once for the APIs and dashboards; one more is refused with 429 (0: this node does not browse or download backups; edge nodes never do). The node must reach the backup repositories: a local one only where that path holds it (docs/SCANNING.md)")
	backupDownloadMax := fs.Int64("backup-download-max-mib", core.DefaultBackupDownloadMax>>20, "the most MiB one backup download sends: a whole backup larger than this is refused before it starts, any other download is cut when it reaches it")
	fs.Var(&metricsAllow, "metrics-allow", "IP or CIDR that may read /metrics (repeatable; default 127.0.0.0/8 and ::1)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("serve takes no arguments, got %q: %w", fs.Args(), errUsage)
	}
	if *role != "all" && *role != "control" && *role != "edge" {
		return fmt.Errorf("--role %q: use all, edge or control: %w", *role, errUsage)
	}
	trusted, err := proxyFlag(proxies)
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
	pf.webServers = wsTrusted
	var mailer *mail.SMTP
	if *smtpURL != "" {
		if mailer, err = mail.Parse(*smtpURL, *smtpFrom); err != nil {
			return fmt.Errorf("%v: %w", err, errUsage)
		}
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	if sf.publicURL == "" {
		sf.publicURL = "http://" + ln.Addr().String()
	}
	pl, err := startPlane(ctx, &sf, &pf, *role, stderr)
	if err != nil {
		return err
	}
	defer pl.stop()
	pl.heartbeat(ln.Addr().String())
	if mailer != nil && *role == server.RoleEdge {
		pl.log.Warn("--smtp-url is ignored on an edge node: control nodes deliver the outbox")
		mailer = nil
	}
	if mailer != nil {
		mctx, stopMail := context.WithCancel(ctx)
		defer stopMail()
		mailer.Now = pl.svc.Now
		go pl.svc.RunMailer(mctx, mailer, 30*time.Second)
		pl.log.Info("delivering the outbox's emails", "smtp", mailer.Addr, "from", mailer.From.String())
	}
	if *scanWorkers < 0 || *scanWorkers > 64 {
		return fmt.Errorf("--scan-workers %d: 0 to 64: %w", *scanWorkers, errUsage)
	}
	if *backupReads < 0 || *backupReads > 64 {
		return fmt.Errorf("--backup-reads %d: 0 to 64: %w", *backupReads, errUsage)
	}
	if *backupDownloadMax < 1 || *backupDownloadMax > 1<<30 {
		return fmt.Errorf("--backup-download-max-mib %d: 1 to %d: %w", *backupDownloadMax, 1<<30, errUsage)
	}
	if *role != server.RoleEdge && *backupReads > 0 {
		// Browsing and downloading backups runs restic on the node that
		// answers, with the runner's cache (DATA-DIR/scan/restic).
		dir := filepath.Join(sf.dataDir, "scan")
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
		pl.svc.SetBackupReader(&scanrun.Reader{Dir: dir}, core.BackupReadLimits{Concurrent: *backupReads, MaxDownload: *backupDownloadMax << 20})
	}
	if *role != server.RoleEdge && *scanWorkers > 0 {
		runner, err := newScanRunner(sf.dataDir, *clamdAddr, *osvFeed, pl.svc, pl.log)
		if err != nil {
			return err
		}
		sctx, stopScans := context.WithCancel(ctx)
		defer stopScans()
		go runner.RunWorkers(sctx, *scanWorkers)
		// The schedules (every_hours of the scan settings) are queued by
		// the nodes that run jobs, once a minute on the service's clock.
		go runner.Schedule(sctx, time.Minute)
	}
	partners, err := pl.svc.Partners(ctx)
	if err != nil {
		return err
	}
	// Everything that can take time (generating the User API key on first
	// start) happens before the line that says Palisade is listening.
	if *userAPIKey == "" {
		*userAPIKey = filepath.Join(sf.dataDir, "userapi-key.pem")
	}
	var ukey *rsa.PrivateKey
	if *role != server.RoleEdge {
		if ukey, err = userapi.LoadOrCreateKey(*userAPIKey, pl.log); err != nil {
			return fmt.Errorf("--userapi-key: %w", err)
		}
	}
	for _, side := range []struct {
		flag, addr, what string
		serve            func(context.Context, net.Listener) error
	}{
		{"fastcgi-addr", *fastcgiAddr, "FastCGI authorizer for Apache", fcgiauth.New(pl.prot, wsTrusted, pl.log).Serve},
		{"spoe-addr", *spoeAddr, "SPOE agent for HAProxy", spoe.New(pl.prot, wsTrusted, pl.log).Serve},
	} {
		if side.addr == "" {
			continue
		}
		if *role == server.RoleControl {
			return fmt.Errorf("--%s serves decisions, which a --role control node does not: %w", side.flag, errUsage)
		}
		sln, err := net.Listen("tcp", side.addr)
		if err != nil {
			return fmt.Errorf("--%s %s: %w", side.flag, side.addr, err)
		}
		defer sln.Close()
		go func() {
			if err := side.serve(ctx, sln); err != nil {
				pl.log.Error(side.what+" stopped", "err", err)
			}
		}()
		fmt.Fprintf(stdout, "%s listening on %s\n", side.what, sln.Addr())
	}
	if (*reuseFile != "off" || *reuseAddr != "") && *role != server.RoleControl {
		// Reused grants are requests the websites served: plans count them.
		rl := reuselog.New(pl.prot.Engine, pl.rec, wsTrusted, pl.log)
		rl.Register(pl.prot.Metrics().Registry)
		if *reuseFile != "off" {
			// From nginx's buffered access log: a write per few hundred
			// reports instead of a datagram each (reuselog's file.go).
			path, explicit := *reuseFile, *reuseFile != ""
			if !explicit {
				path = filepath.Join(sf.dataDir, "reuse.log")
			}
			fr, err := rl.OpenFile(path)
			if err != nil && explicit {
				return fmt.Errorf("--reuse-file: %w", err)
			} else if err != nil {
				pl.log.Error("the grant reuse report file cannot be opened: requests nginx serves without asking are NOT counted (set --reuse-file to a path Palisade can create, or off)", "err", err)
			} else {
				go fr.Run(ctx)
				fmt.Fprintf(stdout, "grant reuse reports (file) read from %s\n", path)
			}
		}
		if *reuseAddr != "" {
			pc, err := net.ListenPacket("udp", *reuseAddr)
			if err != nil && *reuseAddr != reuselog.DefaultAddr {
				return fmt.Errorf("--reuse-addr %s: %w", *reuseAddr, err)
			} else if err != nil {
				pl.log.Error("grant reuse reports cannot be received: grants web servers reuse from their cache are NOT counted (free the address or set --reuse-addr)", "addr", *reuseAddr, "err", err)
			} else {
				go func() {
					if err := rl.Serve(ctx, pc); err != nil {
						pl.log.Error("grant reuse reports are no longer received: grants web servers reuse from their cache are NOT counted until palisade serve restarts", "addr", pc.LocalAddr().String(), "err", err)
					}
				}()
				fmt.Fprintf(stdout, "grant reuse reports (syslog, UDP) on %s\n", pc.LocalAddr())
			}
		}
	}
	h := server.NewHandler(server.Deps{Service: pl.svc, Logger: pl.log, TrustedProxies: trusted, Protector: pl.prot, WebServers: wsTrusted, MetricsAllowed: metricsTrusted, UserAPIKey: ukey, Role: *role})
	fmt.Fprintf(stdout, "palisade %s listening on http://%s (store: %s, role: %s)\n", version, ln.Addr(), describeStore(sf), *role)
	fmt.Fprintf(stdout, "API docs: %s/docs\n", sf.publicURL)
	if len(partners) == 0 {
		fmt.Fprintf(stdout, "No partners yet. Create the first one in another shell (it prints the API key once):\n  palisade partner create --name \"My Hosting\"%s\n", storeArgs(sf))
	}
	return server.Serve(ctx, ln, h, pf.grace, pl.log)
}

func cmdProxy(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	fs := newFlagSet("proxy", "proxy --upstream http://127.0.0.1:9000 [--site example.com] | --route HOST=URL ... [flags]", stderr)
	sf := storeFlags{now: now}
	sf.register(fs)
	var pf planeFlags
	pf.register(fs)
	addr := fs.String("addr", "127.0.0.1:8081", "address visitors reach (e.g. :80 when nothing else serves the site)")
	upstream := fs.String("upstream", "", "the application's address, for every site (or only --site)")
	site := fs.String("site", "", "with --upstream: the only host to serve (others get 421)")
	var routes, proxies stringList
	fs.Var(&routes, "route", "HOST=URL: send HOST's requests to URL (repeatable, for many sites)")
	fs.Var(&proxies, "trusted-proxy", "IP or CIDR of a load balancer in front, optionally =HEADER: the header it sets the client's address in (default X-Forwarded-For, right-most address that is not a trusted proxy; e.g. 10.0.0.5=X-Real-IP). Only that header is believed, only from that proxy (repeatable)")
	var po proxy.Options
	fs.DurationVar(&po.UpstreamTimeout, "upstream-timeout", proxy.DefaultUpstreamTimeout, "longest the application may stay silent: for a response's headers (then 504) and between two reads of a response or WebSocket (then it is cut)")
	fs.DurationVar(&po.ConnectTimeout, "connect-timeout", proxy.DefaultConnectTimeout, "longest wait to connect to the application (then 504)")
	fs.DurationVar(&po.ClientTimeout, "client-timeout", proxy.DefaultClientTimeout, "longest a visitor may stay silent while sending a body, or not take the response (then the connection is closed)")
	fs.DurationVar(&po.BodyTimeout, "body-timeout", bodypeek.DefaultTimeout, "time a visitor has to send the part of its body the website firewall reads (the first 128 KiB; then 408)")
	fs.IntVar(&po.IdleConns, "upstream-idle-conns", proxy.DefaultIdleConns, "idle keep-alive connections kept per application (at least the concurrent requests you expect)")
	fs.DurationVar(&po.IdleTimeout, "upstream-idle-timeout", proxy.DefaultIdleTimeout, "close a keep-alive connection to the application idle for that long")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	for name, d := range map[string]time.Duration{"upstream-timeout": po.UpstreamTimeout, "connect-timeout": po.ConnectTimeout, "client-timeout": po.ClientTimeout, "body-timeout": po.BodyTimeout, "upstream-idle-timeout": po.IdleTimeout} {
		if d <= 0 {
			return fmt.Errorf("--%s %v: use a duration above 0 (e.g. 30s): %w", name, d, errUsage)
		}
	}
	if po.IdleConns <= 0 {
		return fmt.Errorf("--upstream-idle-conns %d: use a number above 0: %w", po.IdleConns, errUsage)
	}
	var rts []proxy.Route
	if *upstream != "" {
		rt, err := proxy.ParseRoute(*upstream)
		if err != nil {
			return fmt.Errorf("--upstream: %v", err)
		}
		if *site != "" {
			d, err := core.NormalizeDomain(*site)
			if err != nil {
				return fmt.Errorf("--site: %s", core.ErrorMessage(err))
			}
			rt.Host = d
		}
		rts = append(rts, rt)
	}
	for _, r := range routes {
		rt, err := proxy.ParseRoute(r)
		if err != nil || rt.Host == "" {
			return fmt.Errorf("--route %q: want HOST=http://upstream: %w", r, errUsage)
		}
		rts = append(rts, rt)
	}
	if len(rts) == 0 {
		return fmt.Errorf("proxy needs --upstream or at least one --route: %w", errUsage)
	}
	trusted, err := proxyFlag(proxies)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("listen on %s: %w", *addr, err)
	}
	defer ln.Close()
	pl, err := startPlane(ctx, &sf, &pf, server.RoleAll, stderr)
	if err != nil {
		return err
	}
	defer pl.stop()
	pl.heartbeat(ln.Addr().String())
	fmt.Fprintf(stdout, "palisade %s proxy listening on http://%s (store: %s)\n", version, ln.Addr(), describeStore(sf))
	for _, rt := range rts {
		host := rt.Host
		if host == "" {
			host = "*"
		}
		fmt.Fprintf(stdout, "  %s -> %s\n", host, rt.Upstream)
	}
	// Its own server, not server.Serve's: whole-request read and write
	// limits would cut long uploads, downloads, event streams and
	// WebSockets; the proxy bounds silence instead (--client-timeout,
	// --upstream-timeout).
	return proxy.NewWith(pl.prot, rts, trusted, pl.log, po).Serve(ctx, ln, pf.grace)
}

// proxyFlag parses --trusted-proxy: IP or CIDR, optionally =HEADER.
func proxyFlag(vals []string) (netutil.Proxies, error) {
	var out netutil.Proxies
	for _, v := range vals {
		p, err := netutil.ParseProxy(v)
		if err != nil {
			return nil, fmt.Errorf("--trusted-proxy %q: %v: %w", v, err, errUsage)
		}
		out = append(out, p)
	}
	return out, nil
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

func cmdMigrate(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	fs := newFlagSet("migrate", "migrate [flags]", stderr)
	sf := storeFlags{now: now}
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

// parseChallengeKey reads --challenge-key: hex or base64 (standard or URL
// alphabet, padded or not), at least 32 bytes once decoded.
func parseChallengeKey(v string) ([]byte, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return nil, nil
	}
	var k []byte
	if b, err := hex.DecodeString(v); err == nil {
		k = b
	} else {
		for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
			if b, err := enc.DecodeString(v); err == nil {
				k = b
				break
			}
		}
	}
	if k == nil {
		return nil, fmt.Errorf("--challenge-key: not hex or base64 (make one with: openssl rand -hex 32): %w", errUsage)
	}
	if len(k) < 32 {
		return nil, fmt.Errorf("--challenge-key: %d bytes; use at least 32 (openssl rand -hex 32): %w", len(k), errUsage)
	}
	return k, nil
}
