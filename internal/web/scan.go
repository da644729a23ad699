package web

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/routes"
)

// The customer pages "Security scan" (/scan: the scans' status, "scan
// now", the findings and their actions, the patch check's components) and
// "Backups" (/backups: the snapshots and their restore, confirmed on a
// page of its own). Every action is a POST with the dashboard's CSRF token
// and is decided by the core (Service.RequestScan, IgnoreFinding,
// RequestFindingAction, RequestRestore) with the session's Caller; a
// refusal is shown on the page itself, in its own words, with the core's
// detail. See docs/DASHBOARDS.md and docs/SCANNING.md.

func (h *Handler) registerScan(mux routes.Mux) {
	mux.HandleFunc("POST /{lang}/website/{domain}/scan/request", h.scanRequestPost)
	mux.HandleFunc("POST /{lang}/website/{domain}/scan/finding", h.scanFindingPost)
	mux.HandleFunc("POST /{lang}/website/{domain}/scan/update", h.scanUpdatePost) // scan_update.go
	mux.HandleFunc("POST /{lang}/website/{domain}/backups/request", h.backupRequestPost)
	mux.HandleFunc("POST /{lang}/website/{domain}/backups/restore", h.backupRestorePost)
	mux.HandleFunc("POST /{lang}/website/{domain}/backups/download", h.backupDownloadPost) // backup_browse.go
}

// scanKinds are the kinds the scan page shows, in its order.
var scanKinds = []core.ScanKind{core.ScanFiles, core.ScanDatabase, core.ScanPatch}

// findingStates and severities are the filters' choices.
var (
	findingStates = []string{core.FindingOpen, core.FindingQuarantined, core.FindingCleaned, core.FindingIgnored, core.FindingResolved}
	severities    = []string{"critical", "high", "medium", "low"}
)

// pageProblem is a refused action shown on its page: the status and the
// core's message.
type pageProblem struct {
	Status  int
	Message string
}

// kindRow is one kind of scan (or backups) with its last jobs.
type kindRow struct {
	Kind    core.ScanKind
	Enabled bool
	Every   int // hours between scheduled runs, 0: on demand only
	Jobs    []jobRow
	Busy    bool // a job is queued or running: "scan now" would be refused
}

// jobRow is a job as the pages show it.
type jobRow struct {
	Job     core.ScanJob
	When    time.Time // when it finished, else when it was asked for
	Summary string    // what it did, in the page's language
}

// findingRow is a finding with what may be done with it.
type findingRow struct {
	F         core.Finding
	Signature string // as shown (the product's own prefix left out)
	Pending   string // an action queued or running on it ("quarantine"...)
	Actions   []string
	// Patch findings: the component's name and version, the advisory's
	// summary and the version that fixes it.
	Name, Version, Advisory, Fixed string
	// Update is the component's update request when the page offers one
	// (scan_update.go); nil: no "Update" button.
	Update *core.UpdateRequest
}

type scanView struct {
	Configured bool
	Kinds      []kindRow
	Findings   []findingRow
	Patch      []findingRow
	ShowPatch  bool              // the patch check is on, or has found something
	Updates    bool              // components may be updated (the operator's command, backups on)
	Filter     map[string]string // kind, state, severity
	States     []string
	Severities []string
	Query      string // the filter as a query (kept through actions)
	Done       string // the message of the action just done
	Problem    *pageProblem
}

// jobLimit is how many jobs of each kind the pages show.
const jobLimit = 3

