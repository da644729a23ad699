package waf

import (
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	coreruleset "github.com/corazawaf/coraza-coreruleset/v4"
	"github.com/corazawaf/coraza/v3"
	"github.com/corazawaf/coraza/v3/experimental"
	"github.com/corazawaf/coraza/v3/types"
)

// Registry compiles firewalls (one per paranoia level) and patch sets (one
// per distinct content, bounded) once and hands out the shared copies.
// Safe for concurrent use.
type Registry struct {
	levels [4]level

	// The patch sets' bounded cache. These fields are declared here and
	// used only by patch.go (the patch helper's): mu guards both;
	// patchSets maps a content hash to its compiled set, patchOrder holds
	// the hashes oldest first, for eviction.
	mu         sync.Mutex
	patchSets  map[[32]byte]*PatchSet
	patchOrder [][32]byte
}

// level is one paranoia level's firewall, compiled once.
type level struct {
	once sync.Once
	fw   *Firewall
	err  error
}

// Default is the process's registry.
var Default = NewRegistry()

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{} }

// Firewall returns the firewall for a paranoia level (1-4), compiling it on
// first use; every later call (from any goroutine) gets the same one.
func (r *Registry) Firewall(paranoia int) (*Firewall, error) {
	if paranoia < 1 || paranoia > 4 {
		return nil, fmt.Errorf("waf: paranoia level must be 1 to 4, not %d", paranoia)
	}
	l := &r.levels[paranoia-1]
	l.once.Do(func() { l.fw, l.err = compileFirewall(paranoia) })
	return l.fw, l.err
}

// Firewall is the Core Rule Set compiled at one paranoia level, shared by
// every website at that level; safe for concurrent use.
type Firewall struct {
	paranoia int
	waf      coraza.WAF
	// rules holds what Palisade needs of every CRS request rule (and the
	// two body-error rules of coraza.conf-recommended), by id.
	rules map[int]*ruleInfo
	// Compiled is how long compiling took.
	Compiled time.Duration
}

// Paranoia is the firewall's paranoia level.
func (f *Firewall) Paranoia() int { return f.paranoia }

// ruleInfo is a compiled rule's metadata as the evaluation uses it.
type ruleInfo struct {
	points   int // inbound anomaly points; 0: the rule does not score
	class    string
	severity string
	tags     []string // as CRS writes them
}

// Rule ids of coraza.conf-recommended's body-error rules, kept: a body
// the JSON, XML or multipart parser refuses is not inspected, so it is
// scored as a critical protocol violation.
const (
	ruleBodyError      = 200002
	ruleMultipartError = 200003
)

// MaxArgs is the most arguments (query, form or JSON parameters) a
// request may have: CRS's 920380 ("Too many arguments in request", PL1,
// critical) scores more. Coraza keeps MaxArgs+1 per collection and
// drops the rest uninspected; a request with arguments dropped also
// carries RuleArgs, which no exclusion drops.
const MaxArgs = 1000

// RuleArgs is the id of the match a request whose arguments were not all
// inspected (more than MaxArgs+1 in a collection) carries (Palisade's own).
const RuleArgs = 999102

// crsVersion is the CRS setup version the 901001 check wants
// (tx.crs_setup_version), from the module's version.
const crsVersion = 4250

