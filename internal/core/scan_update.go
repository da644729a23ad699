package core

import (
	"context"
	"encoding/json"
	"fmt"
	"path"
	"regexp"
	"sort"
	"strings"
)

// Updates (issue 22, SMART Patch): the CMS's own updater run for one
// component the last patch check reported, with a backup taken first. The
// command is the operator's (Config.PatchUpdateCommand, `palisade serve
// --patch-update-command`), never a partner's or a customer's: what they
// choose is only which reported component (type, slug and install), and
// those reach the command as whole arguments, never through a shell. An
// update runs as a job (ScanUpdate) on a node: backup, command, patch check
// again (internal/scanrun).

// ScanUpdate is the kind of an update job (Params: UpdatePlan).
const ScanUpdate ScanKind = "update"

// The placeholders of an update command template. Each is replaced inside
// the template's arguments (split on white space, no shell): {root} by the
// install's folder (the document root, or the folder of an install below
// it), {type} by "core", "plugin" or "theme", {slug} by the component's
// slug, {owner} by the name of the system user that owns the install's
// folder (the website's own user: "sudo -u {owner} wp ..." runs the
// site's code as that user, not as a user every site shares). An argument
// that is exactly {slug} is left out for the core, which has no slug.
const (
	UpdateRoot  = "{root}"
	UpdateType  = "{type}"
	UpdateSlug  = "{slug}"
	UpdateOwner = "{owner}"
)

// updateSlugRE is a slug an update is run for: what WP-CLI takes, never
// an option ("--help"), a path or shell.
var updateSlugRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,199}$`)

// updateRootRE is an install's folder below the document root, as the
// patch check reports it ("blog", "shop/wp").
var updateRootRE = regexp.MustCompile(`^[A-Za-z0-9._-]+(/[A-Za-z0-9._-]+)*$`)

// ParseUpdateCommand checks an update command template and splits it
// into its arguments. It must name a program, use {root}, and give the
// placeholders only where the template means them; it is not run through a
// shell, so quotes and shell characters are refused rather than passed on.
func ParseUpdateCommand(tmpl string) ([]string, error) {
	args := strings.Fields(tmpl)
	if len(args) == 0 {
		return nil, fmt.Errorf("update command: empty")
	}
	if strings.Contains(args[0], "{") {
		return nil, fmt.Errorf("update command: the program (%q) must not be a placeholder", args[0])
	}
	if strings.ContainsAny(tmpl, "'\"`$;|&<>\\") {
		return nil, fmt.Errorf("update command: %q is run without a shell: quotes, $, ;, |, &, <, > and \\ are not allowed", tmpl)
	}
	root := false
	for _, a := range args {
		rest := strings.NewReplacer(UpdateRoot, "", UpdateType, "", UpdateSlug, "", UpdateOwner, "").Replace(a)
		if strings.ContainsAny(rest, "{}") {
			return nil, fmt.Errorf("update command: argument %q has an unknown placeholder: {root}, {type}, {slug} and {owner} are known", a)
		}
		root = root || strings.Contains(a, UpdateRoot)
	}
	if !root {
		return nil, fmt.Errorf("update command: %q must name the install's folder ({root}), e.g. \"wp --path={root} {type} update {slug}\"", tmpl)
	}
	return args, nil
}

// ExpandUpdateCommand gives the arguments of the command that updates
// component typ/slug of the install in folder root: args is
// ParseUpdateCommand's result. Type and slug are checked again here: this
// is the last step before the command runs.
//
// owner is the install folder's owner, for {owner}: a user name (or
// "#uid", sudo's form, for a user without one); never root's.
func ExpandUpdateCommand(args []string, root, typ, slug, owner string) ([]string, error) {
	if err := checkUpdateComponent(typ, slug); err != nil {
		return nil, err
	}
	if uses(args, UpdateOwner) && (owner == "" || owner == "root" || owner == "#0" || !updateOwnerRE.MatchString(owner)) {
		return nil, fmt.Errorf("update: the install's folder is owned by %q: a website's code is never run as root or as a user whose name is not a plain one", owner)
	}
	if !path.IsAbs(root) || path.Clean(root) != root {
		return nil, fmt.Errorf("update: the install's folder %q is not a clean absolute path", root)
	}
	out := make([]string, 0, len(args))
	for _, a := range args {
		if a == UpdateSlug && typ == "core" {
			continue
		}
		out = append(out, strings.NewReplacer(UpdateRoot, root, UpdateType, typ, UpdateSlug, slug, UpdateOwner, owner).Replace(a))
	}
	return out, nil
}

