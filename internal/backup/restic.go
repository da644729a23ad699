// Package backup keeps copies of a website's files and database in a restic
// repository: back up, list, browse, restore (to a folder or as a tar.gz
// download), forget by a retention policy and check. Restic does the
// storage, deduplication and encryption; this package is the glue that runs
// it safely (secrets only in the environment, bounded output, errors that
// say what restic said).
//
// Every snapshot carries the tag "palisade-site=<site>" and one of
// "palisade-kind=files" or "palisade-kind=database", so many websites can
// share one repository without seeing each other's snapshots. The files of
// a website are stored relative to its document root: "/index.php" in a
// snapshot is <root>/index.php on disk. A database dump is its own snapshot
// holding one file, "/<database>.sql".
//
// Tested against restic 0.14 (Debian 12); newer versions work too (extra
// JSON fields are ignored, and the ones they add, such as a snapshot's
// summary or a restore summary, are read when present).
package backup

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
	"unicode"

	"golang.org/x/crypto/ssh"
)

// Errors a caller may want to tell apart, matched with errors.Is.
var (
	// ErrWrongPassword is restic refusing the repository password.
	ErrWrongPassword = errors.New("backup: wrong repository password")
	// ErrNoRepository is a location where restic finds no repository
	// (Init was not run, or the location is wrong).
	ErrNoRepository = errors.New("backup: no restic repository at this location")
	// ErrLocked is a repository locked by another restic process.
	ErrLocked = errors.New("backup: repository is locked by another operation")
	// ErrNotFound is a snapshot or a path in a snapshot that does not
	// exist, or a snapshot of another website.
	ErrNotFound = errors.New("backup: not found")
	// ErrIncomplete is a backup that produced a snapshot but could not read
	// some files (restic exit status 3); the result is still returned.
	ErrIncomplete = errors.New("backup: some files could not be read")
	// ErrInvalid is an argument this package refuses before running
	// anything.
	ErrInvalid = errors.New("backup: invalid argument")
)

// Repo is one restic repository and how to reach it. The zero value is not
// usable; fill Location, Password and CacheDir.
type Repo struct {
	// Location is where the repository lives: an absolute local path
	// ("/srv/backups/repo"), "sftp:user@host:/path" or
	// "sftp://user@host:port//path" (restic runs ssh: with SFTPKey and
	// SFTPHostKey, with those alone; without them, with the ssh
	// configuration of the user running Palisade) or an S3-compatible
	// bucket "s3:https://host/bucket/prefix".
	Location string
	// SFTPKey is the private key (OpenSSH or PEM, unencrypted) ssh signs
	// in with to an sftp: location, and SFTPHostKey the server's public
	// key as in known_hosts ("ssh-ed25519 AAAA..."). With both set, ssh
	// runs with nothing of the operator's ssh set-up: no configuration
	// file, agent, default keys or known_hosts; the key lives in a file of
	// its own (mode 0600) under CacheDir only while restic runs (one that
	// a killed service left behind goes with a run an hour later or more).
	SFTPKey     string
	SFTPHostKey string
	// ResolveHost, when set, gives the address ssh connects to for an
	// sftp: location with SFTPKey (the host name is then the host key's
	// alias only): the address checked is the address used.
	ResolveHost func(ctx context.Context, host string) (string, error)
	// Password encrypts the repository. Losing it loses the backups.
	Password string
	// S3AccessKeyID and S3SecretAccessKey are the credentials of an s3:
	// location; S3Region is optional.
	S3AccessKeyID     string
	S3SecretAccessKey string
	S3Region          string
	// CacheDir is a directory Palisade owns; restic keeps its cache in
	// CacheDir/restic-cache.
	CacheDir string
	// Binary is the restic executable; empty means exec.LookPath("restic").
	Binary string
	// Host is the host name written into snapshots; empty means
	// "palisade". Retention does not group by host, so changing it does
	// not split a website's history.
	Host string
	// Compression is restic's --compression ("auto", "off", "max"); empty
	// leaves restic's default.
	Compression string
	// MaxOutput bounds what is read from restic's standard output for one
	// JSON answer (snapshot lists, forget reports); 0 means 32 MiB.
	MaxOutput int64
	// CheckHost, when set, is asked about the host of an s3: or sftp:
	// location before restic starts, and refuses it (the job runner's
	// netguard policy: a tenant's repository must not be the operator's
	// own network).
	CheckHost func(ctx context.Context, host string) error
}