// directives builds the configuration of one paranoia level: the
// adapted coraza.conf-recommended, Palisade's CRS setup and CRS's request
// rules (responses are never evaluated, so the RESPONSE-* files are not
// loaded). The engine runs DetectionOnly and CRS's thresholds are out of
// reach: every request rule runs and nothing interrupts; Palisade sums
// the score itself, after each website's exclusions.
//
// Coraza's experimental SecRxPreFilter stays off: it saves about a tenth
// of the time but misses 942220 on "2.2250738585072011e-308" (CRS's
// regression test 942220-2; TestEveryRegexRuns).
func directives(paranoia int) string {
	pl := strconv.Itoa(paranoia)
	return `
SecRuleEngine DetectionOnly
SecRequestBodyAccess On
SecRule REQUEST_HEADERS:Content-Type "^(?:application(?:/soap\+|/)|text/)xml" \
     "id:'200000',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=XML"
SecRule REQUEST_HEADERS:Content-Type "^application/json" \
     "id:'200001',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRule REQUEST_HEADERS:Content-Type "^application/[a-z0-9.-]+[+]json" \
     "id:'200006',phase:1,t:none,t:lowercase,pass,nolog,ctl:requestBodyProcessor=JSON"
SecRequestBodyJsonDepthLimit 256
SecArgumentsLimit ` + strconv.Itoa(MaxArgs+1) + `
SecRequestBodyLimit ` + strconv.Itoa(MaxBody) + `
SecRequestBodyNoFilesLimit ` + strconv.Itoa(MaxBody) + `
SecRequestBodyInMemoryLimit ` + strconv.Itoa(MaxBody) + `
SecRequestBodyLimitAction ProcessPartial
SecRule REQBODY_ERROR "!@eq 0" \
    "id:'200002', phase:2,t:none,log,deny,status:400,msg:'Failed to parse request body.',logdata:'%{reqbody_error_msg}',severity:2"
SecRule MULTIPART_STRICT_ERROR "!@eq 0" \
    "id:'200003',phase:2,t:none,log,deny,status:400,severity:2, \
    msg:'Multipart request body failed strict validation.'"
SecRule ARGUMENTS_LIMIT_REACHED "@eq 1" \
    "id:'` + strconv.Itoa(RuleArgs) + `',phase:2,t:none,log,pass,severity:2, \
    msg:'request not inspected in full: more than ` + strconv.Itoa(MaxArgs+1) + ` arguments'"
SecResponseBodyAccess Off
SecAuditEngine Off

SecDefaultAction "phase:1,log,auditlog,pass"
SecDefaultAction "phase:2,log,auditlog,pass"
SecAction "id:900990,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',setvar:tx.crs_setup_version=` + strconv.Itoa(crsVersion) + `"
SecAction "id:900000,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',setvar:tx.blocking_paranoia_level=` + pl + `,setvar:tx.detection_paranoia_level=` + pl + `"
SecAction "id:900110,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',setvar:tx.inbound_anomaly_score_threshold=100000,setvar:tx.outbound_anomaly_score_threshold=100000"
SecAction "id:900300,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',setvar:tx.max_num_args=` + strconv.Itoa(MaxArgs) + `"
SecAction "id:900120,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',setvar:tx.early_blocking=0"
SecAction "id:900400,phase:1,pass,t:none,nolog,tag:'OWASP_CRS',setvar:tx.sampling_percentage=100"
Include @owasp_crs/REQUEST-*.conf
`
}

// compileFirewall compiles CRS at one paranoia level.
func compileFirewall(paranoia int) (*Firewall, error) {
	start := time.Now()
	f := &Firewall{paranoia: paranoia, rules: make(map[int]*ruleInfo, 700)}
	registerRxCache()
	cfg := coraza.NewWAFConfig().
		WithRootFS(rxCacheFS{coreruleset.FS}).
		WithDirectives(directives(paranoia))
	cfg = experimental.WAFConfigWithRuleObserver(cfg, func(r types.RuleMetadata) { f.observe(r) })
	w, err := coraza.NewWAF(cfg)
	if err != nil {
		return nil, fmt.Errorf("waf: compiling the Core Rule Set at paranoia level %d: %w", paranoia, err)
	}
	f.waf = w
	f.Compiled = time.Since(start)
	return f, nil
}

// observe records one rule's metadata as the parser adds it.
func (f *Firewall) observe(r types.RuleMetadata) {
	id := r.ID()
	if id <= 0 {
		return
	}
	info := &ruleInfo{class: classOf(id), tags: r.Tags()}
	if s := r.Severity(); s != types.RuleSeverityUnset {
		info.severity = s.String()
	}
	switch {
	case id == ruleBodyError || id == ruleMultipartError || id == RuleArgs:
		info.points, info.severity = 5, "critical"
	case scoringPhase(id):
		// Chained rules add their points in the chain's last link, which
		// the observer does not see: their severity says them.
		if info.points = anomalyPoints(r.Raw()); info.points == 0 {
			info.points = severityPoints[info.severity]
		}
	}
	f.rules[id] = info
}

// scoringPhase reports whether a rule id lies in CRS's detection files
// (not 901 initialization, 905 exceptions, 949 blocking, 980 correlation).
func scoringPhase(id int) bool {
	file := id / 1000
	return file >= 910 && file < 949 && file != 905
}

// severityPoints are CRS's anomaly points by severity.
var severityPoints = map[string]int{"critical": 5, "error": 4, "warning": 3, "notice": 2}

// anomalyPoints reads the inbound anomaly points a CRS rule adds
// (setvar:'tx.inbound_anomaly_score_plN=+%{tx.critical_anomaly_score}'),
// 0 when it adds none. The points are CRS's own defaults.
func anomalyPoints(raw string) int {
	i := strings.Index(raw, "inbound_anomaly_score_pl")
	if i < 0 {
		return 0
	}
	rest := raw[i:]
	for _, s := range [...]struct {
		name   string
		points int
	}{{"critical_anomaly_score", 5}, {"error_anomaly_score", 4}, {"warning_anomaly_score", 3}, {"notice_anomaly_score", 2}} {
		if j := strings.Index(rest, s.name); j >= 0 && j < 80 {
			return s.points
		}
	}
	return 0
}