func (h *Handler) scanPage(w http.ResponseWriter, r *http.Request, v view, s core.Session, prob *pageProblem) {
	ctx, c := r.Context(), callerOf(s)
	st, err := h.svc.WebsiteScanSettings(ctx, c, v.Site.Domain)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q, _ = url.ParseQuery(r.PostFormValue("q"))
	}
	sv := scanView{Filter: map[string]string{}, States: findingStates, Severities: severities, Problem: prob,
		Configured: st.Files.Enabled || st.Database.Enabled || st.Patch.Enabled}
	sv.Filter["kind"], sv.Filter["state"], sv.Filter["severity"] = "", "", ""
	kept := url.Values{}
	if k := q.Get("kind"); k == string(core.ScanFiles) || k == string(core.ScanDatabase) {
		sv.Filter["kind"] = k
		kept.Set("kind", k)
	}
	for _, f := range []struct {
		key  string
		opts []string
	}{{"state", findingStates}, {"severity", severities}} {
		if x := q.Get(f.key); contains(f.opts, x) {
			sv.Filter[f.key] = x
			kept.Set(f.key, x)
		}
	}
	sv.Query = kept.Encode()
	if d := q.Get("done"); d != "" && i18n.Has("en", "scan.done."+d) && r.Method == http.MethodGet {
		sv.Done = tr(v.Lang, "scan.done."+d)
	}
	every := map[core.ScanKind]int{core.ScanFiles: st.Files.EveryHours, core.ScanDatabase: st.Database.EveryHours, core.ScanPatch: st.Patch.EveryHours}
	enabled := map[core.ScanKind]bool{core.ScanFiles: st.Files.Enabled, core.ScanDatabase: st.Database.Enabled, core.ScanPatch: st.Patch.Enabled}
	for _, k := range scanKinds {
		// The newest jobs of the kind: one queued or running, if any, is
		// among them (one at a time per website and kind).
		jobs, err := h.svc.ScanJobs(ctx, c, v.Site.Domain, k, jobLimit)
		if err != nil {
			h.fail(w, r, nil, err)
			return
		}
		sv.Kinds = append(sv.Kinds, kindRowOf(v.Lang, k, enabled[k], every[k], jobs))
	}
	// Actions queued or running, by finding.
	actions, err := h.svc.ScanJobs(ctx, c, v.Site.Domain, core.ScanAction, core.MaxScanListing)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	pending := map[int64]string{}
	for _, j := range actions {
		if j.Kind == core.ScanAction && (j.State == core.JobQueued || j.State == core.JobRunning) {
			var a core.FindingAction
			if json.Unmarshal([]byte(j.Params), &a) == nil {
				pending[a.FindingID] = a.Action
			}
		}
	}
	ff := core.FindingFilter{Kind: core.ScanKind(sv.Filter["kind"]), State: sv.Filter["state"]}
	fs, err := h.svc.Findings(ctx, c, v.Site.Domain, ff)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	for _, f := range fs {
		if f.Kind == core.ScanPatch || (sv.Filter["severity"] != "" && f.Severity != sv.Filter["severity"]) {
			continue
		}
		sv.Findings = append(sv.Findings, findingRowOf(f, pending[f.ID]))
	}
	// The patch check's components (shown while it is on, or while it
	// has findings from when it was).
	sv.ShowPatch = st.Patch.Enabled
	ps, err := h.svc.Findings(ctx, c, v.Site.Domain, core.FindingFilter{Kind: core.ScanPatch})
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	sv.Updates = h.svc.UpdatesOffered() && st.Patch.Enabled && st.Backup.Enabled && st.Files.Source.Kind == "local"
	for _, f := range ps {
		if f.State != core.FindingResolved {
			row := findingRowOf(f, "")
			if sv.Updates && f.State == core.FindingOpen {
				row.Update = updateTarget(f.Location)
			}
			sv.Patch = append(sv.Patch, row)
			sv.ShowPatch = true
		}
	}
	status := http.StatusOK
	if prob != nil {
		status = prob.Status
	}
	v.Title, v.Data, v.Tab = tr(v.Lang, "scan.title")+" · "+v.Site.Domain, sv, "scan"
	h.render(w, "scan", status, v)
}

func contains(opts []string, v string) bool {
	for _, o := range opts {
		if o == v {
			return true
		}
	}
	return false
}

