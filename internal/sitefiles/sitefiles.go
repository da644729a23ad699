// Package sitefiles reaches a website's files where they are: a document
// root on this machine (Local) or an account on another server over SFTP
// (SFTP). The malware scanner, the patch check and quarantine read and
// write through FS, so they work the same on both.
//
// Every path given to or returned by an FS is slash-separated and relative
// to the FS's root; a path that is absolute, holds "..", a NUL byte or a
// backslash, or that resolves (through a symbolic link) outside the root is
// refused with ErrOutside. Walk does not follow symbolic links.
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