// updateOwnerRE is a user name {owner} may become (or sudo's "#uid").
var updateOwnerRE = regexp.MustCompile(`^([a-z_][a-z0-9_.-]{0,31}|#[1-9][0-9]{0,9})$`)

// uses reports whether a template argument holds placeholder p.
func uses(args []string, p string) bool {
	for _, a := range args {
		if strings.Contains(a, p) {
			return true
		}
	}
	return false
}

// UpdateCommandUsesOwner reports whether the template runs the command as
// the install folder's owner ({owner}).
func UpdateCommandUsesOwner(args []string) bool { return uses(args, UpdateOwner) }

// checkUpdateComponent checks what a request names.
func checkUpdateComponent(typ, slug string) error {
	switch typ {
	case "core":
		if slug != "" {
			return Errorf(EINVALID, "slug: the core has no slug (give \"\")")
		}
		return nil
	case "plugin", "theme":
		if !updateSlugRE.MatchString(slug) {
			return Errorf(EINVALID, "slug: %q is not a component's slug (lower-case letters, digits, \".\", \"_\" and \"-\", not starting with one of those three, at most 200)", slug)
		}
		return nil
	}
	return Errorf(EINVALID, "type: %q cannot be updated: core, plugin or theme", typ)
}

// UpdateRequest asks for one component the last patch check reported to
// be updated by the CMS's own updater.
type UpdateRequest struct {
	Type string `json:"type"` // core, plugin or theme
	Slug string `json:"slug"` // "" for the core
	// Root is the install's folder below the document root, as the patch
	// check reports it ("" for an install at the document root).
	Root string `json:"root"`
}

// UpdatePlan is what an update job does (ScanJob.Params).
type UpdatePlan struct {
	CMS     string `json:"cms"`
	Root    string `json:"root"` // the install's folder below the document root, "" for the root
	Type    string `json:"type"`
	Slug    string `json:"slug,omitempty"`
	Version string `json:"version"` // what the patch check reported
	Check   int64  `json:"check_job"`
}

// reportedInstalls is the part of a patch check's summary (or of an
// update's summary, under "after") that an update request is checked
// against.
type reportedInstalls struct {
	Installs []struct {
		CMS        string `json:"cms"`
		Root       string `json:"root"`
		Components []struct {
			Type    string `json:"type"`
			Slug    string `json:"slug"`
			Version string `json:"version"`
		} `json:"components"`
	} `json:"installs"`
}

// updateJobsRead bounds the jobs read to find the last patch check.
const updateJobsRead = 50