// kindRowOf picks kind's last jobs (newest first) from jobs.
func kindRowOf(l string, k core.ScanKind, enabled bool, every int, jobs []core.ScanJob) kindRow {
	row := kindRow{Kind: k, Enabled: enabled, Every: every}
	for _, j := range jobs {
		if j.Kind != k {
			continue
		}
		if j.State == core.JobQueued || j.State == core.JobRunning {
			row.Busy = true
		}
		if len(row.Jobs) < jobLimit {
			row.Jobs = append(row.Jobs, jobRowOf(l, j))
		}
	}
	return row
}

// jobSummary is the part of the worker's job summaries (internal/scanrun's
// FilesSummary, PatchSummary, BackupSummary, RestoreSummary) the pages
// show.
type jobSummary struct {
	FilesSeen     int64 `json:"files_seen"`
	FilesScanned  int64 `json:"files_scanned"`
	FilesSkipped  int64 `json:"files_skipped"`
	Findings      int64 `json:"findings"`
	New           int64 `json:"new"`
	Resolved      int64 `json:"resolved"`
	Cleaned       int64 `json:"cleaned"`
	Vulnerable    int64 `json:"vulnerable"`
	Outdated      int64 `json:"outdated"`
	FilesRestored int64 `json:"files_restored"`
	DBRestored    bool  `json:"database_restored"`
	Files         *struct {
		ShortID string `json:"ShortID"`
		Summary *struct {
			TotalFiles int64 `json:"TotalFiles"`
			TotalBytes int64 `json:"TotalBytes"`
		} `json:"Summary"`
	} `json:"files"`
	Database *struct {
		ShortID string `json:"ShortID"`
	} `json:"database"`
	State  string `json:"state"` // an action's finding state after it
	Tables []struct {
		Rows int64 `json:"rows"`
	} `json:"tables"` // a database scan's tables
}

func jobRowOf(l string, j core.ScanJob) jobRow {
	row := jobRow{Job: j, When: j.CreatedAt}
	if j.FinishedAt != nil {
		row.When = *j.FinishedAt
	}
	if j.State == core.JobFailed {
		row.Summary = j.Error
	}
	if j.Summary == "" {
		return row
	}
	var sum jobSummary
	if json.Unmarshal([]byte(j.Summary), &sum) != nil {
		return row
	}
	n := func(x int64) string { return i18n.Number(l, x) }
	var text string
	switch j.Kind {
	case core.ScanDatabase:
		var rows int64
		for _, t := range sum.Tables {
			rows += t.Rows
		}
		text = i18n.T(l, "scan.sum.database", map[string]any{"Tables": n(int64(len(sum.Tables))), "Rows": n(rows), "Findings": n(sum.Findings),
			"New": n(sum.New), "Resolved": n(sum.Resolved)})
		if sum.Cleaned > 0 {
			text += " " + i18n.T(l, "scan.sum.cleaned", map[string]any{"N": n(sum.Cleaned)})
		}
	case core.ScanFiles:
		text = i18n.T(l, "scan.sum.files", map[string]any{"Seen": n(sum.FilesSeen), "Scanned": n(sum.FilesScanned), "Findings": n(sum.Findings),
			"New": n(sum.New), "Resolved": n(sum.Resolved)})
		if sum.FilesSkipped > 0 {
			text += " " + i18n.T(l, "scan.sum.skipped", map[string]any{"N": n(sum.FilesSkipped)})
		}
		if sum.Cleaned > 0 {
			text += " " + i18n.T(l, "scan.sum.cleaned", map[string]any{"N": n(sum.Cleaned)})
		}
	case core.ScanPatch:
		text = i18n.T(l, "scan.sum.patch", map[string]any{"Vulnerable": n(sum.Vulnerable), "Outdated": n(sum.Outdated), "New": n(sum.New),
			"Resolved": n(sum.Resolved)})
	case core.ScanBackup:
		if sum.Files != nil {
			var files, bytes int64
			if sum.Files.Summary != nil {
				files, bytes = sum.Files.Summary.TotalFiles, sum.Files.Summary.TotalBytes
			}
			text = i18n.T(l, "bk.sum", map[string]any{"ID": sum.Files.ShortID, "Files": n(files), "Size": byteSize(l, bytes)})
			if sum.Database != nil {
				text += " " + tr(l, "bk.sum.db")
			}
		}
	case core.ScanRestore:
		text = i18n.T(l, "bk.sum.restored", map[string]any{"N": n(sum.FilesRestored)})
		if sum.DBRestored {
			text += " " + tr(l, "bk.sum.db.restored")
		}
	case core.ScanAction:
		if sum.State != "" {
			text = label(l, "scan.state.", sum.State)
		}
	}
	if row.Summary != "" && text != "" {
		row.Summary = text + " — " + row.Summary
	} else if text != "" {
		row.Summary = text
	}
	return row
}

