package xmlapi

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// Scanning and backups (issue 22) as SiteLock's products: SMART (the
// malware scan of the website's files), SMART Patch (outdated and
// vulnerable components), SMART Database (injected content in its
// database) and Backup. Each configuration has a get and a set method
// answered as getWafSettings answers (each setting a policy with its
// options, setting and status); the set methods change only the settings
// they are given and answer as the get methods. getScanResults answers the
// latest job of each kind and the findings, startScan queues a scan,
// getBackups lists the backups and restoreBackup queues a restore. The
// site is named by site_id (or domain), as for getWafSettings. Secrets are
// write-only: a get answers "set" or "not set". docs/RESELLER.md.

// scanProducts are the four configurations: the method's product name,
// the core's part of the settings.
var scanProducts = map[string]string{
	"getSmartSettings": "files", "setSmartSettings": "files",
	"getSmartPatchSettings": "patch", "setSmartPatchSettings": "patch",
	"getSmartDatabaseSettings": "database", "setSmartDatabaseSettings": "database",
	"getBackupSettings": "backup", "setBackupSettings": "backup",
}

// scanKinds reads startScan's and getScanResults' kind: the core's names
// and SiteLock's product names.
var scanKinds = map[string]core.ScanKind{
	"files": core.ScanFiles, "smart": core.ScanFiles,
	"patch": core.ScanPatch, "smart_patch": core.ScanPatch,
	"database": core.ScanDatabase, "smart_database": core.ScanDatabase,
	"backup": core.ScanBackup,
}

func scanKind(v string, required bool) (core.ScanKind, error) {
	v = strings.ToLower(strings.TrimSpace(v))
	if v == "" {
		if required {
			return "", methodError("kind is required: smart (files), smart_patch (patch), smart_database (database) or backup")
		}
		return "", nil
	}
	k, ok := scanKinds[v]
	if !ok {
		return "", methodError("kind must be smart (files), smart_patch (patch), smart_database (database) or backup, not " + strconv.Quote(v))
	}
	return k, nil
}

// xmlTime is how this API writes times (as getPendingEmails' created).
func xmlTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05") }

func onOff(b bool) string { return map[bool]string{true: "on", false: "off"}[b] }

