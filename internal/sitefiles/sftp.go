package sitefiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pkg/sftp"
	"golang.org/x/crypto/ssh"
)

// DefaultMaxFiles is how many files (and, apart, folders) a Walk goes
// through at most: Local's, and SFTP's when SFTPConfig.MaxFiles is zero.
const DefaultMaxFiles = 200_000

// ErrTooManyFiles is returned by a Walk that found more regular files, or
// more folders, than its bound.
var ErrTooManyFiles = errors.New("sitefiles: too many files")

// ErrHostKey is a server whose host key is not the configured one.
var ErrHostKey = errors.New("sitefiles: the server's host key does not match the configured one")

// ErrClosed is an SFTP FS used after Close, or after a context ended in the
// middle of an operation (which closes the connection).
var ErrClosed = errors.New("sitefiles: sftp connection closed")

// SFTPConfig says where a website's files are on another server.
type SFTPConfig struct {
	Host string // name or address of the server
	Port int    // 22 when zero
	User string

	// Password, PrivateKey or both (the key is offered first). PrivateKey
	// is PEM (OpenSSH, PKCS#1, PKCS#8 or SEC 1), encrypted with
	// Passphrase when it is.
	Password   string
	PrivateKey []byte
	Passphrase string

	// HostKey pins the server: its public key in authorized_keys format
	// ("ssh-ed25519 AAAA... comment", the line of the server's
	// /etc/ssh/ssh_host_*_key.pub) or the SHA256 fingerprint of one of
	// its host keys ("SHA256:..." as ssh-keygen -lf prints it). Required.
	HostKey string

	// Root is the directory holding the website's files on the server,
	// absolute or relative to the login directory; empty is the login
	// directory.
	Root string

	DialTimeout time.Duration // connecting and the SSH handshake; 10 s when zero
	MaxFiles    int           // Walk's bound on files, and apart on folders; DefaultMaxFiles when zero

	// Dial opens the TCP connection (a net.Dialer's when nil). The job
	// runner passes one that refuses addresses the operator does not
	// allow (package netguard).
	Dial func(ctx context.Context, network, address string) (net.Conn, error)
}