// byteSize writes n bytes in l's way, with l's unit names (1,5 Mo).
func byteSize(l string, n int64) string {
	units := []string{"bk.unit.b", "bk.unit.kb", "bk.unit.mb", "bk.unit.gb", "bk.unit.tb"}
	f, u := float64(n), 0
	for f >= 1000 && u < len(units)-1 {
		f, u = f/1000, u+1
	}
	s := strconv.FormatInt(n, 10)
	if u > 0 {
		s = strconv.FormatFloat(f, 'f', 1, 64)
		dec, _ := i18n.Separators(l)
		s = strings.Replace(s, ".", dec, 1)
	} else {
		s = i18n.Number(l, n)
	}
	return i18n.T(l, units[u], map[string]any{"N": s})
}

// shownSignature leaves out the product's own prefix of its signatures'
// names ("Palisade.PHP.Webshell.Eval" is shown "PHP.Webshell.Eval"): the
// pages carry the partner's brand only.
func shownSignature(s string) string { return strings.TrimPrefix(s, "Palisade.") }

func findingRowOf(f core.Finding, pending string) findingRow {
	row := findingRow{F: f, Signature: shownSignature(f.Signature), Pending: pending}
	if f.Kind == core.ScanPatch && f.Detail != "" {
		var d struct {
			Name, Version, Summary, Fixed string
			LatestFixed                   string `json:"latest_fixed"`
		}
		if json.Unmarshal([]byte(f.Detail), &d) == nil {
			row.Name, row.Version, row.Advisory, row.Fixed = d.Name, d.Version, d.Summary, d.Fixed
			if row.Fixed == "" {
				row.Fixed = d.LatestFixed
			}
		}
	}
	if row.Name == "" {
		row.Name = f.Location
	}
	if pending != "" {
		return row
	}
	switch f.State {
	case core.FindingOpen:
		if f.Kind == core.ScanFiles {
			row.Actions = append(row.Actions, core.ActionQuarantine, core.ActionClean)
		}
		row.Actions = append(row.Actions, "ignore")
	case core.FindingIgnored:
		row.Actions = append(row.Actions, "unignore")
	case core.FindingQuarantined:
		if f.QuarantineID != "" {
			row.Actions = append(row.Actions, core.ActionRestore)
		}
	}
	return row
}

// actionProblem shows err on the page when the website was the session's
// to open: the core's refusal of the action itself (a finding in another
// state, a job already queued...), in the page's style.
func (h *Handler) actionProblem(w http.ResponseWriter, r *http.Request, err error) *pageProblem {
	code, msg := h.problem(w, r, err, true)
	return &pageProblem{Status: code, Message: msg}
}

func (h *Handler) scanRequestPost(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 1<<16)
	if !ok {
		return
	}
	kind := core.ScanKind(r.PostFormValue("kind"))
	if _, err := h.svc.RequestScan(r.Context(), callerOf(s), v.Site.Domain, kind); err != nil {
		h.scanPage(w, r, v, s, h.actionProblem(w, r, err))
		return
	}
	h.backTo(w, r, v.Base+"/scan", "requested")
}

