package events

import "github.com/palisadehq/palisade/internal/engine"

// MaxReusedReport bounds one report of reused grants: a web server reports
// what it answered from its grant cache since its last report, a few
// seconds' worth of requests; more than this in one report is refused as
// implausible rather than billed.
const MaxReusedReport = 1_000_000

// CountReused adds n grants that a web server answered from its grant
// cache (engine.GrantCache: nginx's proxy_cache on the auth subrequest,
// mod_palisade's cache) for the website pol to this minute's counters,
// under the category of the grant that was reused. They are requests the
// website served, and plans are priced by requests, so they count like
// any other grant; they are never events (the grant they reuse was
// decided, and sampled, when it was made). It reports false, counting
// nothing, for an unknown website or an n outside 1..MaxReusedReport.
func (r *Recorder) CountReused(pol *engine.Policy, cat engine.Category, n int64) bool {
	if pol == nil || n <= 0 || n > MaxReusedReport {
		return false
	}
	minute := r.opt.Now().Unix() / 60
	k := counterKey{website: pol.WebsiteID, partner: pol.PartnerID, minute: minute, action: engine.Grant, category: cat.String()}
	s := &r.shards[uint64(pol.WebsiteID)%uint64(len(r.shards))]
	s.mu.Lock()
	s.m[k] += n
	s.mu.Unlock()
	return true
}
