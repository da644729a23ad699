package scanrun

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/patchcheck"
	"github.com/palisadehq/palisade/internal/sitefiles"
)

// An update job (core.ScanUpdate, issue 22's SMART Patch): a backup of the
// website first (the backup job's own code), then the operator's update
// command for one component (patchcheck.Updater: no shell, the component's
// type and slug as whole arguments, checked again), then a patch check of
// the website again. When the backup fails the command does not run.

// UpdateOutputMax bounds the command's output kept in the summary (the
// last bytes).
const UpdateOutputMax = 8 << 10

// UpdateSummary is what an update job stores as its summary.
type UpdateSummary struct {
	CMS    string         `json:"cms"`
	Root   string         `json:"root,omitempty"` // the install's folder below the document root
	Type   string         `json:"type"`
	Slug   string         `json:"slug,omitempty"`
	Backup *BackupSummary `json:"backup,omitempty"`
	// BackupError is why the backup failed (then nothing was updated).
	BackupError string               `json:"backup_error,omitempty"`
	Command     *UpdateCommandResult `json:"command,omitempty"` // nil when it did not run
	// VersionBefore and VersionAfter are the component's version as the
	// files said before the backup and after the command ("" when not
	// found).
	VersionBefore string `json:"version_before"`
	VersionAfter  string `json:"version_after"`
	// After is the patch check run after the command (with the feed, its
	// findings recorded as a patch check's), or the inventory alone when
	// this node has no feed.
	After *PatchSummary `json:"after,omitempty"`
}

// UpdateCommandResult is how the update command ran.
type UpdateCommandResult struct {
	Args       []string `json:"args"`
	Exit       int      `json:"exit"` // -1 when it did not exit by itself
	Output     string   `json:"output"`
	Truncated  bool     `json:"truncated,omitempty"`
	DurationMS int64    `json:"duration_ms"`
}

func (r *Runner) update(ctx context.Context, j core.ScanJob, st core.ScanSettings) (any, error) {
	plan, err := r.Service.UpdateJob(j)
	if err != nil {
		return nil, err
	}
	tmpl, err := r.Service.UpdateCommand()
	if err != nil {
		return nil, err
	}
	if st.Files.Source.Kind != "local" {
		return nil, errors.New("updates run in a local document root: the website's files are not on this machine")
	}
	if st.Backup.Repository == "" || !st.Backup.Enabled {
		return nil, errors.New("the website has no backups set up and switched on: no update without a backup")
	}
	dir := st.Files.Source.Path
	if plan.Root != "" {
		dir = filepath.Join(dir, filepath.FromSlash(plan.Root))
	}
	if err := insideRoot(st.Files.Source.Path, dir); err != nil {
		return nil, err
	}
	var owner string
	if core.UpdateCommandUsesOwner(tmpl) {
		// The command runs as the folder's owner: the website's own user,
		// never root (ExpandUpdateCommand refuses that).
		if owner, err = folderOwner(dir); err != nil {
			return nil, err
		}
	}
	args, err := core.ExpandUpdateCommand(tmpl, dir, plan.Type, plan.Slug, owner)
	if err != nil {
		return nil, err
	}
	sum := &UpdateSummary{CMS: plan.CMS, Root: plan.Root, Type: plan.Type, Slug: plan.Slug}
	if sum.VersionBefore, err = r.componentVersion(ctx, st, plan); err != nil {
		return sum, err
	}
	u := &patchcheck.Updater{Command: args, Dir: dir, MaxOutput: UpdateOutputMax,
		Env: []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"), "LANG=C.UTF-8"},
		Before: func(ctx context.Context) error {
			b, err := r.backup(ctx, j, st)
			if bs, ok := b.(BackupSummary); ok {
				sum.Backup = &bs
			}
			if err == nil && (sum.Backup == nil || sum.Backup.Files == nil || sum.Backup.Files.ID == "") {
				err = errors.New("restic made no snapshot")
			}
			if err != nil {
				sum.BackupError = err.Error()
				return err
			}
			// Checked again now, just before the command: the website's
			// owner may have swapped the folder for a symbolic link while
			// the backup ran.
			return insideRoot(st.Files.Source.Path, dir)
		}}
	res, uerr := u.Run(ctx)
	if errors.Is(uerr, patchcheck.ErrBeforeFailed) {
		if sum.BackupError == "" {
			return sum, fmt.Errorf("nothing was updated (backup %s taken): %w", sum.Backup.Files.ShortID, uerr)
		}
		return sum, fmt.Errorf("the backup before the update failed, nothing was updated: %w", uerr)
	}
	sum.Command = &UpdateCommandResult{Args: args, Exit: res.ExitCode, Output: strings.ToValidUTF8(string(res.Output), "\uFFFD"),
		Truncated: res.Truncated, DurationMS: res.Duration.Milliseconds()}
	// The check after, whatever the command did: the versions the files
	// now have.
	after, cerr := r.checkAfter(ctx, j, st)
	sum.After = after
	if v, err := r.componentVersion(ctx, st, plan); err == nil {
		sum.VersionAfter = v
	} else if cerr == nil {
		cerr = err
	}
	if uerr != nil {
		return sum, fmt.Errorf("the update command failed (backup %s taken first): %w", sum.Backup.Files.ShortID, uerr)
	}
	if cerr != nil {
		return sum, fmt.Errorf("updated; the patch check after it failed: %w", cerr)
	}
	return sum, nil
}

