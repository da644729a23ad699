package waf

// STUB (owner: the eval helper): delete each piece as it is implemented.

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

// Evaluate runs the request through the firewall under o: the prefilter
// (prefilter.go), then CRS, then o's patch sets (patch.go).
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
