package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/malware/signatures"
	"github.com/palisadehq/palisade/internal/patchcheck"
	"github.com/palisadehq/palisade/internal/scanrun"
)

// newScanRunner builds the node's runner of scan and backup jobs: clamd
// (--clamd) for files, the OSV feed (--osv-feed) for patch checks, restic
// from PATH for backups; its state lives in DATA-DIR/scan.
func newScanRunner(dataDir, clamdAddr, feed string, svc *core.Service, log *slog.Logger) (*scanrun.Runner, error) {
	host, _ := os.Hostname()
	r := &scanrun.Runner{Service: svc, Node: fmt.Sprintf("%s/%d", host, os.Getpid()), Dir: filepath.Join(dataDir, "scan"), Log: log, Now: svc.Now}
	if err := os.MkdirAll(r.Dir, 0o700); err != nil {
		return nil, err
	}
	var err error
	if r.Clamd, err = clamdClient(clamdAddr); err != nil {
		return nil, err
	}
	if r.Clamd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := r.Clamd.Ping(ctx)
		cancel()
		if err != nil {
			log.Warn("clamd does not answer yet: file scans fail until it does", "clamd", clamdAddr, "err", err)
		}
	}
	if feed != "" {
		if strings.HasPrefix(feed, "http://") {
			return nil, fmt.Errorf("--osv-feed %q: use https:// or a local path: %w", feed, errUsage)
		}
		if strings.HasPrefix(feed, "https://") {
			src := &patchcheck.FeedSource{Fetcher: patchcheck.Fetcher{URL: feed}, CacheDir: filepath.Join(r.Dir, "feed")}
			r.Feed = src.Feed
		} else {
			if _, err := os.Stat(feed); err != nil {
				return nil, fmt.Errorf("--osv-feed: %w: %w", err, errUsage)
			}
			r.Feed = (&fileFeed{path: feed}).get
		}
	}
	return r, nil
}

// fileFeed reads a local feed again only when its modification time
// changed (a zip of every advisory is large).
type fileFeed struct {
	path string
	mu   sync.Mutex
	mod  time.Time
	feed *patchcheck.Feed
}

func (f *fileFeed) get(ctx context.Context) (*patchcheck.Feed, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	st, err := os.Stat(f.path)
	if err != nil {
		return f.feed, err
	}
	if f.feed != nil && st.ModTime().Equal(f.mod) {
		return f.feed, nil
	}
	feed, err := patchcheck.Load(ctx, f.path, patchcheck.LoadOptions{})
	if err != nil {
		return f.feed, err
	}
	f.feed, f.mod = feed, st.ModTime()
	return feed, nil
}

// clamdClient is the client of --clamd: unix:/path/to/socket or
// host:port; nil for "".
func clamdClient(addr string) (*malware.Client, error) {
	switch {
	case addr == "":
		return nil, nil
	case strings.HasPrefix(addr, "unix:"):
		return malware.NewClient("unix", strings.TrimPrefix(addr, "unix:"), malware.ClientOptions{}), nil
	case strings.Contains(addr, ":"):
		return malware.NewClient("tcp", addr, malware.ClientOptions{}), nil
	}
	return nil, fmt.Errorf("--clamd %q: unix:/path/to/socket or host:port: %w", addr, errUsage)
}

const signaturesUsage = `Usage: palisade signatures write --dir DIR

Writes Palisade's own web-malware signatures (ClamAV .ndb, .ldb and YARA
.yar files) into DIR, clamd's DatabaseDirectory (Debian: /var/lib/clamav),
beside the official ones freshclam keeps there; then reload clamd
(clamdscan --reload, or RELOAD on its socket). Run it again after each
Palisade upgrade.
`

func cmdSignatures(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "write" {
		fmt.Fprint(stderr, signaturesUsage)
		if len(args) > 0 && (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
			return nil
		}
		return errUsage
	}
	fs := newFlagSet("signatures write", "signatures write --dir DIR", stderr)
	dir := fs.String("dir", "", "clamd's database folder, e.g. /var/lib/clamav")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if *dir == "" || fs.NArg() > 0 {
		fmt.Fprint(stderr, signaturesUsage)
		return fmt.Errorf("signatures write needs --dir and nothing else: %w", errUsage)
	}
	if err := signatures.WriteDatabase(*dir); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote Palisade's signatures (digest %s) to %s; reload clamd to load them\n", signatures.Digest(), *dir)
	return nil
}