// checkAfter is a patch job's check run for update job j: its findings are
// the website's patch findings (recorded by this job), or, without a feed
// on this node, the inventory alone.
func (r *Runner) checkAfter(ctx context.Context, j core.ScanJob, st core.ScanSettings) (*PatchSummary, error) {
	if r.Feed != nil {
		jp := j
		jp.Kind = core.ScanPatch
		s, err := r.patch(ctx, jp, st)
		if ps, ok := s.(PatchSummary); ok {
			return &ps, err
		}
		return nil, err
	}
	inv, err := r.inventory(ctx, st)
	if err != nil {
		return nil, err
	}
	ps := &PatchSummary{Truncated: inv.Truncated, Notes: append(inv.Notes, "no vulnerability feed on this node: versions only")}
	for _, in := range inv.Installs {
		ir := patchcheck.InstallReport{CMS: in.CMS, Root: in.Root}
		for _, c := range append([]patchcheck.Component{in.Core}, in.Components...) {
			ir.Components = append(ir.Components, patchcheck.ComponentReport{Component: c})
		}
		ps.Installs = append(ps.Installs, ir)
	}
	return ps, nil
}

func (r *Runner) inventory(ctx context.Context, st core.ScanSettings) (patchcheck.Inventory, error) {
	fsys, err := sitefiles.Local(st.Files.Source.Path)
	if err != nil {
		return patchcheck.Inventory{}, err
	}
	defer fsys.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	defer cancel()
	return patchcheck.Detect(ctx, fsys, patchcheck.DetectOptions{})
}

// componentVersion is the version the files give plan's component now
// ("" when it is not there).
func (r *Runner) componentVersion(ctx context.Context, st core.ScanSettings, plan core.UpdatePlan) (string, error) {
	inv, err := r.inventory(ctx, st)
	if err != nil {
		return "", err
	}
	for _, in := range inv.Installs {
		if in.Root != plan.Root {
			continue
		}
		if plan.Type == string(patchcheck.TypeCore) {
			return in.Core.Version, nil
		}
		for _, c := range in.Components {
			if string(c.Type) == plan.Type && c.Slug == plan.Slug {
				return c.Version, nil
			}
		}
	}
	return "", nil
}

// insideRoot refuses an install folder that is not, once its symbolic
// links are followed, inside the document root: the website's own files
// could otherwise point the updater at another website's folder.
func insideRoot(root, dir string) error {
	r, err := filepath.EvalSymlinks(root)
	if err != nil {
		return fmt.Errorf("the document root: %w", err)
	}
	if r != filepath.Clean(root) {
		// As sitefiles.Local: the owner may swap the document root itself
		// for a link to another website's folder.
		return fmt.Errorf("the document root %s leads outside the document root (a symbolic link in its path): not updated", root)
	}
	d, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return fmt.Errorf("the install's folder: %w", err)
	}
	if rel, err := filepath.Rel(r, d); err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return fmt.Errorf("the install's folder %s leads outside the document root (a symbolic link): not updated", dir)
	}
	return nil
}

// folderOwner is the name of the user owning dir ("#uid" when the uid has
// no name), for the update command's {owner}.
func folderOwner(dir string) (string, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return "", fmt.Errorf("the install's folder: %w", err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", errors.New("the install's folder: its owner cannot be read on this system")
	}
	uid := strconv.FormatUint(uint64(st.Uid), 10)
	if u, err := user.LookupId(uid); err == nil {
		return u.Username, nil
	}
	return "#" + uid, nil
}
