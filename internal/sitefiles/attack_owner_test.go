//go:build unix

package sitefiles

import (
	"context"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// Palisade runs as root to reach every site; a file it writes where none
// was (a quarantined file restored after it was removed) must belong to
// the site's owner, not to root: otherwise the customer can no longer edit
// the file Palisade gave back.
func TestAttackLocalWriteNewFileOwner(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to give files away")
	}
	site := t.TempDir()
	if err := os.Chown(site, 4321, 4322); err != nil {
		t.Fatal(err)
	}
	f, err := Local(site)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := f.WriteFile(context.Background(), "restored.php", []byte("<?php"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := os.Lstat(filepath.Join(site, "restored.php"))
	if err != nil {
		t.Fatal(err)
	}
	st := info.Sys().(*syscall.Stat_t)
	if st.Uid != 4321 || st.Gid != 4322 {
		t.Fatalf("new file owned by %d:%d, want the folder's owner 4321:4322", st.Uid, st.Gid)
	}
}