// remoteHost is the host of an s3: or sftp: location ("" for a local path).
func (r *Repo) remoteHost() string {
	switch {
	case strings.HasPrefix(r.Location, "s3:"):
		u, err := url.Parse(strings.TrimPrefix(r.Location, "s3:"))
		if err != nil {
			return ""
		}
		return u.Hostname()
	case strings.HasPrefix(r.Location, "sftp:"):
		_, host, _, _ := SFTPLocation(r.Location)
		return host
	}
	return ""
}

// SFTPLocation splits an sftp: location into its user, host, port ("" for
// ssh's default) and path, in restic's two spellings:
// "sftp:user@host:/path" and "sftp://user@host:port//path". The core
// checks a website's settings with it, so what is checked is what runs.
func SFTPLocation(loc string) (user, host, port, path string) {
	rest := strings.TrimPrefix(loc, "sftp:")
	if u, ok := strings.CutPrefix(rest, "//"); ok {
		hostPart, p, _ := strings.Cut(u, "/")
		path = p // "//path" is absolute, "/path" relative to the user's home
		if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
			user, hostPart = hostPart[:i], hostPart[i+1:]
		}
		if h, pt, err := net.SplitHostPort(hostPart); err == nil {
			return user, h, pt, path
		}
		return user, strings.TrimSuffix(strings.TrimPrefix(hostPart, "["), "]"), "", path
	}
	hostPart, path, _ := strings.Cut(rest, ":")
	if i := strings.LastIndexByte(hostPart, '@'); i >= 0 {
		user, hostPart = hostPart[:i], hostPart[i+1:]
	}
	return user, hostPart, "", path
}