// backTo answers a done action with a redirect to the page (its filter
// kept from the form's q) saying done.
func (h *Handler) backTo(w http.ResponseWriter, r *http.Request, page, done string) {
	q, _ := url.ParseQuery(r.PostFormValue("q"))
	keep := url.Values{}
	for _, k := range []string{"kind", "state", "severity"} {
		if x := q.Get(k); x != "" {
			keep.Set(k, x)
		}
	}
	keep.Set("done", done)
	http.Redirect(w, r, page+"?"+keep.Encode(), http.StatusSeeOther)
}

func (h *Handler) scanFindingPost(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 1<<16)
	if !ok {
		return
	}
	ctx, c := r.Context(), callerOf(s)
	id, perr := strconv.ParseInt(r.PostFormValue("id"), 10, 64)
	action := r.PostFormValue("action")
	var err error
	switch {
	case perr != nil || id <= 0:
		err = core.FieldError("id", "id must be a finding's number")
	case action == "ignore" || action == "unignore":
		_, err = h.svc.IgnoreFinding(ctx, c, v.Site.Domain, id, action == "ignore")
	default:
		_, err = h.svc.RequestFindingAction(ctx, c, v.Site.Domain, id, action)
	}
	if err != nil {
		h.scanPage(w, r, v, s, h.actionProblem(w, r, err))
		return
	}
	h.backTo(w, r, v.Base+"/scan", action)
}

// ---- backups ----

// restoreWhat are the restore's choices: everything (files), files and
// database, one file or folder, the database alone.
var restoreWhat = []string{"all", "alldb", "path", "database"}

type backupsView struct {
	Configured bool
	Kind       kindRow // the backup jobs
	Restores   []jobRow
	Backups    []core.Backup
	Done       string
	Problem    *pageProblem
	// Restore is the restore being chosen (?snapshot=) or confirmed
	// (&confirm=1); nil: none.
	Restore *restoreView
	// Browse is the folder of a backup being browsed (?browse=&dir=,
	// backup_browse.go); nil: none.
	Browse *browseView
}

type restoreView struct {
	B       core.Backup
	What    string // one of restoreWhat
	Path    string
	Confirm bool   // the choice is made: the page asks to confirm it
	Error   string // what is wrong with the choice
}

// request is the core's restore request for the choice.
func (rv restoreView) request() core.RestoreRequest {
	switch rv.What {
	case "alldb":
		return core.RestoreRequest{Snapshot: rv.B.Snapshot, Database: true}
	case "path":
		return core.RestoreRequest{Snapshot: rv.B.Snapshot, Path: rv.Path}
	case "database":
		return core.RestoreRequest{Snapshot: rv.B.DatabaseSnapshot}
	}
	return core.RestoreRequest{Snapshot: rv.B.Snapshot}
}

func (h *Handler) backupsPage(w http.ResponseWriter, r *http.Request, v view, s core.Session, prob *pageProblem) {
	ctx, c := r.Context(), callerOf(s)
	st, err := h.svc.WebsiteScanSettings(ctx, c, v.Site.Domain)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	bv := backupsView{Configured: st.Backup.Enabled, Problem: prob}
	jobs, err := h.svc.ScanJobs(ctx, c, v.Site.Domain, core.ScanBackup, jobLimit)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	bv.Kind = kindRowOf(v.Lang, core.ScanBackup, st.Backup.Enabled, st.Backup.EveryHours, jobs)
	restores, err := h.svc.ScanJobs(ctx, c, v.Site.Domain, core.ScanRestore, jobLimit)
	if err != nil {
		h.fail(w, r, nil, err)
		return
	}
	for _, j := range restores {
		bv.Restores = append(bv.Restores, jobRowOf(v.Lang, j))
	}
	if bv.Backups, err = h.svc.Backups(ctx, c, v.Site.Domain, 0); err != nil {
		h.fail(w, r, nil, err)
		return
	}
	q := r.URL.Query()
	if r.Method == http.MethodPost {
		q = r.PostForm
	}
	if d := q.Get("done"); d != "" && i18n.Has("en", "bk.done."+d) && r.Method == http.MethodGet {
		bv.Done = tr(v.Lang, "bk.done."+d)
	}
	if snap := q.Get("snapshot"); snap != "" {
		bv.Restore = chooseRestore(v.Lang, bv.Backups, snap, q)
		if bv.Restore == nil && prob == nil {
			bv.Problem = &pageProblem{Status: http.StatusNotFound, Message: tr(v.Lang, "bk.nosuch")}
		}
	}
	if snap := q.Get("browse"); snap != "" {
		var bprob *pageProblem
		bv.Browse, bprob = h.browse(w, r, v, s, bv.Backups, snap, q.Get("dir"))
		if bv.Problem == nil {
			bv.Problem = bprob
		}
	}
	status := http.StatusOK
	if bv.Problem != nil {
		status = bv.Problem.Status
	}
	v.Title, v.Data, v.Tab = tr(v.Lang, "bk.title")+" · "+v.Site.Domain, bv, "backups"
	h.render(w, "backups", status, v)
}