// SFTP connects to a website's files on another server over SFTP and
// returns them as an FS, confined to cfg.Root.
//
// Each operation lasts as long as its context: when the context ends in the
// middle of one, the connection is closed (so nothing waits on a silent
// server), the operation returns the context's error, and every later call
// returns ErrClosed; open a new FS then. The reader returned by Open is
// bound to Open's context the same way until it is closed.
//
// Confinement: paths are checked as for every FS. Walk lists directories
// with the attributes of the entries themselves (lstat) and neither
// reports nor enters symbolic links. Stat and Open ask the server for the
// canonical path (SSH_FXP_REALPATH, which OpenSSH resolves through
// symbolic links) and refuse one outside the root; WriteFile and Remove
// do so for the parent directory and for a link at the path itself, then
// act on the directory entry. SFTP has no openat: a link swapped in between
// the check and the use is not caught, so the SFTP account's own
// permissions remain the last boundary. A server whose REALPATH does not
// resolve links (unlike OpenSSH) weakens the check to a lexical one.
func SFTP(ctx context.Context, cfg SFTPConfig) (FS, error) {
	if cfg.Host == "" {
		return nil, errors.New("sitefiles: sftp: no host")
	}
	if cfg.User == "" {
		return nil, errors.New("sitefiles: sftp: no user")
	}
	if cfg.Port == 0 {
		cfg.Port = 22
	}
	if cfg.Port < 0 || cfg.Port > 65535 {
		return nil, fmt.Errorf("sitefiles: sftp: bad port %d", cfg.Port)
	}
	if cfg.DialTimeout <= 0 {
		cfg.DialTimeout = 10 * time.Second
	}
	if cfg.MaxFiles <= 0 {
		cfg.MaxFiles = DefaultMaxFiles
	}
	pin, err := parseHostKey(cfg.HostKey)
	if err != nil {
		return nil, err
	}
	var auth []ssh.AuthMethod
	if len(cfg.PrivateKey) > 0 {
		signer, err := ssh.ParsePrivateKey(cfg.PrivateKey)
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) && cfg.Passphrase != "" {
			signer, err = ssh.ParsePrivateKeyWithPassphrase(cfg.PrivateKey, []byte(cfg.Passphrase))
		}
		if err != nil {
			return nil, fmt.Errorf("sitefiles: sftp: private key: %w", err)
		}
		auth = append(auth, ssh.PublicKeys(signer))
	}
	if cfg.Password != "" {
		pw := cfg.Password
		auth = append(auth, ssh.Password(pw),
			ssh.KeyboardInteractive(func(_, _ string, questions []string, _ []bool) ([]string, error) {
				answers := make([]string, len(questions))
				for i := range answers {
					answers[i] = pw
				}
				return answers, nil
			}))
	}
	if len(auth) == 0 {
		return nil, errors.New("sitefiles: sftp: neither a password nor a private key")
	}

	addr := net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port))
	s, err := dialPinned(ctx, cfg, addr, pin, auth)
	if err != nil {
		return nil, err
	}
	s.maxFiles = cfg.MaxFiles

	// The root, canonical.
	root := cfg.Root
	if root == "" {
		root = "."
	}
	err = s.do(ctx, func() error {
		real, err := s.c.RealPath(root)
		if err != nil {
			return err
		}
		real = path.Clean(real)
		if !path.IsAbs(real) {
			return fmt.Errorf("server gave a relative path %q", real)
		}
		fi, err := s.c.Stat(real)
		if err != nil {
			return err
		}
		if !fi.IsDir() {
			return fmt.Errorf("%s is not a directory", real)
		}
		s.root = real
		return nil
	})
	if err != nil {
		s.Close()
		return nil, fmt.Errorf("sitefiles: sftp root %q on %s: %w", cfg.Root, addr, err)
	}
	return s, nil
}

// hostKeyPin is a parsed SFTPConfig.HostKey.
type hostKeyPin struct {
	key         ssh.PublicKey // nil for a fingerprint
	fingerprint string        // "SHA256:..."
}

func parseHostKey(s string) (hostKeyPin, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return hostKeyPin{}, errors.New("sitefiles: sftp: no host key (the server's public key or its SHA256 fingerprint is required)")
	}
	if strings.HasPrefix(s, "SHA256:") {
		return hostKeyPin{fingerprint: strings.TrimRight(s, "=")}, nil
	}
	key, _, _, _, err := ssh.ParseAuthorizedKey([]byte(s))
	if err != nil {
		return hostKeyPin{}, fmt.Errorf("sitefiles: sftp: host key: %w", err)
	}
	return hostKeyPin{key: key, fingerprint: ssh.FingerprintSHA256(key)}, nil
}

// algorithms are the host key algorithms to ask for when the pin is a
// full key, so that a server with several host keys shows that one.
func (p hostKeyPin) algorithms() []string {
	if p.key == nil {
		return nil
	}
	if p.key.Type() == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{p.key.Type()}
}

// keyFamilies are the host key algorithms tried one family at a time
// when the pin is a fingerprint and the server first showed another key.
var keyFamilies = [][]string{
	{ssh.KeyAlgoED25519},
	{ssh.KeyAlgoECDSA256},
	{ssh.KeyAlgoECDSA384},
	{ssh.KeyAlgoECDSA521},
	{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA},
}

// hostKeyError is a mismatch; it says what the server showed.
type hostKeyError struct {
	addr  string
	shown []string // "type SHA256:..."
	want  string
}

func (e *hostKeyError) Error() string {
	return fmt.Sprintf("%v: %s presented %s, configured %s", ErrHostKey, e.addr, strings.Join(e.shown, ", "), e.want)
}

