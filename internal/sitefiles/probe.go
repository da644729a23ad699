package sitefiles

import (
	"context"
	"fmt"
)

// Probe checks that fs's root can be read: the API calls it to validate a
// website's file settings before saving them. The FSs of this package list
// the root directory (one request over SFTP); any other FS is asked to
// Stat the root, which must be a directory.
func Probe(ctx context.Context, fs FS) error {
	if p, ok := fs.(interface{ probe(context.Context) error }); ok {
		return p.probe(ctx)
	}
	e, err := fs.Stat(ctx, ".")
	if err != nil {
		return err
	}
	if !e.Mode.IsDir() {
		return fmt.Errorf("sitefiles: the root is not a directory")
	}
	return nil
}
