package waf

// STUB: the signatures the rest of Palisade builds against while the
// implementation is written; replaced file by file.

import "errors"

var errTODO = errors.New("waf: not built yet")

// Firewall is the Core Rule Set compiled at one paranoia level, shared by
// every website at that level; safe for concurrent use.
type Firewall struct{ paranoia int }

// Registry compiles firewalls (one per paranoia level) and patch sets (one
// per distinct content, bounded) once and hands out the shared copies.
type Registry struct{}

// Default is the process's registry.
var Default = NewRegistry()

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Firewall returns the firewall for a paranoia level (1-4), compiling it on
// first use.
func (r *Registry) Firewall(paranoia int) (*Firewall, error) { return &Firewall{paranoia}, nil }

// PatchSet compiles patches into one set (shared with any other caller
// asking for the same patches).
func (r *Registry) PatchSet(ps []Patch) (*PatchSet, error) { return &PatchSet{}, nil }

// Evaluate runs the request through the firewall under o.
func (f *Firewall) Evaluate(in *Input, o *Options) Result { return Result{} }

// Exclusions are a website's exclusions, compiled: its chosen sets and its
// own entries.
type Exclusions struct{}

// CompileExclusions compiles the sets a website switched (name → on; a set
// left out keeps its Default) and its own exclusions.
func CompileExclusions(sets map[string]bool, own []Exclusion) (*Exclusions, error) {
	return &Exclusions{}, nil
}

// ValidateExclusion says what is wrong with one exclusion, in words a
// customer can act on (nil: fine).
func ValidateExclusion(e Exclusion) error { return nil }

// Sets lists the ready exclusion sets.
func Sets() []ExclusionSet { return nil }

// PatchSet is compiled virtual patches.
type PatchSet struct{}

// ValidatePatch says precisely what is wrong with a patch (for SecLang:
// the directive, line and Coraza's message), nil when it compiles.
func ValidatePatch(p Patch) error { return errTODO }
