package waf

import (
	"errors"
	"time"
)

// STUB (owner: the patch helper): delete each piece as it is implemented.

// PatchSet is compiled virtual patches.
type PatchSet struct{}

// PatchSet compiles patches into one set (shared with any other caller
// asking for the same patches; the registry keeps a bounded number).
func (r *Registry) PatchSet(ps []Patch) (*PatchSet, error) { return &PatchSet{}, nil }

// ValidatePatch says precisely what is wrong with a patch (for SecLang:
// the directive, line and Coraza's message), nil when it compiles.
func ValidatePatch(p Patch) error { return errors.New("waf: virtual patches are not built yet") }

// evaluate runs the set's unexpired patches on in and adds their matches
// to res (Class ClassPatch, Patch the patch's name; Blocked when a
// blocking patch matched).
func (ps *PatchSet) evaluate(in *Input, now time.Time, res *Result) {}
