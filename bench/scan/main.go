// Command scan measures the malware scan (internal/malware.Scan on a real
// clamd) over a WordPress-like tree of its own making: a full scan, an
// incremental rescan with nothing changed, and one with a few files
// changed. It starts its own clamd, as internal/malware/clamdtest does
// (Palisade's signatures only, nothing downloaded), and removes what it
// wrote when it ends.
//
//	go run ./bench/scan                    # 10,000 files, 2 workers
//	go run ./bench/scan -files 2000 -workers 4 -changed 10
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/malware/signatures"
	"github.com/palisadehq/palisade/internal/sitefiles"
)

func main() {
	files := flag.Int("files", 10_000, "files in the tree")
	workers := flag.Int("workers", 2, "malware.Options.Workers (files streamed to clamd at once)")
	changed := flag.Int("changed", 10, "files changed before the second rescan")
	seed := flag.Uint64("seed", 1, "the tree's seed (the same seed writes the same tree)")
	keep := flag.Bool("keep", false, "keep the working folder (tree, clamd's log)")
	flag.Parse()
	if err := run(*files, *workers, *changed, *seed, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "scan bench:", err)
		os.Exit(1)
	}
}

func run(nfiles, workers, nchanged int, seed uint64, keep bool) error {
	dir, err := os.MkdirTemp("", "palisade-bench-scan-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("working folder:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	root := filepath.Join(dir, "site")
	t0 := time.Now()
	paths, size, err := writeTree(root, nfiles, seed)
	if err != nil {
		return err
	}
	fmt.Printf("tree: %d files, %.1f MB, written in %s\n", len(paths), float64(size)/1e6, time.Since(t0).Round(time.Millisecond))

	client, stop, err := startClamd(dir)
	if err != nil {
		return err
	}
	defer stop()
	ctx := context.Background()
	version, err := client.Version(ctx)
	if err != nil {
		return err
	}
	fmt.Printf("clamd: %s (Palisade's signatures only, digest %s); Go %s, GOMAXPROCS %d, workers %d\n",
		version, signatures.Digest(), runtime.Version(), runtime.GOMAXPROCS(0), workers)

	fsys, err := sitefiles.Local(root)
	if err != nil {
		return err
	}
	defer fsys.Close()
	opts := malware.Options{Client: client, Workers: workers, Engine: version + " " + signatures.Digest()}

	report := func(name string, res malware.Result) {
		secs := res.Duration.Seconds()
		fmt.Printf("%-22s %8s  seen %6d  scanned %6d  unchanged %6d  skipped %d  findings %d  %7.0f files/s  %6.1f MB/s\n",
			name, res.Duration.Round(time.Millisecond), res.FilesSeen, res.FilesScanned, res.FilesUnchanged, res.FilesSkipped,
			len(res.Findings), float64(res.FilesSeen)/secs, float64(res.Bytes)/1e6/secs)
	}
	full, state, err := malware.Scan(ctx, fsys, malware.State{}, opts)
	if err != nil {
		return err
	}
	report("full scan", full)
	if len(full.Findings) > 0 || full.FilesScanned != len(paths) {
		return fmt.Errorf("the clean tree: %d findings (first %+v), %d of %d files scanned", len(full.Findings), full.Findings[0], full.FilesScanned, len(paths))
	}

	same, state, err := malware.Scan(ctx, fsys, state, opts)
	if err != nil {
		return err
	}
	report("rescan, no change", same)
	if same.FilesScanned != 0 {
		return fmt.Errorf("rescan of an unchanged tree read %d files", same.FilesScanned)
	}

	// Change files as an editor would: new content, a new mtime.
	r := rand.New(rand.NewPCG(seed, 99))
	later := time.Now().Add(time.Minute)
	for i := range nchanged {
		p := filepath.Join(root, filepath.FromSlash(paths[r.IntN(len(paths))]))
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		fmt.Fprintf(f, "\n/* edited %d */\n", i)
		f.Close()
		if err := os.Chtimes(p, later, later); err != nil {
			return err
		}
	}
	edited, _, err := malware.Scan(ctx, fsys, state, opts)
	if err != nil {
		return err
	}
	report(fmt.Sprintf("rescan, %d changed", nchanged), edited)
	if edited.FilesScanned == 0 || edited.FilesScanned > nchanged {
		return fmt.Errorf("rescan after %d edits read %d files", nchanged, edited.FilesScanned)
	}
	return nil
}

// startClamd starts clamd on Palisade's signatures under dir, as
// internal/malware/clamdtest does for tests, at the lowest priority.
func startClamd(dir string) (*malware.Client, func(), error) {
	bin, err := exec.LookPath("clamd")
	if err != nil {
		bin = "/usr/sbin/clamd"
		if _, serr := os.Stat(bin); serr != nil {
			return nil, nil, errors.New("clamd is not installed (Debian package clamav-daemon)")
		}
	}
	db := filepath.Join(dir, "db")
	if err := signatures.WriteDatabase(db); err != nil {
		return nil, nil, err
	}
	sock := filepath.Join(dir, "clamd.sock")
	conf := filepath.Join(dir, "clamd.conf")
	cfg := strings.Join([]string{
		"LocalSocket " + sock, "DatabaseDirectory " + db, "LogFile " + filepath.Join(dir, "clamd.log"),
		"PidFile " + filepath.Join(dir, "clamd.pid"), "TemporaryDirectory " + dir, "StreamMaxLength 30M",
		"MaxThreads 4", "SelfCheck 0", "Foreground yes", "",
	}, "\n")
	if err := os.WriteFile(conf, []byte(cfg), 0o600); err != nil {
		return nil, nil, err
	}
	cmd := exec.Command(bin, "--foreground", "--config-file="+conf)
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return nil, nil, fmt.Errorf("starting clamd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop := func() {
		cmd.Process.Kill()
		<-exited
	}
	client := malware.NewClient("unix", sock, malware.ClientOptions{MaxConns: 4})
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		err := client.Ping(ctx)
		cancel()
		if err == nil {
			return client, stop, nil
		}
		select {
		case werr := <-exited:
			return nil, nil, fmt.Errorf("clamd exited (%v): %s", werr, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			stop()
			return nil, nil, fmt.Errorf("clamd did not answer PING within 60 s: %v", err)
		}
	}
}
