// Package sitefiles reaches a website's files where they are: a document
// root on this machine (Local) or an account on another server over SFTP
// (SFTP). The malware scanner, the patch check and quarantine read and
// write through FS, so they work the same on both.
//
// Every path given to or returned by an FS is slash-separated and relative
// to the FS's root; a path that is absolute, holds "..", a NUL byte or a
// backslash, or that resolves (through a symbolic link) outside the root is
// refused with ErrOutside. Walk does not follow symbolic links.
//
// # Where the files are: local path and SFTP
//
// Local(root) serves a document root on this machine through an os.Root:
// every lookup is made step by step by the kernel (openat), so neither
// ".." nor a symbolic link can leave the root, and there is no window
// between a check and its use. Palisade needs read access to the tree
// (and write access for quarantine and repairs); files it rewrites keep
// their owner, and files it creates get their folder's owner, when it may
// set it (as root), and the mode it is given.
//
// SFTP(ctx, cfg) reaches an account on another server, the usual case for
// a hosting provider whose web servers are not the Palisade host:
//
//   - HostKey is required and pins the server: paste the line of
//     /etc/ssh/ssh_host_ed25519_key.pub (or another host key) or its
//     fingerprint from ssh-keygen -lf. A mismatch fails with ErrHostKey,
//     naming the key(s) the server showed. There is no trust on first use.
//   - Authentication by private key (PEM, with its passphrase if any) or
//     password (also answered to keyboard-interactive prompts).
//   - Root is the website's directory on the server, absolute or relative
//     to the login directory. A chrooted SFTP account (OpenSSH
//     ChrootDirectory with internal-sftp) is the strongest setup: the
//     server then enforces what this package checks.
//   - Confinement over SFTP relies on the server's REALPATH resolving
//     symbolic links, as OpenSSH does; it is checked before each use, and a
//     link swapped in between is not caught, so the account should not be
//     able to read or write more than the website.
//   - Every call is bounded by its context: when it ends mid-operation the
//     connection is closed and the FS answers ErrClosed from then on.
//     DialTimeout (10 s) bounds connecting; Walk stops with ErrTooManyFiles
//     past MaxFiles regular files or MaxFiles folders (200,000 by
//     default; Local's Walk has the same default bound, and also stops at
//     a single folder of more entries).
//   - Walk costs one request per directory; Open costs three (REALPATH,
//     STAT so that a FIFO is never opened, OPEN) plus the reads.
//
// Probe(ctx, fs) lists the root once; the API uses it to validate a
// website's file settings before saving them.
package sitefiles

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"time"
)

// ErrOutside is a path outside the FS's root (or not a valid relative
// path).
var ErrOutside = errors.New("sitefiles: path outside the website's root")

// Entry is one regular file found by Walk.
type Entry struct {
	Path    string      // slash-separated, relative to the root
	Size    int64       // bytes
	ModTime time.Time   // last modification
	Mode    fs.FileMode // permission bits and type
}

// FS is a website's files.
type FS interface {
	// Walk calls fn for every regular file under the root, in lexical
	// order of paths; it does not follow symbolic links and skips what
	// it cannot read (reporting nothing for it). An error from fn stops
	// the walk and is returned; so does ctx ending.
	Walk(ctx context.Context, fn func(Entry) error) error
	// Stat describes one file.
	Stat(ctx context.Context, path string) (Entry, error)
	// Open opens a regular file for reading.
	Open(ctx context.Context, path string) (io.ReadCloser, error)
	// WriteFile replaces (or creates) path with data, atomically where the
	// system allows it (a temporary file renamed into place), creating
	// the missing parent directories.
	WriteFile(ctx context.Context, path string, data []byte, mode fs.FileMode) error
	// Remove removes one file.
	Remove(ctx context.Context, path string) error
	// Close releases the connection, if any.
	Close() error
}