// Validate reports every problem of the configuration at once.
func (r *Repo) Validate() error {
	var errs []error
	switch {
	case r.Location == "":
		errs = append(errs, errors.New("repository location is required"))
	case strings.HasPrefix(r.Location, "sftp:"):
		if len(r.Location) == len("sftp:") {
			errs = append(errs, errors.New("sftp location needs user@host:/path"))
		}
		// restic runs "ssh <host> -l <user> -s sftp": a host (or user)
		// starting with '-' would be read by ssh as an option
		// (-oProxyCommand=... runs a command).
		rest := strings.TrimPrefix(strings.TrimPrefix(r.Location, "sftp:"), "//")
		if strings.HasPrefix(rest, "-") || strings.Contains(rest, "@-") {
			errs = append(errs, errors.New("sftp location: the user and host cannot start with '-'"))
		}
		if (r.SFTPKey == "") != (r.SFTPHostKey == "") {
			errs = append(errs, errors.New("sftp location: a key of its own needs the server's host key too, and the other way round"))
		}
		if r.SFTPKey != "" {
			user, host, port, _ := SFTPLocation(r.Location)
			if user == "" || host == "" {
				errs = append(errs, errors.New("sftp location needs user@host"))
			}
			if !sshWord(user) || !sshWord(host) || !sshWord(port) {
				errs = append(errs, errors.New("sftp location: user, host and port may hold letters, digits and . _ - : only"))
			}
			if _, _, _, _, err := ssh.ParseAuthorizedKey([]byte(r.SFTPHostKey)); err != nil || strings.ContainsAny(strings.TrimSpace(r.SFTPHostKey), "\n\r") {
				errs = append(errs, errors.New("sftp host key: one public key as in known_hosts (\"ssh-ed25519 AAAA...\")"))
			}
			if _, err := ssh.ParsePrivateKey([]byte(r.SFTPKey)); err != nil {
				errs = append(errs, errors.New("sftp key: an unencrypted private key (OpenSSH or PEM)"))
			}
		}
	case strings.HasPrefix(r.Location, "s3:"):
		if !strings.HasPrefix(r.Location, "s3:https://") && !strings.HasPrefix(r.Location, "s3:http://") {
			errs = append(errs, errors.New("s3 location must look like s3:https://host/bucket/prefix"))
		}
		if r.S3AccessKeyID == "" || r.S3SecretAccessKey == "" {
			errs = append(errs, errors.New("s3 location needs an access key ID and a secret access key"))
		}
	case filepath.IsAbs(r.Location):
	default:
		errs = append(errs, fmt.Errorf("repository location %q is not an absolute path, sftp: or s3: location", r.Location))
	}
	if strings.ContainsAny(r.Location, "\x00\n") {
		errs = append(errs, errors.New("repository location holds a control character"))
	}
	if r.Password == "" {
		errs = append(errs, errors.New("repository password is required"))
	}
	if r.CacheDir == "" || !filepath.IsAbs(r.CacheDir) {
		errs = append(errs, errors.New("cache directory must be an absolute path"))
	}
	switch r.Compression {
	case "", "auto", "off", "max":
	default:
		errs = append(errs, fmt.Errorf("compression %q is not auto, off or max", r.Compression))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return nil
}

func (r *Repo) host() string {
	if r.Host == "" {
		return "palisade"
	}
	return r.Host
}

func (r *Repo) binary() (string, error) {
	if r.Binary != "" {
		return r.Binary, nil
	}
	p, err := exec.LookPath("restic")
	if err != nil {
		return "", fmt.Errorf("backup: restic not found (install the restic package): %w", err)
	}
	return p, nil
}

// secrets are the strings scrubbed from anything restic prints before it
// goes into an error.
func (r *Repo) secrets() []string {
	return []string{r.Password, r.S3SecretAccessKey, r.S3AccessKeyID, strings.TrimSpace(r.SFTPKey)}
}

// env is the whole environment restic runs with: nothing is inherited but
// what ssh and the system need, so a RESTIC_PASSWORD_COMMAND or AWS profile
// of the service's own environment cannot change which repository or key
// is used.
func (r *Repo) env() []string {
	env := []string{
		"RESTIC_REPOSITORY=" + r.Location,
		"RESTIC_PASSWORD=" + r.Password,
		"RESTIC_CACHE_DIR=" + filepath.Join(r.CacheDir, "restic-cache"),
		"RESTIC_PROGRESS_FPS=0.016666", // one status line a minute at most
		"TZ=UTC",                       // --time and restic's own output in UTC
		"LC_ALL=C",
	}
	for _, k := range []string{"PATH", "HOME", "TMPDIR", "SSH_AUTH_SOCK"} {
		if v, ok := os.LookupEnv(k); ok {
			env = append(env, k+"="+v)
		}
	}
	if r.S3AccessKeyID != "" {
		env = append(env, "AWS_ACCESS_KEY_ID="+r.S3AccessKeyID)
	}
	if r.S3SecretAccessKey != "" {
		env = append(env, "AWS_SECRET_ACCESS_KEY="+r.S3SecretAccessKey)
	}
	if r.S3Region != "" {
		env = append(env, "AWS_DEFAULT_REGION="+r.S3Region)
	}
	return env
}

// Error is restic (or a dump tool) failing: which operation, its exit
// status and the end of what it wrote on standard error, with every secret
// removed.
type Error struct {
	Op       string // "restic backup", "mariadb-dump", ...
	ExitCode int    // -1 when it did not exit normally (killed, not started)
	Message  string // trimmed standard error, secrets replaced by "[redacted]"
	kind     error  // one of the sentinel errors, or nil
	cause    error  // the exec error or context error, when there is one
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString("backup: ")
	b.WriteString(e.Op)
	if e.kind != nil && e.kind != ErrIncomplete {
		b.WriteString(": ")
		b.WriteString(strings.TrimPrefix(e.kind.Error(), "backup: "))
	}
	if e.ExitCode >= 0 {
		fmt.Fprintf(&b, ": exit status %d", e.ExitCode)
	} else if e.cause != nil {
		b.WriteString(": ")
		b.WriteString(e.cause.Error())
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// Is matches the sentinel errors of the package.
func (e *Error) Is(target error) bool { return e.kind != nil && target == e.kind }

// Unwrap gives the context or exec error underneath, if any.
func (e *Error) Unwrap() error { return e.cause }

// classify picks the sentinel error restic's message stands for. The
// phrases are restic's own (stable from 0.9 to 0.17).
func classify(stderr string, exit int) error {
	s := strings.ToLower(stderr)
	switch {
	case strings.Contains(s, "wrong password"):
		return ErrWrongPassword
	case strings.Contains(s, "is there a repository at the following location"),
		strings.Contains(s, "unable to open config file"),
		exit == 10:
		return ErrNoRepository
	case strings.Contains(s, "repository is already locked"), exit == 11:
		return ErrLocked
	case strings.Contains(s, "no matching id found"),
		strings.Contains(s, "not found in snapshot"),
		strings.Contains(s, "no snapshot found"):
		return ErrNotFound
	}
	return nil
}

const maxStderr = 64 << 10 // kept from a process's standard error
const maxMessage = 2000    // shown of it in an error
const maxLine = 4 << 20    // one JSON line from restic
const defaultOutput = 32 << 20

// redact replaces every non-empty secret in s.
func redact(s string, secrets []string) string {
	for _, sec := range secrets {
		if sec != "" {
			s = strings.ReplaceAll(s, sec, "[redacted]")
		}
	}
	return s
}

// message turns a captured standard error into the short text an error
// shows: progress and blank lines dropped, the last lines kept, secrets
// removed (before trimming, so a secret cut in half cannot survive).
func message(stderr []byte, secrets []string) string {
	s := redact(string(stderr), secrets)
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		l = strings.TrimSpace(strings.TrimRight(l, "\r"))
		if i := strings.LastIndexByte(l, '\r'); i >= 0 {
			l = strings.TrimSpace(l[i+1:])
		}
		if l == "" || strings.HasPrefix(l, "[") && strings.Contains(l, "%") {
			continue // progress bars
		}
		lines = append(lines, l)
	}
	if len(lines) > 8 {
		lines = lines[len(lines)-8:]
	}
	out := strings.Join(lines, "; ")
	if len(out) > maxMessage {
		out = "…" + out[len(out)-maxMessage:]
	}
	return out
}

// capBuffer keeps the first max bytes written to it and counts the rest;
// a Write never fails, so the process writing into it is never blocked or
// broken by the bound.
type capBuffer struct {
	buf     bytes.Buffer
	max     int
	dropped int64
}

func (c *capBuffer) Write(p []byte) (int, error) {
	room := c.max - c.buf.Len()
	if room >= len(p) {
		c.buf.Write(p)
	} else {
		if room > 0 {
			c.buf.Write(p[:room])
		}
		c.dropped += int64(len(p) - max(room, 0))
	}
	return len(p), nil
}

// tailBuffer keeps the last max bytes written to it: the end of a
// standard error is where the fatal message is.
type tailBuffer struct {
	buf []byte
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	n := len(p)
	if len(p) >= t.max {
		t.buf = append(t.buf[:0], p[len(p)-t.max:]...)
		return n, nil
	}
	if over := len(t.buf) + len(p) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	t.buf = append(t.buf, p...)
	return n, nil
}

// process is one command being run: restic or a dump tool.
type process struct {
	op      string
	cmd     *exec.Cmd
	stderr  *tailBuffer
	secrets []string
	cleanup func() // after the process ended (wrap); nil for none
}

// newProcess prepares bin with args. The context ends it: first with an
// interrupt, which restic answers by removing its lock and stopping without
// writing a snapshot, then with a kill if it has not gone after a grace
// period.
func newProcess(ctx context.Context, op, bin string, args, env, secrets []string) *process {
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 10 * time.Second
	p := &process{op: op, cmd: cmd, stderr: &tailBuffer{max: maxStderr}, secrets: secrets}
	cmd.Stderr = p.stderr
	return p
}

// wrap turns the outcome of Wait (or Start) into an *Error, or nil.
func (p *process) wrap(ctx context.Context, err error) error {
	if p.cleanup != nil {
		p.cleanup()
		p.cleanup = nil
	}
	if err == nil {
		return nil
	}
	e := &Error{Op: p.op, ExitCode: -1, Message: message(p.stderr.buf, p.secrets)}
	var exit *exec.ExitError
	if errors.As(err, &exit) && exit.Exited() {
		e.ExitCode = exit.ExitCode()
	} else {
		e.cause = err
	}
	if ctx.Err() != nil {
		e.cause = ctx.Err()
		e.ExitCode = -1
	}
	e.kind = classify(string(p.stderr.buf), e.ExitCode)
	if e.kind == nil && e.ExitCode == 3 && p.op == "restic backup" {
		e.kind = ErrIncomplete
	}
	return e
}

// restic prepares a restic command. Global flags come first; the secrets
// are in the environment only.
func (r *Repo) restic(ctx context.Context, sub string, args ...string) (*process, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	if h := r.remoteHost(); r.CheckHost != nil && h != "" {
		if err := r.CheckHost(ctx, h); err != nil {
			return nil, fmt.Errorf("%w: repository host: %w", ErrInvalid, err)
		}
	}
	bin, err := r.binary()
	if err != nil {
		return nil, err
	}
	full := []string{sub, "--json"}
	if r.Compression != "" {
		full = append(full, "--compression", r.Compression)
	}
	var cleanup func()
	if strings.HasPrefix(r.Location, "sftp:") && r.SFTPKey != "" {
		command, done, err := r.sftpCommand(ctx)
		if err != nil {
			return nil, err
		}
		full = append(full, "-o", "sftp.command="+command)
		cleanup = done
	}
	full = append(full, args...)
	secrets := r.secrets()
	if cleanup != nil {
		// ssh names its known_hosts on a host key mismatch ("Add correct
		// host key in …"): the node's folders are not for a job's error,
		// which the customer reads.
		secrets = append(secrets, filepath.Join(r.CacheDir, "ssh"))
	}
	p := newProcess(ctx, "restic "+sub, bin, full, r.env(), secrets)
	p.cleanup = cleanup
	return p, nil
}

// sshWord reports whether s (a user, host or port of an sftp: location
// that goes into ssh's command line) holds only characters that need no
// quoting and cannot start an option.
func sshWord(s string) bool {
	if strings.HasPrefix(s, "-") {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("._-:", c)) {
			return false
		}
	}
	return true
}

// sftpCommand writes the key and the pinned host key into a directory of
// their own under CacheDir and returns the ssh command restic runs (its
// sftp.command option) and the function that removes them. ssh reads no
// configuration file, uses no agent and no key but this one, and accepts
// no host key but the pinned one, under the location's host name as alias
// while it connects to the address ResolveHost gave.
func (r *Repo) sftpCommand(ctx context.Context) (string, func(), error) {
	user, host, port, _ := SFTPLocation(r.Location)
	addr := host
	if r.ResolveHost != nil {
		a, err := r.ResolveHost(ctx, host)
		if err != nil {
			return "", nil, fmt.Errorf("%w: repository host: %w", ErrInvalid, err)
		}
		addr = a
	}
	if !sshWord(addr) {
		return "", nil, fmt.Errorf("%w: repository host address %q", ErrInvalid, addr)
	}
	base := filepath.Join(r.CacheDir, "ssh")
	if err := os.MkdirAll(base, 0o700); err != nil {
		return "", nil, fmt.Errorf("backup: ssh key directory: %w", err)
	}
	sweepStaleKeys(base, time.Now())
	dir, err := os.MkdirTemp(base, "run-")
	if err != nil {
		return "", nil, fmt.Errorf("backup: ssh key directory: %w", err)
	}
	done := func() { os.RemoveAll(dir) }
	key := sshKeyFile(r.SFTPKey)
	keyFile, knownHosts := filepath.Join(dir, "key"), filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		done()
		return "", nil, fmt.Errorf("backup: ssh key: %w", err)
	}
	if err := os.WriteFile(knownHosts, []byte(host+" "+strings.TrimSpace(r.SFTPHostKey)+"\n"), 0o600); err != nil {
		done()
		return "", nil, fmt.Errorf("backup: ssh known hosts: %w", err)
	}
	if port == "" {
		port = "22"
	}
	// restic splits the command on spaces (quotes allowed); no part of it
	// holds a space: the paths are under CacheDir (checked below), the
	// rest passed sshWord.
	if strings.ContainsAny(dir, "'\"\\") || strings.IndexFunc(dir, unicode.IsSpace) >= 0 {
		done()
		return "", nil, fmt.Errorf("%w: the cache directory %q holds a space or quote, which ssh's command line cannot", ErrInvalid, r.CacheDir)
	}
	cmd := strings.Join([]string{"ssh", "-F", "/dev/null",
		"-i", keyFile, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none",
		"-o", "UserKnownHostsFile=" + knownHosts, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes", "-o", "HostKeyAlias=" + host, "-o", "CheckHostIP=no",
		"-o", "BatchMode=yes", "-o", "PasswordAuthentication=no", "-o", "KbdInteractiveAuthentication=no",
		"-o", "ConnectTimeout=15", "-o", "ServerAliveInterval=30", "-o", "ClearAllForwardings=yes",
		"-o", "ProxyCommand=none", "-o", "ProxyJump=none", "-o", "PermitLocalCommand=no",
		"-p", port, "-l", user, "-s", "--", addr, "sftp"}, " ")
	return cmd, done, nil
}

