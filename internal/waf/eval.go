package waf

import (
	"encoding/json"
	"errors"
	"strings"
	"sync/atomic"
	"unicode/utf8"

	"github.com/corazawaf/coraza/v3/types"
	"github.com/corazawaf/coraza/v3/types/variables"
)

// Evaluation limits and defaults.
const (
	// MaxMatches is the most matches a Result lists (the score counts all).
	MaxMatches = 20
	// MaxData is the most bytes of matched data a Match keeps.
	MaxData = 64
	// maxMessage bounds a rule's message (a few CRS messages quote a
	// header or parameter name).
	maxMessage = 200
	// DefaultThreshold is the inbound anomaly score that blocks when
	// Options.Threshold is not set (CRS's own default).
	DefaultThreshold = 5
)

// recovered counts panics Evaluate recovered from (a bug in the rule
// engine on some input); tests insist it stays 0.
var recovered atomic.Int64

// Evaluate runs the request through the firewall under o: the header
// limits (gate.go: a request over them is blocked uninspected), the
// prefilter (prefilter.go), then CRS (through the heavy gate when the
// request weighs more than HeavyBytes), then o's patch sets (patch.go). The score is
// the sum of CRS's anomaly points of every scoring CRS request rule that
// matched (each rule once), after o's exclusions; Blocked when it reaches
// o.Threshold or a patch blocks. Safe for concurrent use; in is only read.
func (f *Firewall) Evaluate(in *Input, o *Options) Result {
	var res Result
	if in == nil {
		in = &Input{}
	}
	if o == nil {
		o = &Options{}
	}
	why := headersOverLimits(in)
	switch {
	case why != "":
		headersResult(&res, why)
	case prefilterClean(in):
		res.Skipped = true
	case inspectedBytes(in) <= HeavyBytes:
		f.evaluateCRS(in, o, &res)
	case heavy.acquire(HeavyWait):
		f.evaluateCRS(in, o, &res)
		heavy.release()
	default:
		busyResult(&res)
	}
	for _, ps := range o.Patches {
		if ps != nil {
			ps.evaluate(in, o.Now, &res)
		}
	}
	return res
}

// evaluateCRS runs CRS on in and fills res. A panic in the rule engine
// is recovered (and counted): the request is then judged by the patches
// alone.
func (f *Firewall) evaluateCRS(in *Input, o *Options, res *Result) {
	defer func() {
		if p := recover(); p != nil {
			recovered.Add(1)
			*res = Result{}
		}
	}()
	tx := f.waf.NewTransactionWithID("palisade")
	defer tx.Close()

	feed(tx, in)
	f.collect(in, o, tx.MatchedRules(), res)
}

// feed gives in to a transaction: connection, URI, headers (with Host,
// without the ignored ones, the Cookie header without Palisade's own
// cookies of their issued shape), phase 1, then the body (when any) and
// phase 2.
func feed(tx types.Transaction, in *Input) {
	client := ""
	if in.ClientAddr.IsValid() {
		client = in.ClientAddr.Unmap().String()
	}
	tx.ProcessConnection(client, 0, "", 0)
	method, proto, path := in.Method, in.Proto, in.Path
	if method == "" {
		method = "GET"
	}
	if proto == "" {
		proto = "HTTP/1.1"
	}
	if path == "" {
		path = "/"
	}
	uri := path
	if in.Query != "" {
		uri = path + "?" + in.Query
	}
	tx.ProcessURI(uri, method, proto)
	if in.Host != "" {
		tx.AddRequestHeader("Host", in.Host)
	}
	for k, vs := range in.Header {
		if in.Host != "" && strings.EqualFold(k, "Host") {
			continue
		}
		if ignoredHeader(in, k) {
			continue
		}
		cookie := len(k) == 6 && strings.EqualFold(k, "Cookie")
		for _, v := range vs {
			if cookie && hasOwnCookie(v) {
				// Palisade's own cookies of their issued shape are not
				// inspected (owncookies.go).
				if v = withoutOwnCookies(v); v == "" {
					continue
				}
			}
			tx.AddRequestHeader(k, v)
		}
	}
	tx.ProcessRequestHeaders()
	if in.Body != nil && tx.IsRequestBodyAccessible() {
		body := in.Body
		if len(body) > MaxBody {
			body = body[:MaxBody]
		}
		_, _, _ = tx.WriteRequestBody(body)
	}
	_, _ = tx.ProcessRequestBody()

}