// RequestUpdate queues an update of one component the website's last
// patch check (or last update's check after it) reported, run by the next
// node with a free worker: a backup first (no update when it fails), then
// the operator's update command, then a patch check. The website's partner
// and its customer may ask.
//
// Errors: EINVALID for a type other than core, plugin or theme, a slug
// that is not one, or a root that is not an install's folder; ENOTFOUND
// when the last patch check did not report that component (or there was
// none); EPRECONDITION when the operator configured no update command,
// the website is paused, its files are not in a local document root (SFTP
// or a scan agent), backups are not set up and switched on, or patch
// checks are not switched on (or, when add-ons are required, their add-on
// is missing); ECONFLICT when an update is already queued or running.
func (s *Service) RequestUpdate(ctx context.Context, c Caller, domain string, r UpdateRequest) (ScanJob, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return ScanJob{}, err
	}
	if err := checkUpdateComponent(r.Type, r.Slug); err != nil {
		return ScanJob{}, err
	}
	if r.Root != "" && (!updateRootRE.MatchString(r.Root) || strings.Contains("/"+r.Root+"/", "/../") || strings.Contains("/"+r.Root+"/", "/./")) {
		return ScanJob{}, Errorf(EINVALID, "root: %q is not an install's folder as the patch check reports it (\"blog\")", r.Root)
	}
	if strings.TrimSpace(s.cfg.PatchUpdateCommand) == "" {
		return ScanJob{}, Errorf(EPRECONDITION, "updates are not offered on this service: the operator has configured no update command (palisade serve --patch-update-command)")
	}
	if w.Status == StatusPaused {
		return ScanJob{}, Errorf(EPRECONDITION, "website %s is paused: nothing is updated until it is resumed", w.Domain)
	}
	var st sealedScanSettings
	var jobs []ScanJob
	var addons []Addon
	err = s.store.View(ctx, func(tx Tx) (err error) {
		if st, err = s.loadScanSettings(ctx, tx, w); err != nil {
			return err
		}
		if s.cfg.ScanAddonsRequired {
			if addons, err = tx.Addons(ctx, w.PartnerID, w.ID); err != nil {
				return err
			}
		}
		jobs, err = tx.ScanJobs(ctx, w.PartnerID, w.ID, "", updateJobsRead)
		return err
	})
	if err != nil {
		return ScanJob{}, err
	}
	switch src := st.Files.Source.Kind; {
	case src == "agent":
		return ScanJob{}, redactRefusal(c, &st, errOnAgent(w.Domain, st.Files.Source.Agent, "an update"))
	case src == "sftp":
		return ScanJob{}, Errorf(EPRECONDITION, "website %s has its files on an SFTP server: updates run only in a local document root", w.Domain)
	case src != "local":
		return ScanJob{}, Errorf(EPRECONDITION, "website %s has no local document root: its hosting provider sets where its files are (scan settings)", w.Domain)
	case !st.Patch.Enabled:
		return ScanJob{}, Errorf(EPRECONDITION, "patch checks are not switched on for website %s: its hosting provider turns them on (scan settings)", w.Domain)
	case st.Backup.Repository == "" || !st.Backup.Enabled:
		return ScanJob{}, Errorf(EPRECONDITION, "website %s has no backups set up and switched on: an update is run only after a backup (scan settings)", w.Domain)
	}
	if s.cfg.ScanAddonsRequired {
		bought := false
		for _, a := range addons {
			bought = bought || a.Product == AddonSmartPatch
		}
		if !bought {
			return ScanJob{}, &Error{Code: EPRECONDITION, Cause: ErrAddonRequired,
				Message: fmt.Sprintf("updates are part of patch checks (SMART Patch), sold as add-on %s, which website %s does not have", AddonSmartPatch, w.Domain)}
		}
	}
	plan, ok := reportedComponent(jobs, r)
	if !ok {
		what := r.Type
		if r.Slug != "" {
			what += " " + r.Slug
		}
		if r.Root != "" {
			what += " in " + r.Root
		}
		return ScanJob{}, Errorf(ENOTFOUND, "the last patch check of website %s did not report %s: run a patch check, then update what it lists", w.Domain, what)
	}
	params, _ := json.Marshal(plan)
	now := s.clock()
	j := ScanJob{PartnerID: w.PartnerID, WebsiteID: w.ID, Kind: ScanUpdate, Trigger: "on_demand", CreatedAt: now, Params: string(params)}
	err = s.store.Update(ctx, func(tx Tx) error {
		if err := tx.InsertScanJob(ctx, &j); err != nil {
			if ErrorCode(err) == ECONFLICT {
				return Errorf(ECONFLICT, "an update is already queued or running for website %s", w.Domain)
			}
			return err
		}
		return s.audit(ctx, tx, c, now, "website", w.Domain, "request_update", nil,
			map[string]any{"type": plan.Type, "slug": plan.Slug, "root": plan.Root, "version": plan.Version, "job": j.ID})
	})
	if err != nil {
		return ScanJob{}, err
	}
	return j, nil
}

// redactRefusal hides from a customer what the refusal names that is
// the hosting provider's (the scan agent).
func redactRefusal(c Caller, st *sealedScanSettings, err error) error {
	e, ok := err.(*Error)
	if c.Role != RoleSubaccount || !ok {
		return err
	}
	return &Error{Code: e.Code, Field: e.Field, Message: redactForCustomer(e.Message, st.hiddenFromCustomer())}
}

// reportedComponent finds r in the newest finished patch check (a patch
// job's summary, or an update job's check after its update).
func reportedComponent(jobs []ScanJob, r UpdateRequest) (UpdatePlan, bool) {
	for _, j := range jobs {
		if j.State != JobDone || (j.Kind != ScanPatch && j.Kind != ScanUpdate) || j.Summary == "" {
			continue
		}
		var rep reportedInstalls
		if j.Kind == ScanPatch {
			if json.Unmarshal([]byte(j.Summary), &rep) != nil {
				continue
			}
		} else {
			var u struct {
				After *reportedInstalls `json:"after"`
			}
			if json.Unmarshal([]byte(j.Summary), &u) != nil || u.After == nil {
				continue
			}
			rep = *u.After
		}
		for _, in := range rep.Installs {
			if in.Root != r.Root {
				continue
			}
			for _, c := range in.Components {
				// The core is one per install, whatever slug the check gave it.
				if c.Type == r.Type && (c.Slug == r.Slug || r.Type == "core") {
					return UpdatePlan{CMS: in.CMS, Root: in.Root, Type: r.Type, Slug: r.Slug, Version: c.Version, Check: j.ID}, true
				}
			}
		}
		return UpdatePlan{}, false // only the newest check counts
	}
	return UpdatePlan{}, false
}