func (e *hostKeyError) Unwrap() error { return ErrHostKey }

func dialPinned(ctx context.Context, cfg SFTPConfig, addr string, pin hostKeyPin, auth []ssh.AuthMethod) (*sftpFS, error) {
	mismatch := &hostKeyError{addr: addr, want: pin.fingerprint}
	if pin.key != nil {
		mismatch.want = pin.key.Type() + " " + pin.fingerprint
	}
	tries := [][]string{pin.algorithms()}
	if pin.key == nil {
		tries = append(tries, keyFamilies...)
	}
	var shownTypes []string
	for i, algos := range tries {
		if i > 0 && shownFamily(shownTypes, algos) {
			continue
		}
		var shown ssh.PublicKey
		matched := false
		conf := &ssh.ClientConfig{
			User:              cfg.User,
			Auth:              auth,
			HostKeyAlgorithms: algos,
			Timeout:           cfg.DialTimeout,
			HostKeyCallback: func(_ string, _ net.Addr, key ssh.PublicKey) error {
				shown = key
				if pin.key != nil {
					matched = bytes.Equal(key.Marshal(), pin.key.Marshal())
				} else {
					matched = ssh.FingerprintSHA256(key) == pin.fingerprint
				}
				if !matched {
					return ErrHostKey
				}
				return nil
			},
		}
		s, err := dial(ctx, cfg, addr, conf)
		switch {
		case err == nil:
			return s, nil
		case matched:
			return nil, err // the right server refused us (authentication, SFTP)
		case shown != nil && errors.Is(err, ErrHostKey):
			mismatch.shown = append(mismatch.shown, shown.Type()+" "+ssh.FingerprintSHA256(shown))
			shownTypes = append(shownTypes, shown.Type())
		case i == 0 || ctx.Err() != nil:
			return nil, err
		}
		// A later try for a fingerprint pin fails when the server has no
		// key of that family: go on with the next.
	}
	return nil, mismatch
}

// shownFamily reports whether the server already showed a key of the type
// algos asks for.
func shownFamily(shown, algos []string) bool {
	for _, t := range shown {
		for _, a := range algos {
			if t == a || (t == ssh.KeyAlgoRSA && strings.HasPrefix(a, "rsa-")) {
				return true
			}
		}
	}
	return false
}

// dial connects, shakes hands and starts the SFTP subsystem within timeout
// and ctx.
func dial(ctx context.Context, cfg SFTPConfig, addr string, conf *ssh.ClientConfig) (*sftpFS, error) {
	timeout := cfg.DialTimeout
	connect := cfg.Dial
	if connect == nil {
		connect = (&net.Dialer{Timeout: timeout}).DialContext
	}
	dctx, cancel := context.WithTimeout(ctx, timeout)
	nc, err := connect(dctx, "tcp", addr)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("sitefiles: sftp: connect %s: %w", addr, err)
	}
	nc.SetDeadline(time.Now().Add(timeout))
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	fail := func(what string, err error) (*sftpFS, error) {
		nc.Close()
		if stop(); ctx.Err() != nil {
			err = ctx.Err()
		}
		return nil, fmt.Errorf("sitefiles: sftp: %s %s: %w", what, addr, err)
	}
	cc, chans, reqs, err := ssh.NewClientConn(nc, addr, conf)
	if err != nil {
		return fail("ssh handshake with", err)
	}
	client := ssh.NewClient(cc, chans, reqs)
	c, err := sftp.NewClient(client)
	if err != nil {
		client.Close()
		return fail("start sftp on", err)
	}
	if !stop() {
		c.Close()
		client.Close()
		return nil, fmt.Errorf("sitefiles: sftp: connect %s: %w", addr, ctx.Err())
	}
	nc.SetDeadline(time.Time{})
	_, posix := c.HasExtension("posix-rename@openssh.com")
	return &sftpFS{ssh: client, c: c, posixRename: posix}, nil
}