// collect turns Coraza's matched rules into res (before the transaction
// closes: its match data go back to Coraza's pool).
func (f *Firewall) collect(in *Input, o *Options, matched []types.MatchedRule, res *Result) {
	threshold := o.Threshold
	if threshold <= 0 {
		threshold = DefaultThreshold
	}
	rc := reqContext{in: in}
	var cs classScores
	for _, mr := range matched {
		meta := mr.Rule()
		id := meta.ID()
		info := f.rules[id]
		if info == nil || info.points == 0 {
			continue
		}
		if id == ruleBodyError && bodyErrorAtTheCut(in, mr.Data()) {
			// A cut body that parses up to the cut: the integration's
			// limit, not the client's fault.
			continue
		}
		if id == ruleMultipartError && in.BodyTruncated && len(in.Body) < MaxBody && !bodyErrorBeforeTheCut(in, matched) {
			// A multipart body cut below MaxBody ends inside a part, a
			// strict error Coraza cannot tell from a cut it did not make.
			continue
		}
		mds := mr.MatchedDatas()
		if id != RuleArgs && o.Exclusions.drops(id, info, mds, &rc) {
			continue
		}
		// CRS adds a rule's points once per input it matched (Coraza runs
		// a rule's setvar for each matched variable); a chained rule's
		// once per chain.
		points := info.points * matchedInputs(mds)
		res.Score += points
		cs.add(info.class, points)
		if len(res.Matches) >= MaxMatches {
			continue
		}
		m := Match{ID: id, Message: truncate(mr.Message(), maxMessage), Class: info.class, Severity: info.severity}
		if md := reported(mds); md != nil {
			name, key := md.Variable().Name(), md.Key()
			m.Variable = name
			if key != "" {
				m.Variable = name + ":" + key
			}
			m.Data = truncate(rc.redact(md.Variable(), key, md.Value()), MaxData)
		}
		res.Matches = append(res.Matches, m)
	}
	res.Class = cs.best()
	res.Blocked = res.Blocked || res.Score >= threshold
}

// bodyErrorAtTheCut reports whether the body-parse error Coraza gave
// (rule 200002's data, "JSON: invalid JSON", "MULTIPART: ...") is the
// integration's cut and nothing else: the body is truncated, and for
// JSON the part that was passed is valid JSON up to its end (Go's
// scanner ends with "unexpected end of JSON input"), for XML and
// multipart the parser ran out of input (an EOF). A depth error, a byte
// order mark, a syntax error or a malformed part header before the cut
// still counts.
func bodyErrorAtTheCut(in *Input, msg string) bool {
	if !in.BodyTruncated {
		return false
	}
	switch {
	case msg == "JSON: invalid JSON":
		body := in.Body
		if len(body) > MaxBody {
			body = body[:MaxBody]
		}
		var raw json.RawMessage
		var se *json.SyntaxError
		err := json.Unmarshal(body, &raw)
		return errors.As(err, &se) && se.Offset == int64(len(body)) && strings.Contains(se.Error(), "unexpected end of JSON input")
	case strings.HasPrefix(msg, "XML: "), strings.HasPrefix(msg, "MULTIPART: "):
		return strings.HasSuffix(msg, "EOF")
	}
	return false
}

// bodyErrorBeforeTheCut reports whether rule 200002 matched with an
// error that is not the cut's.
func bodyErrorBeforeTheCut(in *Input, matched []types.MatchedRule) bool {
	for _, mr := range matched {
		if mr.Rule().ID() == ruleBodyError && !bodyErrorAtTheCut(in, mr.Data()) {
			return true
		}
	}
	return false
}

// matchedInputs is how many inputs a rule matched (at least one): the
// match data of the rule itself, or one for a chained rule.
func matchedInputs(mds []types.MatchData) int {
	n := 0
	for _, md := range mds {
		if md.ChainLevel() != 0 {
			return 1
		}
		n++
	}
	return max(n, 1)
}

// reported picks the match datum a Match shows: for a chained rule whose
// last link checked a value the first link captured (CRS's 920450 walks
// every header name, keeps each in TX:header_name_920450_<name> as
// "/<name>/", then checks those against the restricted list), the input
// of the first link whose value the last link's datum holds (the longest
// such); otherwise the first of the rule itself (chain level 0) on a
// request variable, else the first.
func reported(mds []types.MatchData) types.MatchData {
	if md := chainCulprit(mds); md != nil {
		return md
	}
	for _, md := range mds {
		if md.ChainLevel() == 0 && md.Variable() != variables.TX {
			return md
		}
	}
	if len(mds) > 0 {
		return mds[0]
	}
	return nil
}

// chainCulprit is the first link's datum the chain's last link confirmed
// (nil: not a chain, or none found).
func chainCulprit(mds []types.MatchData) types.MatchData {
	var last types.MatchData
	for _, md := range mds {
		if md.ChainLevel() > 0 && (last == nil || md.ChainLevel() >= last.ChainLevel()) {
			last = md
		}
	}
	if last == nil {
		return nil
	}
	lv := strings.ToLower(last.Value())
	var best types.MatchData
	for _, md := range mds {
		if md.ChainLevel() != 0 || md.Variable() == variables.TX {
			continue
		}
		v := md.Value()
		if v == "" || len(v) > len(lv) || (best != nil && len(v) <= len(best.Value())) {
			continue
		}
		if strings.Contains(lv, strings.ToLower(v)) {
			best = md
		}
	}
	return best
}

// ignoredHeader reports whether the integration asked the WAF not to
// inspect header k.
func ignoredHeader(in *Input, k string) bool {
	for _, h := range in.IgnoreHeaders {
		if len(h) == len(k) && (h == k || strings.EqualFold(h, k)) {
			return true
		}
	}
	return false
}

// truncate cuts s to at most n bytes without splitting a UTF-8 sequence;
// invalid UTF-8 is replaced, so the result is always valid.
func truncate(s string, n int) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "\uFFFD")
	}
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}
