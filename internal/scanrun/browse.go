package scanrun

import (
	"context"
	"errors"
	"io"
	"strings"

	"github.com/palisadehq/palisade/internal/backup"
	"github.com/palisadehq/palisade/internal/core"
)

// Reader is the core's BackupReader on this node: it browses and
// downloads a website's backups with restic, against the repository in
// the website's settings, with restic's cache under Dir (the runner's
// DATA-DIR/scan). A local repository is read only if this node holds it
// (see docs/SCANNING.md: in a fleet, the nodes answering the API must
// reach it).
type Reader struct {
	// Dir is the runner's directory (restic's cache is Dir/restic).
	Dir string
	// Restic is the restic executable ("" looks it up in PATH).
	Restic string
}

var _ core.BackupReader = (*Reader)(nil)

func (r *Reader) repo(st core.ScanSettings) *backup.Repo {
	return (&Runner{Dir: r.Dir, Restic: r.Restic}).repo(st)
}

// Browse lists one folder of a website's snapshot.
func (r *Reader) Browse(ctx context.Context, st core.ScanSettings, site, snapshot, dir string, limit int) (core.BackupFolder, error) {
	l, err := r.repo(st).Ls(ctx, site, snapshot, dir, limit)
	if err != nil {
		return core.BackupFolder{}, readErr(err)
	}
	f := core.BackupFolder{Truncated: l.Truncated, Entries: make([]core.BackupEntry, 0, len(l.Entries))}
	for _, n := range l.Entries {
		f.Entries = append(f.Entries, core.BackupEntry{Name: n.Name, Path: n.Path, Type: n.Type, Size: n.Size, Mode: n.Mode.String(), ModTime: n.ModTime})
	}
	return f, nil
}

// Download writes include of a website's snapshot to w as a .tar.gz,
// streamed from restic (backup.Repo.RestoreToArchive): no staging folder,
// restic stopped when ctx ends or w refuses bytes.
func (r *Reader) Download(ctx context.Context, st core.ScanSettings, site, snapshot, include string, w io.Writer) error {
	return readErr(r.repo(st).RestoreToArchive(ctx, site, snapshot, include, w))
}

// readErr maps the engine's not-found and invalid to the core's; restic's
// own errors stay as they are (the core reports them as unavailable).
func readErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, backup.ErrNotFound):
		return core.Errorf(core.ENOTFOUND, "%s", trimEngine(err))
	case errors.Is(err, backup.ErrInvalid):
		return core.Errorf(core.EINVALID, "%s", trimEngine(err))
	}
	return err
}

// trimEngine drops the engine's "backup: " prefix from a message.
func trimEngine(err error) string {
	s := err.Error()
	for _, p := range []string{backup.ErrNotFound.Error() + ": ", backup.ErrInvalid.Error() + ": "} {
		s = strings.TrimPrefix(s, p)
	}
	return s
}