// scanSettings serves the eight get and set methods.
func (h *Handler) scanSettings(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	site, err := h.wafSite(ctx, c, req)
	if err != nil {
		return nil, err
	}
	part := scanProducts[req.Method]
	if !strings.HasPrefix(req.Method, "set") {
		st, err := h.svc.WebsiteScanSettings(ctx, c, site.Domain)
		if err != nil {
			return nil, err
		}
		return scanNodes(site, part, st), nil
	}
	// Read, change and write in one transaction of the core, so that a
	// change another request makes meanwhile is kept. The secrets read
	// back empty: an empty secret keeps the stored one, so only the ones
	// given here change.
	st, err := h.svc.EditWebsiteScanSettings(ctx, c, site.Domain, func(st *core.ScanSettings) error {
		changed, err := scanEdit(part, &req.Params, st)
		if err != nil {
			return err
		}
		if !changed {
			return methodError("nothing to change: give " + strings.Join(scanFields[part], ", "))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return scanNodes(site, part, st), nil
}

// scanFields are the parameters of each set method, in answer order.
var scanFields = map[string][]string{
	"files":    {"enabled", "every_hours", "auto_clean", "source", "path", "host", "port", "user", "host_key", "password", "private_key", "agent"},
	"patch":    {"enabled", "every_hours"},
	"database": {"enabled", "every_hours", "host", "port", "user", "name", "table_prefix", "password", "clean"},
	"backup":   {"enabled", "every_hours", "repository", "repository_password", "repository_private_key", "repository_host_key", "s3_access_key_id", "s3_secret_key", "keep_daily", "keep_weekly", "keep_monthly"},
}

// scanEdit applies the parameters given for part to st; the core
// validates the result.
func scanEdit(part string, p *Params, st *core.ScanSettings) (bool, error) {
	changed := false
	flag := func(name, v string, to *bool) error {
		v = strings.ToLower(strings.TrimSpace(v))
		switch v {
		case "":
			return nil
		case "on", "yes", "true", "1":
			*to = true
		case "off", "no", "false", "0":
			*to = false
		default:
			return methodError(name + " must be on or off, not " + strconv.Quote(v))
		}
		changed = true
		return nil
	}
	number := func(name, v string, to *int) error {
		v = strings.TrimSpace(v)
		if v == "" {
			return nil
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return methodError(name + " must be a whole number, not " + strconv.Quote(v))
		}
		*to, changed = n, true
		return nil
	}
	str := func(v string, to *string) {
		if v != "" {
			*to, changed = strings.TrimSpace(v), true
		}
	}
	secret := func(v string, to *string) {
		// Secrets are taken as sent (spaces may be part of them); "-"
		// removes the stored one.
		if v != "" {
			*to, changed = v, true
		}
	}
	var errs []error
	switch part {
	case "files":
		f := &st.Files
		errs = append(errs, flag("enabled", p.Enabled, &f.Enabled), number("every_hours", p.EveryHours, &f.EveryHours), flag("auto_clean", p.AutoClean, &f.AutoClean),
			number("port", p.Port, &f.Source.Port))
		str(strings.ToLower(p.Source), &f.Source.Kind)
		str(p.Path, &f.Source.Path)
		str(p.Host, &f.Source.Host)
		str(p.User, &f.Source.User)
		str(p.HostKey, &f.Source.HostKey)
		str(p.Agent, &f.Source.Agent)
		secret(p.Password, &f.Source.Password)
		secret(p.PrivateKey, &f.Source.PrivateKey)
	case "patch":
		errs = append(errs, flag("enabled", p.Enabled, &st.Patch.Enabled), number("every_hours", p.EveryHours, &st.Patch.EveryHours))
	case "database":
		d := &st.Database
		errs = append(errs, flag("enabled", p.Enabled, &d.Enabled), number("every_hours", p.EveryHours, &d.EveryHours), number("port", p.Port, &d.Port),
			flag("clean", p.Clean, &d.Clean))
		str(p.Host, &d.Host)
		str(p.User, &d.User)
		str(p.Name, &d.Name)
		str(p.TablePrefix, &d.TablePrefix)
		secret(p.Password, &d.Password)
	case "backup":
		b := &st.Backup
		errs = append(errs, flag("enabled", p.Enabled, &b.Enabled), number("every_hours", p.EveryHours, &b.EveryHours),
			number("keep_daily", p.KeepDaily, &b.KeepDaily), number("keep_weekly", p.KeepWeekly, &b.KeepWeekly), number("keep_monthly", p.KeepMonthly, &b.KeepMonthly))
		str(p.Repository, &b.Repository)
		str(p.S3AccessKeyID, &b.S3AccessKeyID)
		str(p.RepositoryHostKey, &b.RepositoryHostKey)
		secret(p.RepositoryPassword, &b.RepositoryPassword)
		secret(p.RepositoryKey, &b.RepositoryPrivateKey)
		secret(p.S3SecretKey, &b.S3SecretKey)
	}
	for _, err := range errs {
		if err != nil {
			return false, err
		}
	}
	return changed, nil
}

// scanNodes answer the get and set methods: the site, then each setting of
// part as a policy (getWafSettings' shape); a secret's setting is "set" or
// "not set", never its value.
func scanNodes(site core.Website, part string, st core.ScanSettings) []*Node {
	policy := func(name string, setting any, options ...string) *Node {
		n := &Node{Name: name}
		if len(options) > 0 {
			opts := &Node{Name: "options"}
			for _, o := range options {
				opts.Kids = append(opts.Kids, text("option", o))
			}
			n.Kids = append(n.Kids, opts)
		}
		n.Kids = append(n.Kids, text("setting", setting), text("status", "ok"))
		return n
	}
	sw := func(name string, b bool) *Node { return policy(name, onOff(b), "on", "off") }
	secret := func(name string, set bool) *Node {
		return policy(name, map[bool]string{true: "set", false: "not set"}[set])
	}
	out := []*Node{text("site_id", site.ID), text("domain", site.Domain)}
	switch part {
	case "files":
		f := st.Files
		out = append(out, sw("enabled", f.Enabled), policy("every_hours", f.EveryHours), sw("auto_clean", f.AutoClean),
			policy("source", f.Source.Kind, "local", "sftp", "agent"), policy("path", f.Source.Path), policy("host", f.Source.Host), policy("port", f.Source.Port),
			policy("user", f.Source.User), policy("host_key", f.Source.HostKey), secret("password", f.Source.PasswordSet), secret("private_key", f.Source.PrivateKeySet),
			policy("agent", f.Source.Agent))
	case "patch":
		out = append(out, sw("enabled", st.Patch.Enabled), policy("every_hours", st.Patch.EveryHours))
	case "database":
		d := st.Database
		out = append(out, sw("enabled", d.Enabled), policy("every_hours", d.EveryHours), policy("host", d.Host), policy("port", d.Port), policy("user", d.User),
			policy("name", d.Name), policy("table_prefix", d.TablePrefix), secret("password", d.PasswordSet), sw("clean", d.Clean))
	case "backup":
		b := st.Backup
		out = append(out, sw("enabled", b.Enabled), policy("every_hours", b.EveryHours), policy("repository", b.Repository),
			secret("repository_password", b.RepositoryPasswordSet), secret("repository_private_key", b.RepositoryPrivateKeySet),
			policy("repository_host_key", b.RepositoryHostKey), policy("s3_access_key_id", b.S3AccessKeyID), secret("s3_secret_key", b.S3SecretKeySet),
			policy("keep_daily", b.KeepDaily), policy("keep_weekly", b.KeepWeekly), policy("keep_monthly", b.KeepMonthly))
	}
	return out
}

// jobNode is one job: a scan, a backup or a restore.
func jobNode(j core.ScanJob) *Node {
	n := &Node{Name: "scan", Kids: []*Node{text("job_id", j.ID), text("kind", j.Kind), text("status", j.State), text("trigger", j.Trigger),
		text("created", xmlTime(j.CreatedAt))}}
	if j.FinishedAt != nil {
		n.Kids = append(n.Kids, text("finished", xmlTime(*j.FinishedAt)))
	}
	if j.Error != "" {
		n.Kids = append(n.Kids, text("error_message", j.Error))
	}
	return n
}

// startScan queues a scan (or a backup) of kind.
func (h *Handler) startScan(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	site, err := h.wafSite(ctx, c, req)
	if err != nil {
		return nil, err
	}
	kind, err := scanKind(req.Kind, true)
	if err != nil {
		return nil, err
	}
	j, err := h.svc.RequestScan(ctx, c, site.Domain, kind)
	if err != nil {
		return nil, err
	}
	return []*Node{text("site_id", site.ID), text("domain", site.Domain), jobNode(j)}, nil
}

// getScanResults answers the latest job of each kind (of kind, if given)
// and the findings, filtered by kind and state, by id after after.
func (h *Handler) getScanResults(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	site, err := h.wafSite(ctx, c, req)
	if err != nil {
		return nil, err
	}
	kind, err := scanKind(req.Kind, false)
	if err != nil {
		return nil, err
	}
	state := strings.ToLower(strings.TrimSpace(req.State))
	after, err := optID("after", req.After)
	if err != nil {
		return nil, err
	}
	limit := 100
	if v := strings.TrimSpace(req.Limit); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > core.MaxScanListing {
			return nil, methodError("limit must be between 1 and " + strconv.Itoa(core.MaxScanListing))
		}
	}
	var fkind core.ScanKind
	if kind != core.ScanBackup {
		fkind = kind
	}
	fs, err := h.svc.Findings(ctx, c, site.Domain, core.FindingFilter{Kind: fkind, State: state, After: after, Limit: limit})
	if err != nil {
		return nil, err
	}
	js, err := h.svc.ScanJobs(ctx, c, site.Domain, kind, core.MaxScanListing)
	if err != nil {
		return nil, err
	}
	scans := &Node{Name: "scans"}
	seen := map[core.ScanKind]bool{}
	for _, j := range js { // newest first: the first of each kind is its latest
		if j.Kind.Scan() && !seen[j.Kind] {
			seen[j.Kind] = true
			scans.Kids = append(scans.Kids, jobNode(j))
		}
	}
	list := &Node{Name: "findings"}
	if kind == core.ScanBackup {
		fs = nil // backups find nothing
	}
	for _, f := range fs {
		list.Kids = append(list.Kids, &Node{Name: "finding", Kids: []*Node{text("finding_id", f.ID), text("kind", f.Kind), text("location", f.Location),
			text("signature", f.Signature), text("class", f.Class), text("severity", f.Severity), text("status", f.State),
			text("first_seen", xmlTime(f.FirstSeen)), text("last_seen", xmlTime(f.LastSeen))}})
	}
	return []*Node{text("site_id", site.ID), text("domain", site.Domain), scans, text("count", len(fs)), list}, nil
}

// getBackups lists the site's backups, newest first.
func (h *Handler) getBackups(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	site, err := h.wafSite(ctx, c, req)
	if err != nil {
		return nil, err
	}
	limit := 0
	if v := strings.TrimSpace(req.Limit); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > core.MaxScanListing {
			return nil, methodError("limit must be between 1 and " + strconv.Itoa(core.MaxScanListing))
		}
	}
	bs, err := h.svc.Backups(ctx, c, site.Domain, limit)
	if err != nil {
		return nil, err
	}
	list := &Node{Name: "backups"}
	for _, b := range bs {
		n := &Node{Name: "backup", Kids: []*Node{text("snapshot", b.Snapshot), text("short_id", b.ShortID), text("time", xmlTime(b.Time)),
			text("files", b.Files), text("bytes", b.Bytes), text("database", yesNo(b.Database))}}
		if b.DatabaseSnapshot != "" {
			n.Kids = append(n.Kids, text("database_snapshot", b.DatabaseSnapshot))
		}
		if b.Incomplete != "" {
			n.Kids = append(n.Kids, text("incomplete", b.Incomplete))
		}
		list.Kids = append(list.Kids, n)
	}
	return []*Node{text("site_id", site.ID), text("domain", site.Domain), text("count", len(bs)), list}, nil
}

// restoreBackup queues a restore of snapshot (path: one file or folder;
// database yes: its database dump too).
func (h *Handler) restoreBackup(ctx context.Context, c core.Caller, req *Request) ([]*Node, error) {
	site, err := h.wafSite(ctx, c, req)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(req.Snapshot) == "" {
		return nil, methodError("snapshot is required: a backup's snapshot or short_id (getBackups)")
	}
	r := core.RestoreRequest{Snapshot: req.Snapshot, Path: strings.TrimSpace(req.Path)}
	switch v := strings.ToLower(strings.TrimSpace(req.Database)); v {
	case "", "no", "off", "false", "0":
	case "yes", "on", "true", "1":
		r.Database = true
	default:
		return nil, methodError("database must be yes or no, not " + strconv.Quote(v))
	}
	j, err := h.svc.RequestRestore(ctx, c, site.Domain, r)
	if err != nil {
		return nil, err
	}
	return []*Node{text("site_id", site.ID), text("domain", site.Domain), jobNode(j)}, nil
}