type sftpFS struct {
	ssh         *ssh.Client
	c           *sftp.Client
	root        string // canonical, absolute
	maxFiles    int
	posixRename bool

	mu     sync.Mutex
	closed bool
}

// Close closes the connection.
func (s *sftpFS) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.c.Close()
	return s.ssh.Close()
}

func (s *sftpFS) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// watch closes the connection if ctx ends before the returned stop is
// called; stop reports whether it did not. When it did, the connection is
// closed by the time stop returns: context.AfterFunc's own stop reports
// only that the close has started, in a goroutine of its own, and the
// caller's next use of the FS must get ErrClosed.
func (s *sftpFS) watch(ctx context.Context) func() bool {
	stop := context.AfterFunc(ctx, func() { s.Close() })
	return func() bool {
		if stop() {
			return true
		}
		s.Close() // the other Close may not have marked it yet; Close is idempotent
		return false
	}
}

// do runs op under ctx: the connection is closed if ctx ends meanwhile.
func (s *sftpFS) do(ctx context.Context, op func() error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if s.isClosed() {
		return ErrClosed
	}
	stop := s.watch(ctx)
	err := op()
	if !stop() {
		return fmt.Errorf("sitefiles: sftp: %w (the connection is closed)", ctx.Err())
	}
	if err != nil && s.isClosed() {
		return fmt.Errorf("%w: %v", ErrClosed, err)
	}
	return err
}

// abs is the server path of name (already checked) without resolving it.
func (s *sftpFS) abs(name string) string {
	if name == "." {
		return s.root
	}
	if s.root == "/" {
		return "/" + name
	}
	return s.root + "/" + name
}

// realpath resolves p on the server and refuses a result outside the root.
func (s *sftpFS) realpath(name, p string) (string, error) {
	real, err := s.c.RealPath(p)
	if err != nil {
		return "", &fs.PathError{Op: "realpath", Path: name, Err: err}
	}
	real = path.Clean(real)
	if !path.IsAbs(real) || !within(s.root, real) {
		return "", fmt.Errorf("%w: %q resolves to %s", ErrOutside, name, real)
	}
	return real, nil
}

// serverRefused reports whether err is the server's answer about one path
// (missing, forbidden or another SFTP status), not a broken connection.
func serverRefused(err error) bool {
	var se *sftp.StatusError
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, fs.ErrPermission) || errors.As(err, &se)
}

func (s *sftpFS) Walk(ctx context.Context, fn func(Entry) error) error {
	var c walkCount
	return s.do(ctx, func() error { return s.walk(ctx, ".", fn, &c) })
}

func (s *sftpFS) walk(ctx context.Context, dir string, fn func(Entry) error, c *walkCount) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	infos, err := s.c.ReadDirContext(ctx, s.abs(dir))
	if err != nil {
		if dir == "." || !serverRefused(err) || s.isClosed() {
			return fmt.Errorf("sitefiles: sftp: read %s: %w", s.abs(dir), err)
		}
		return nil // unreadable or vanished: skipped
	}
	sortForWalk(infos, func(fi os.FileInfo) dirEntry { return dirEntry{fi.Name(), fi.IsDir()} })
	for _, fi := range infos {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := fi.Name()
		if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
			continue // not a name a server should send
		}
		p := joinRel(dir, name)
		switch {
		case fi.IsDir():
			// Folders are bounded apart: a tree of empty folders (or a
			// server inventing them) must not walk for ever.
			if c.dirs++; c.dirs > s.maxFiles {
				return fmt.Errorf("%w: more than %d folders under %s", ErrTooManyFiles, s.maxFiles, s.root)
			}
			if err := s.walk(ctx, p, fn, c); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			if c.files++; c.files > s.maxFiles {
				return fmt.Errorf("%w: more than %d under %s", ErrTooManyFiles, s.maxFiles, s.root)
			}
			if err := fn(Entry{Path: p, Size: fi.Size(), ModTime: fi.ModTime(), Mode: fi.Mode()}); err != nil {
				return err
			}
		}
	}
	return nil
}

