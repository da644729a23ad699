package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/scanagent"
)

const agentUsage = `palisade agent runs on a web server and scans the websites whose files
are there for Palisade (docs/SCANNING.md, "Set-up for a fleet with agents"). It asks
Palisade over HTTPS for the files scans of the websites whose scan settings
say files.source.kind "agent" with this agent's name, scans their document
roots with the local clamd (Palisade's own signatures loaded: palisade
signatures write), and sends the findings back. It changes a file only
when Palisade asks for an action on a finding (quarantine, restore, clean);
the quarantine is kept under --state-dir on this server.

Create the agent and its key on Palisade first (the key is shown once):
  curl -H "Authorization: Bearer $PARTNER_KEY" -H "Content-Type: application/json" \
       -d '{"name":"web01"}' \
       https://palisade.example.net/v1/scan-agents
and put the key alone in the key file, readable by the agent's user only.

`

func cmdAgent(ctx context.Context, args []string, getenv func(string) string, now func() time.Time, stdout, stderr io.Writer) error {
	fs := newFlagSet("agent", "agent --server URL --key-file PATH --clamd ADDR --root DIR [flags]", stderr)
	usage := fs.Usage
	fs.Usage = func() { fmt.Fprint(stderr, agentUsage); usage() }
	server := fs.String("server", "", "Palisade's URL, https://palisade.example.net (http:// only to a loopback address)")
	keyFile := fs.String("key-file", "", "file holding the agent's key (pak_..., from POST /v1/scan-agents); keep it readable by this user only")
	caFile := fs.String("ca-file", "", "PEM certificates to trust for --server besides the system's (a private CA)")
	clamdAddr := fs.String("clamd", "", "the local clamd: unix:/run/clamav/clamd.ctl or host:port")
	var roots stringList
	fs.Var(&roots, "root", "folder the agent may scan (repeatable, or comma-separated): a document root Palisade names outside every --root is refused")
	stateDir := fs.String("state-dir", "/var/lib/palisade-agent", "where the agent keeps what the last scan of each website saw (incremental scans)")
	poll := fs.Duration("poll", 30*time.Second, "how often to ask Palisade for work when there was none")
	workers := fs.Int("workers", 2, "files streamed to clamd at once")
	filesPerSec := fs.Float64("files-per-second", 0, "at most this many files read per second (0: no bound), so a scan does not starve the websites")
	bytesPerSec := fs.Float64("bytes-per-second", 0, "at most this many bytes read per second (0: no bound)")
	maxFile := fs.Int64("max-file-size", 25<<20, "larger files are skipped (with a note); keep it at or under clamd's StreamMaxLength")
	once := fs.Bool("once", false, "run at most one job, then exit (for a timer instead of a service)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	logFormat := fs.String("log-format", "text", "text or json")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("agent takes flags only, not %q: %w", fs.Arg(0), errUsage)
	}
	log, err := newLogger(stderr, *logLevel, *logFormat)
	if err != nil {
		return fmt.Errorf("%v: %w", err, errUsage)
	}
	u, err := url.Parse(*server)
	switch {
	case *server == "" || err != nil || u.Host == "" || (u.Scheme != "https" && u.Scheme != "http"):
		return fmt.Errorf("--server: Palisade's URL, such as https://palisade.example.net: %w", errUsage)
	case u.Scheme == "http" && !loopbackHost(u.Hostname()):
		return fmt.Errorf("--server %s: use https:// (the agent's key and the customers' file names travel in it); http:// only to a loopback address: %w", *server, errUsage)
	}
	if *keyFile == "" {
		return fmt.Errorf("--key-file is required: %w", errUsage)
	}
	b, err := os.ReadFile(*keyFile)
	if err != nil {
		return fmt.Errorf("--key-file: %w", err)
	}
	key := strings.TrimSpace(string(b))
	if !strings.HasPrefix(key, "pak_") || strings.ContainsAny(key, " \t\r\n") {
		return fmt.Errorf("--key-file %s: holds no agent key (pak_..., from POST /v1/scan-agents)", *keyFile)
	}
	if st, err := os.Stat(*keyFile); err == nil && st.Mode().Perm()&0o077 != 0 {
		log.Warn("the key file can be read by other users: chmod 600 it", "key_file", *keyFile)
	}
	clamd, err := clamdClient(*clamdAddr)
	if err != nil {
		return err
	}
	if clamd == nil {
		return fmt.Errorf("--clamd is required: the agent scans with the local clamd: %w", errUsage)
	}
	if len(roots) == 0 {
		return fmt.Errorf("--root is required: the folders (document roots) this agent may scan: %w", errUsage)
	}
	for i, r := range roots {
		if !filepath.IsAbs(r) {
			return fmt.Errorf("--root %q: an absolute path: %w", r, errUsage)
		}
		roots[i] = filepath.Clean(r)
	}
	if *workers < 1 || *workers > 64 || *maxFile < 1 || *filesPerSec < 0 || *bytesPerSec < 0 || *poll < time.Second {
		return fmt.Errorf("--workers 1 to 64, --max-file-size above 0, paces 0 or more, --poll at least 1s: %w", errUsage)
	}
	if err := os.MkdirAll(*stateDir, 0o700); err != nil {
		return fmt.Errorf("--state-dir: %w", err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	if *caFile != "" {
		pem, err := os.ReadFile(*caFile)
		if err != nil {
			return fmt.Errorf("--ca-file: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return fmt.Errorf("--ca-file %s: no PEM certificate in it", *caFile)
		}
		tr.TLSClientConfig = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	ag := &scanagent.Agent{Server: *server, Key: key, HTTP: &http.Client{Transport: tr, Timeout: 60 * time.Second}, Clamd: clamd, Roots: roots,
		Dir: *stateDir, Poll: *poll, Now: now, Log: log,
		Scan: malware.Options{Workers: *workers, MaxFileSize: *maxFile, FilesPerSecond: *filesPerSec, BytesPerSecond: *bytesPerSec}}
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := clamd.Ping(pctx); err != nil {
		log.Warn("clamd does not answer yet: scans fail until it does", "clamd", *clamdAddr, "err", err)
	}
	cancel()
	if *once {
		ran, err := ag.RunOnce(ctx)
		if err != nil {
			return err
		}
		if ran {
			fmt.Fprintln(stdout, "ran one job")
		} else {
			fmt.Fprintln(stdout, "no job")
		}
		return nil
	}
	log.Info("palisade agent started", "server", *server, "roots", roots.String())
	err = ag.Run(ctx)
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}

// loopbackHost says whether h is a loopback address or localhost.
func loopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback()
}
