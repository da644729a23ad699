//go:build linux

package sitefiles

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// A document root whose parent the site's owner controls can be swapped for
// a symbolic link to any directory of the host (cPanel's
// /home/<user>/public_html: /home/<user> belongs to the user). Local must
// not then serve the link's target as the website's files.
func TestAttackLocalRootThroughSymlink(t *testing.T) {
	base := t.TempDir()
	host := filepath.Join(base, "host-secrets")
	mkfiles(t, host, map[string]string{"shadow": "root:$6$secret"})
	home := filepath.Join(base, "home", "user")
	if err := os.MkdirAll(home, 0o755); err != nil {
		t.Fatal(err)
	}
	docroot := filepath.Join(home, "public_html")
	if err := os.Symlink(host, docroot); err != nil { // the user's swap
		t.Fatal(err)
	}
	f, err := Local(docroot)
	if err == nil {
		defer f.Close()
		if _, err := f.Stat(context.Background(), "shadow"); err == nil {
			t.Fatal("Local served a directory outside the document root through a symbolic link in its path")
		}
		t.Fatal("Local accepted a root that resolves through a symbolic link")
	}
	// A relative spelling of a real directory still works.
	real := filepath.Join(base, "real")
	mkfiles(t, real, map[string]string{"index.php": "<?php"})
	f, err = Local(real + "/./")
	if err != nil {
		t.Fatalf("real directory refused: %v", err)
	}
	f.Close()
}

// Open checks the type before opening, but a file swapped for a FIFO in
// between must not leave Open blocked for ever in open(2).
func TestAttackLocalOpenFIFOSwap(t *testing.T) {
	site := t.TempDir()
	reg := filepath.Join(site, "f")
	fifo := filepath.Join(site, "p")
	f, err := Local(site)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	stop := make(chan struct{})
	swapped := make(chan struct{})
	go func() {
		defer close(swapped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			os.WriteFile(reg+".new", []byte("x"), 0o644)
			os.Rename(reg+".new", reg)
			syscall.Mkfifo(fifo, 0o644)
			os.Rename(fifo, reg)
		}
	}()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < 20000; i++ {
			rc, err := f.Open(context.Background(), "f")
			if err == nil {
				rc.Close()
			}
		}
		done <- nil
	}()
	select {
	case <-done:
		close(stop)
		<-swapped
	case <-time.After(20 * time.Second):
		close(stop)
		<-swapped
		// Unblock the stuck open so the test process can end.
		for i := 0; i < 10; i++ {
			if w, err := os.OpenFile(reg, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
				w.Close()
			}
		}
		t.Fatal("Open blocked on a file swapped for a FIFO")
	}
}