// staleKeyAge: a run-* directory of sftpCommand older than this belongs
// to a run that never removed it (the service killed or crashed while
// restic ran). ssh read its key within ConnectTimeout of starting, and
// restic never starts ssh twice, so the key has no use left.
const staleKeyAge = time.Hour

// sweepStaleKeys removes the key directories under base that runs cut
// short left behind: a partner's private key does not stay on the node's
// disk for good.
func sweepStaleKeys(base string, now time.Time) {
	entries, err := os.ReadDir(base)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "run-") {
			continue
		}
		if info, err := e.Info(); err == nil && now.Sub(info.ModTime()) >= staleKeyAge {
			os.RemoveAll(filepath.Join(base, e.Name()))
		}
	}
}

// sshKeyFile is the key as ssh gets it: in OpenSSH's own format when it
// can be written so, since ssh does not read every format Validate
// accepts (OpenSSH 9.2 calls a PKCS#8 ed25519 key, "BEGIN PRIVATE KEY",
// an invalid format); otherwise as given.
func sshKeyFile(k string) string {
	raw, err := ssh.ParseRawPrivateKey([]byte(k))
	if err == nil {
		if p, ok := raw.(*ed25519.PrivateKey); ok {
			raw = *p
		}
		if b, err := ssh.MarshalPrivateKey(raw, ""); err == nil {
			return string(pem.EncodeToMemory(b))
		}
	}
	return strings.TrimSpace(k) + "\n"
}