func (s *sftpFS) Stat(ctx context.Context, name string) (e Entry, err error) {
	if err := checkPath(name); err != nil {
		return Entry{}, err
	}
	err = s.do(ctx, func() error {
		real, err := s.realpath(name, s.abs(name))
		if err != nil {
			return err
		}
		fi, err := s.c.Stat(real)
		if err != nil {
			return &fs.PathError{Op: "stat", Path: name, Err: err}
		}
		e = Entry{Path: name, Size: fi.Size(), ModTime: fi.ModTime(), Mode: fi.Mode()}
		return nil
	})
	return e, err
}

func (s *sftpFS) Open(ctx context.Context, name string) (io.ReadCloser, error) {
	if err := checkPath(name); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if s.isClosed() {
		return nil, ErrClosed
	}
	stop := s.watch(ctx)
	f, err := s.open(name)
	if err != nil {
		if !stop() {
			return nil, fmt.Errorf("sitefiles: sftp: %w (the connection is closed)", ctx.Err())
		}
		return nil, err
	}
	return &sftpReader{ctx: ctx, f: f, stop: stop}, nil
}

func (s *sftpFS) open(name string) (*sftp.File, error) {
	real, err := s.realpath(name, s.abs(name))
	if err != nil {
		return nil, err
	}
	// Check the type before opening: the server would block opening a FIFO.
	fi, err := s.c.Stat(real)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	if !fi.Mode().IsRegular() {
		return nil, &fs.PathError{Op: "open", Path: name, Err: errNotRegular}
	}
	f, err := s.c.Open(real)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: name, Err: err}
	}
	return f, nil
}

// sftpReader reads a remote file while its context lasts.
type sftpReader struct {
	ctx  context.Context
	f    *sftp.File
	stop func() bool
	once sync.Once
}

func (r *sftpReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.f.Read(p)
	if err != nil && err != io.EOF && r.ctx.Err() != nil {
		err = r.ctx.Err()
	}
	return n, err
}

func (r *sftpReader) WriteTo(w io.Writer) (int64, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.f.WriteTo(w)
	if err != nil && r.ctx.Err() != nil {
		err = r.ctx.Err()
	}
	return n, err
}

func (r *sftpReader) Close() error {
	err := r.f.Close()
	r.once.Do(func() { r.stop() })
	return err
}

// dirOf makes sure the directory holding name exists (creating what is
// missing) and returns its canonical server path, refusing one that
// resolves outside the root.
func (s *sftpFS) dirOf(name string, create bool) (string, error) {
	dir := path.Dir(name)
	if dir == "." {
		return s.root, nil
	}
	// Most often it exists: one round trip.
	if real, err := s.realpath(name, s.abs(dir)); err == nil {
		if fi, err := s.c.Stat(real); err == nil && fi.IsDir() {
			return real, nil
		}
	} else if errors.Is(err, ErrOutside) {
		return "", err
	}
	if !create {
		return "", &fs.PathError{Op: "stat", Path: dir, Err: fs.ErrNotExist}
	}
	cur := s.root
	for _, part := range strings.Split(dir, "/") {
		p := cur + "/" + part
		if cur == "/" {
			p = "/" + part
		}
		fi, err := s.c.Lstat(p)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			if err := s.c.Mkdir(p); err != nil {
				return "", &fs.PathError{Op: "mkdir", Path: name, Err: err}
			}
		case err != nil:
			return "", &fs.PathError{Op: "lstat", Path: name, Err: err}
		case fi.Mode()&fs.ModeSymlink != 0:
			real, err := s.realpath(name, p)
			if err != nil {
				return "", err
			}
			if fi, err := s.c.Stat(real); err != nil || !fi.IsDir() {
				return "", &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
			}
			p = real
		case !fi.IsDir():
			return "", &fs.PathError{Op: "mkdir", Path: name, Err: syscall.ENOTDIR}
		}
		cur = p
	}
	return cur, nil
}