// chooseRestore reads the restore's choice (snapshot, what, path,
// confirm) for one of bs; nil when snap is not one of them.
func chooseRestore(l string, bs []core.Backup, snap string, q url.Values) *restoreView {
	for _, b := range bs {
		if b.Snapshot != snap {
			continue
		}
		rv := &restoreView{B: b, What: q.Get("what"), Path: strings.TrimSpace(q.Get("path"))}
		if !contains(restoreWhat, rv.What) {
			rv.What = ""
		}
		if q.Get("confirm") == "1" {
			switch {
			case rv.What == "":
				rv.Error = tr(l, "bk.err.what")
			case rv.What == "path" && rv.Path == "":
				rv.Error = tr(l, "bk.err.path")
			case (rv.What == "database" || rv.What == "alldb") && !b.Database:
				rv.Error = tr(l, "bk.err.nodb")
			default:
				rv.Confirm = true
			}
		}
		if rv.What != "path" {
			rv.Path = ""
		}
		return rv
	}
	return nil
}

func (h *Handler) backupRequestPost(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 1<<16)
	if !ok {
		return
	}
	if _, err := h.svc.RequestScan(r.Context(), callerOf(s), v.Site.Domain, core.ScanBackup); err != nil {
		h.backupsPage(w, r, v, s, h.actionProblem(w, r, err))
		return
	}
	http.Redirect(w, r, v.Base+"/backups?done=requested", http.StatusSeeOther)
}

// backupRestorePost queues the restore the confirmation page asked for.
// The form names the backup by its files snapshot, the choice (what) and
// the path; the core checks all of it again.
func (h *Handler) backupRestorePost(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 1<<16)
	if !ok {
		return
	}
	ctx, c := r.Context(), callerOf(s)
	f := r.PostForm
	what := f.Get("what")
	var err error
	switch {
	case !contains(restoreWhat, what):
		err = core.FieldError("what", "what must be all, alldb, path or database")
	case f.Get("confirmed") != "1":
		err = core.FieldError("confirmed", "a restore must be confirmed")
	default:
		rv := restoreView{B: core.Backup{Snapshot: f.Get("snapshot")}, What: what, Path: f.Get("path")}
		if what == "database" {
			// The database alone: the core takes the backup's dump by
			// the backup's own files snapshot, with only the database.
			bs, berr := h.svc.Backups(ctx, c, v.Site.Domain, 0)
			if berr != nil {
				err = berr
				break
			}
			for _, b := range bs {
				if b.Snapshot == rv.B.Snapshot {
					rv.B = b
				}
			}
			if rv.B.DatabaseSnapshot == "" {
				err = core.FieldError("snapshot", "snapshot %s is not one of this website's backups with a database dump", rv.B.Snapshot)
				break
			}
		}
		if err == nil {
			_, err = h.svc.RequestRestore(ctx, c, v.Site.Domain, rv.request())
		}
	}
	if err != nil {
		h.backupsPage(w, r, v, s, h.actionProblem(w, r, err))
		return
	}
	http.Redirect(w, r, v.Base+"/backups?done=restore", http.StatusSeeOther)
}
