package sitefiles

import (
	"fmt"
	"slices"
	"strings"
)

// checkPath reports whether name is a valid path relative to an FS's root:
// slash-separated, not absolute, no "." or ".." or empty elements (except
// "." alone, the root itself) and no NUL byte. Any other byte is a file
// name's own on Unix, backslashes and bytes that are not UTF-8 included:
// refusing them would let a file named so go unread by the malware scan.
// It returns ErrOutside, naming the path, when it is not.
func checkPath(name string) error {
	if name == "." {
		return nil
	}
	if strings.IndexByte(name, 0) >= 0 {
		return fmt.Errorf("%w: %q", ErrOutside, name)
	}
	for elem := range strings.SplitSeq(name, "/") {
		if elem == "" || elem == "." || elem == ".." {
			return fmt.Errorf("%w: %q", ErrOutside, name)
		}
	}
	return nil
}

// within reports whether the absolute, cleaned path p is root or lies
// under it (both slash-separated).
func within(root, p string) bool {
	if p == root {
		return true
	}
	if root == "/" {
		return strings.HasPrefix(p, "/")
	}
	return strings.HasPrefix(p, root+"/")
}

// joinRel joins a directory relative to the root ("." for the root) and a
// name in it.
func joinRel(dir, name string) string {
	if dir == "." {
		return name
	}
	return dir + "/" + name
}

// dirEntry is what the walks need from one entry of a directory listing.
type dirEntry struct {
	name string
	dir  bool
}

// sortForWalk orders the entries of one directory so that a depth-first
// walk visits paths in lexical order of the whole path: a directory sorts
// as its name followed by "/", which is where all of its descendants fall
// among its siblings ("a-b" comes before "a/x", which comes before "a0").
func sortForWalk[E any](entries []E, key func(E) dirEntry) {
	k := func(e E) string {
		d := key(e)
		if d.dir {
			return d.name + "/"
		}
		return d.name
	}
	slices.SortFunc(entries, func(a, b E) int { return strings.Compare(k(a), k(b)) })
}
