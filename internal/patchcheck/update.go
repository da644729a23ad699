package patchcheck

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"regexp"
	"sync"
	"time"
)

// Updater runs one configured update command, such as
// ["wp", "plugin", "update", "akismet"] in the install's folder, after
// its Before hook (the caller's backup) succeeded. The command is run
// directly, not through a shell.
type Updater struct {
	Command []string      // program and arguments; required
	Dir     string        // working directory
	Env     []string      // environment; nil inherits Palisade's
	Timeout time.Duration // default 10 minutes
	// MaxOutput bounds the output kept (stdout and stderr together, the
	// last bytes written); default 64 KiB.
	MaxOutput int
	// Before runs first; when it fails the command does not run.
	Before func(ctx context.Context) error
}

// UpdateResult is what a run gave.
type UpdateResult struct {
	Output    []byte // the last MaxOutput bytes of stdout and stderr, interleaved
	Truncated bool   // earlier output was dropped
	ExitCode  int    // -1 when the command did not exit by itself
	Duration  time.Duration
}

// ErrBeforeFailed wraps the error of a failed Before hook.
var ErrBeforeFailed = errors.New("patchcheck: the step before the update failed; the update did not run")

// Run runs Before, then the command. An error is returned when Before
// fails, the command cannot start, exits non-zero or runs out of time;
// the result then holds what output there was.
func (u *Updater) Run(ctx context.Context) (UpdateResult, error) {
	if len(u.Command) == 0 || u.Command[0] == "" {
		return UpdateResult{ExitCode: -1}, errors.New("patchcheck: updater has no command")
	}
	if u.Before != nil {
		if err := u.Before(ctx); err != nil {
			return UpdateResult{ExitCode: -1}, fmt.Errorf("%w: %w", ErrBeforeFailed, err)
		}
	}
	timeout := u.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	limit := u.MaxOutput
	if limit <= 0 {
		limit = 64 << 10
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, u.Command[0], u.Command[1:]...)
	cmd.Dir = u.Dir
	cmd.Env = u.Env
	out := &tailBuffer{max: limit}
	cmd.Stdout, cmd.Stderr = out, out
	killGroup(cmd)
	// A grandchild that left the group and keeps the pipes open must not
	// hold Run long past the timeout.
	cmd.WaitDelay = 5 * time.Second
	start := time.Now()
	err := cmd.Run()
	res := UpdateResult{Duration: time.Since(start), ExitCode: -1}
	res.Output, res.Truncated = out.bytes()
	if cmd.ProcessState != nil {
		res.ExitCode = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil && err != nil {
		return res, fmt.Errorf("patchcheck: update %s: %w (%w)", u.Command[0], err, ctx.Err())
	}
	if err != nil {
		return res, fmt.Errorf("patchcheck: update %s: %w", u.Command[0], err)
	}
	return res, nil
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu        sync.Mutex
	max       int
	buf       []byte
	truncated bool
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	n := len(p)
	if len(p) >= t.max {
		t.truncated = t.truncated || len(t.buf) > 0 || len(p) > t.max
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
		t.truncated = true
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

func (t *tailBuffer) bytes() ([]byte, bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return append([]byte(nil), t.buf...), t.truncated
}

var reWPSlug = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,199}$`)

// WPCLICommand is the WP-CLI command that updates a WordPress component
// in place: "wp core update", "wp plugin update <slug>" or
// "wp theme update <slug>", with --path set to the install's folder.
// Slugs that could pass for options or carry shell or path characters
// are refused. wp is looked up in PATH unless wp names a program.
func WPCLICommand(wp, installDir string, c Component) ([]string, error) {
	if wp == "" {
		wp = "wp"
	}
	path := "--path=" + installDir
	switch c.Type {
	case TypeCore:
		return []string{wp, "core", "update", path}, nil
	case TypePlugin, TypeTheme:
		if !reWPSlug.MatchString(c.Slug) {
			return nil, fmt.Errorf("patchcheck: %s slug %q is not one WP-CLI is given", c.Type, c.Slug)
		}
		return []string{wp, string(c.Type), "update", c.Slug, path}, nil
	}
	return nil, fmt.Errorf("patchcheck: WP-CLI does not update a %s", c.Type)
}