// UpdateJob returns what update job j is to do, checked again.
func (s *Service) UpdateJob(j ScanJob) (UpdatePlan, error) {
	var p UpdatePlan
	if j.Kind != ScanUpdate {
		return p, Errorf(EINVALID, "job %d is a %s job, not an update", j.ID, j.Kind)
	}
	if err := json.Unmarshal([]byte(j.Params), &p); err != nil {
		return p, fmt.Errorf("job %d: parameters: %w", j.ID, err)
	}
	if err := checkUpdateComponent(p.Type, p.Slug); err != nil {
		return p, fmt.Errorf("job %d: %w", j.ID, err)
	}
	if p.Root != "" && (!updateRootRE.MatchString(p.Root) || strings.Contains("/"+p.Root+"/", "/../") || strings.Contains("/"+p.Root+"/", "/./")) {
		return p, fmt.Errorf("job %d: install folder %q", j.ID, p.Root)
	}
	return p, nil
}

// UpdateCommand is the operator's update command template, split into
// its arguments (ParseUpdateCommand); EPRECONDITION when none is
// configured.
func (s *Service) UpdateCommand() ([]string, error) {
	if strings.TrimSpace(s.cfg.PatchUpdateCommand) == "" {
		return nil, Errorf(EPRECONDITION, "no update command is configured on this node (palisade serve --patch-update-command)")
	}
	args, err := ParseUpdateCommand(s.cfg.PatchUpdateCommand)
	if err != nil {
		return nil, Errorf(EPRECONDITION, "%v", err)
	}
	return args, nil
}

// UpdatesOffered reports whether the operator configured an update
// command: the dashboards offer updates only then.
func (s *Service) UpdatesOffered() bool { return strings.TrimSpace(s.cfg.PatchUpdateCommand) != "" }

// withUpdateBackups adds to the website's backup jobs (newest first) its
// update jobs that took a backup, each as a backup job would read (its
// summary the update's "backup" part; failed only when the backup did),
// newest first together: the backup taken before an update is listed,
// browsed and restored like the others, and a later job's retention that
// removed it is seen.
func withUpdateBackups(ctx context.Context, tx Tx, w Website, jobs []ScanJob) ([]ScanJob, error) {
	ups, err := tx.ScanJobs(ctx, w.PartnerID, w.ID, ScanUpdate, MaxBackupJobsRead)
	if err != nil {
		return nil, err
	}
	for _, j := range ups {
		if j.State != JobDone && j.State != JobFailed || j.Summary == "" {
			continue
		}
		var u struct {
			Backup      json.RawMessage `json:"backup"`
			BackupError string          `json:"backup_error"`
		}
		if json.Unmarshal([]byte(j.Summary), &u) != nil || len(u.Backup) == 0 || string(u.Backup) == "null" {
			continue
		}
		j.Summary, j.State, j.Error = string(u.Backup), JobDone, ""
		if u.BackupError != "" {
			j.State, j.Error = JobFailed, u.BackupError
		}
		jobs = append(jobs, j)
	}
	sort.SliceStable(jobs, func(a, b int) bool { return jobs[a].ID > jobs[b].ID })
	return jobs, nil
}

// withoutUpdateArgs drops the command's arguments from an update job's
// summary, for the customer: they are the operator's command (its program,
// its options, perhaps a token), not the customer's to read.
func withoutUpdateArgs(sum string) string {
	var v map[string]json.RawMessage
	if sum == "" || json.Unmarshal([]byte(sum), &v) != nil {
		return sum
	}
	var cmd map[string]json.RawMessage
	if json.Unmarshal(v["command"], &cmd) != nil || cmd == nil {
		return sum
	}
	delete(cmd, "args")
	b, err := json.Marshal(cmd)
	if err != nil {
		return ""
	}
	v["command"] = b
	if b, err = json.Marshal(v); err != nil {
		return ""
	}
	return string(b)
}