// entry checks the directory entry at dir/base: a link there must resolve
// inside the root; a directory is refused. It returns the entry's
// attributes, nil when it does not exist.
func (s *sftpFS) entry(name, dir, op string) (os.FileInfo, error) {
	p := dir + "/" + path.Base(name)
	if dir == "/" {
		p = "/" + path.Base(name)
	}
	fi, err := s.c.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, &fs.PathError{Op: op, Path: name, Err: err}
	}
	if fi.IsDir() {
		return nil, &fs.PathError{Op: op, Path: name, Err: syscall.EISDIR}
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		if _, err := s.realpath(name, p); err != nil {
			return nil, err
		}
	}
	return fi, nil
}

func (s *sftpFS) WriteFile(ctx context.Context, name string, data []byte, mode fs.FileMode) error {
	if err := checkPath(name); err != nil {
		return err
	}
	if name == "." {
		return &fs.PathError{Op: "write", Path: name, Err: syscall.EISDIR}
	}
	return s.do(ctx, func() error {
		dir, err := s.dirOf(name, true)
		if err != nil {
			return err
		}
		old, err := s.entry(name, dir, "write")
		if err != nil {
			return err
		}
		target := path.Join(dir, path.Base(name))
		tmp := path.Join(dir, path.Base(tempName(".")))
		f, err := s.c.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL)
		if err != nil {
			return &fs.PathError{Op: "write", Path: name, Err: err}
		}
		// Owner and mode first: the data is never readable by more than
		// the final mode allows.
		if st, ok := statOwner(old); ok {
			f.Chown(int(st.UID), int(st.GID)) // best effort: keeps the site's owner when we may
		}
		err = f.Chmod(fileMode(mode))
		if err == nil {
			_, err = f.Write(data)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = ctx.Err()
		}
		if err == nil {
			if s.posixRename {
				err = s.c.PosixRename(tmp, target)
			} else {
				// Plain SFTP rename refuses an existing target.
				if old != nil {
					err = s.c.Remove(target)
				}
				if err == nil {
					err = s.c.Rename(tmp, target)
				}
			}
		}
		if err != nil {
			s.c.Remove(tmp)
			return &fs.PathError{Op: "write", Path: name, Err: err}
		}
		return nil
	})
}

// statOwner is the owner of a remote file, if the server said.
func statOwner(fi os.FileInfo) (*sftp.FileStat, bool) {
	if fi == nil {
		return nil, false
	}
	st, ok := fi.Sys().(*sftp.FileStat)
	return st, ok && st != nil
}

func (s *sftpFS) Remove(ctx context.Context, name string) error {
	if err := checkPath(name); err != nil {
		return err
	}
	if name == "." {
		return &fs.PathError{Op: "remove", Path: name, Err: syscall.EISDIR}
	}
	return s.do(ctx, func() error {
		dir, err := s.dirOf(name, false)
		if err != nil {
			return err
		}
		fi, err := s.entry(name, dir, "remove")
		if err != nil {
			return err
		}
		if fi == nil {
			return &fs.PathError{Op: "remove", Path: name, Err: fs.ErrNotExist}
		}
		if err := s.c.Remove(path.Join(dir, path.Base(name))); err != nil {
			return &fs.PathError{Op: "remove", Path: name, Err: err}
		}
		return nil
	})
}

// probe lists the root directory.
func (s *sftpFS) probe(ctx context.Context) error {
	return s.do(ctx, func() error {
		if _, err := s.c.ReadDirContext(ctx, s.root); err != nil {
			return fmt.Errorf("sitefiles: sftp: read %s: %w", s.root, err)
		}
		return nil
	})
}