// runJSON runs restic and decodes the first JSON value of its standard
// output into v (when v is not nil). Restic may print text after the JSON
// (forget --prune does), which is ignored.
func (r *Repo) runJSON(ctx context.Context, v any, sub string, args ...string) error {
	p, err := r.restic(ctx, sub, args...)
	if err != nil {
		return err
	}
	limit := r.MaxOutput
	if limit <= 0 {
		limit = defaultOutput
	}
	out := &capBuffer{max: int(limit)}
	p.cmd.Stdout = out
	if err := p.wrap(ctx, p.cmd.Run()); err != nil {
		return err
	}
	if v == nil {
		return nil
	}
	if out.dropped > 0 {
		return fmt.Errorf("backup: %s: answer larger than %d bytes", p.op, limit)
	}
	if err := json.NewDecoder(&out.buf).Decode(v); err != nil {
		return fmt.Errorf("backup: %s: reading restic's JSON answer: %w", p.op, err)
	}
	return nil
}

// lineWriter hands each complete line written to it to fn; a line longer
// than maxLine is dropped whole.
type lineWriter struct {
	fn   func([]byte)
	buf  []byte
	skip bool
}

func (l *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			if !l.skip {
				l.buf = append(l.buf, p...)
				if len(l.buf) > maxLine {
					l.buf, l.skip = l.buf[:0], true
				}
			}
			break
		}
		if !l.skip {
			l.buf = append(l.buf, p[:i]...)
			l.fn(l.buf)
		}
		l.buf, l.skip = l.buf[:0], false
		p = p[i+1:]
	}
	return n, nil
}

func (l *lineWriter) flush() {
	if len(l.buf) > 0 && !l.skip {
		l.fn(l.buf)
	}
	l.buf = l.buf[:0]
}

var _ io.Writer = (*lineWriter)(nil)
