package core

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/palisadehq/palisade/internal/backup"
	"github.com/palisadehq/palisade/internal/netguard"
	"golang.org/x/crypto/ssh"
)

// ScanSettings say where a website's files, database and backup
// repository are, and how often each is scanned or backed up. Only the
// website's partner sets them: the hosting provider knows its servers,
// and a path or an address is an instruction to Palisade's machine, which
// a customer must not give. The customer reads them without secrets.
//
// Secrets (Password, PrivateKey, RepositoryPassword, S3SecretKey) are
// write-only: they are sealed with the master key in the store and read
// back as "set" flags; in an update, an empty secret keeps the stored one
// and "-" removes it.
type ScanSettings struct {
	Files    FileScanSettings   `json:"files"`
	Database DBScanSettings     `json:"database"`
	Patch    PatchScanSettings  `json:"patch"`
	Backup   BackupScanSettings `json:"backup"`

	// Net is where the job may connect (ScanJobSettings fills it from
	// Config.ScanAllowNets for the website's partner): the runner dials
	// the SFTP server and the database, and lets restic reach an S3
	// endpoint, only through it. Never stored or answered.
	Net netguard.Policy `json:"-"`
	// Domain is the website's (ScanJobSettings fills it): the database
	// scan checks that siteurl and home still point there.
	Domain string `json:"-"`
}

// FileScanSettings: the malware scan of the website's files (SMART).
type FileScanSettings struct {
	Enabled    bool       `json:"enabled"`
	Source     FileSource `json:"source"`
	EveryHours int        `json:"every_hours"` // 0: on demand only
	AutoClean  bool       `json:"auto_clean"`  // clean known injections (the original is kept)
}

// FileSource is where a website's files are: "local", a document root on
// the machines running Palisade, under one of the operator's allowed roots
// (Config.ScanRoots); or "sftp", an account on the web server; or
// "agent", a document root on a web server where the partner's scan agent
// named Agent runs (`palisade agent`, scan_agents.go).
type FileSource struct {
	Kind          string `json:"kind"` // "local", "sftp" or "agent"
	Path          string `json:"path"` // the document root (on the server, for sftp and agent)
	Agent         string `json:"agent,omitempty"`
	Host          string `json:"host,omitempty"`
	Port          int    `json:"port,omitempty"`
	User          string `json:"user,omitempty"`
	HostKey       string `json:"host_key,omitempty"` // the server's key (authorized_keys form) or its SHA256: fingerprint
	Password      string `json:"password,omitempty"`
	PrivateKey    string `json:"private_key,omitempty"`
	PasswordSet   bool   `json:"password_set"`
	PrivateKeySet bool   `json:"private_key_set"`
}

// DBScanSettings: the scan of the website's MySQL/MariaDB database (SMART
// Database), read-only unless Clean.
type DBScanSettings struct {
	Enabled     bool   `json:"enabled"`
	Host        string `json:"host"`
	Port        int    `json:"port"`
	User        string `json:"user"`
	Name        string `json:"name"`
	TablePrefix string `json:"table_prefix"` // WordPress's, e.g. wp_
	Password    string `json:"password,omitempty"`
	PasswordSet bool   `json:"password_set"`
	Clean       bool   `json:"clean"`
	EveryHours  int    `json:"every_hours"`
}

// PatchScanSettings: the check of the CMS and its components against the
// vulnerability feed (SMART Patch).
type PatchScanSettings struct {
	Enabled    bool `json:"enabled"`
	EveryHours int  `json:"every_hours"`
}

// BackupScanSettings: backups of the files and the database on restic.
type BackupScanSettings struct {
	Enabled bool `json:"enabled"`
	// Repository is a local path under one of the operator's allowed
	// backup roots (Config.BackupRoots), "sftp:user@host:/path" (or
	// "sftp://user@host:port//path") or "s3:https://host/bucket/prefix".
	Repository            string `json:"repository"`
	RepositoryPassword    string `json:"repository_password,omitempty"`
	RepositoryPasswordSet bool   `json:"repository_password_set"`
	// An sftp: repository is reached with its own key (secret) and the
	// server's pinned public key, never with the operator's ssh set-up.
	RepositoryPrivateKey    string `json:"repository_private_key,omitempty"`
	RepositoryPrivateKeySet bool   `json:"repository_private_key_set"`
	RepositoryHostKey       string `json:"repository_host_key,omitempty"`
	S3AccessKeyID           string `json:"s3_access_key_id,omitempty"`
	S3SecretKey             string `json:"s3_secret_key,omitempty"`
	S3SecretKeySet          bool   `json:"s3_secret_key_set"`
	EveryHours              int    `json:"every_hours"`
	KeepDaily               int    `json:"keep_daily"`
	KeepWeekly              int    `json:"keep_weekly"`
	KeepMonthly             int    `json:"keep_monthly"`
}

// MaxScanEveryHours is the longest schedule (30 days).
const MaxScanEveryHours = 720

// ScanSettingsTx is the store's part of scan settings (embedded in Tx).
type ScanSettingsTx interface {
	// ScanSettings returns the website's stored settings (JSON with
	// sealed secrets), "" when none were saved.
	ScanSettings(ctx context.Context, partnerID, websiteID int64) (string, error)
	// SetScanSettings stores them.
	SetScanSettings(ctx context.Context, partnerID, websiteID int64, settings string, at time.Time) error
	// AllScanSettings returns the stored settings of every website that
	// is not deleted, across partners: only for checks that two websites
	// do not share a folder. It keeps other such checks (and their saves)
	// out until the transaction ends.
	AllScanSettings(ctx context.Context) ([]StoredScanSettings, error)
}

// StoredScanSettings is one website's stored scan settings.
type StoredScanSettings struct {
	PartnerID, WebsiteID int64
	Settings             string
}

// sealed is the stored form: the settings with their secrets sealed.
type sealedScanSettings struct {
	ScanSettings
	Sealed map[string]string `json:"sealed,omitempty"` // secret name → sealed value
}

var secretNames = []string{"files.password", "files.private_key", "database.password", "backup.repository_password", "backup.s3_secret_key", "backup.repository_private_key"}

func (st *ScanSettings) secret(name string) *string {
	switch name {
	case "files.password":
		return &st.Files.Source.Password
	case "files.private_key":
		return &st.Files.Source.PrivateKey
	case "database.password":
		return &st.Database.Password
	case "backup.repository_password":
		return &st.Backup.RepositoryPassword
	case "backup.s3_secret_key":
		return &st.Backup.S3SecretKey
	case "backup.repository_private_key":
		return &st.Backup.RepositoryPrivateKey
	}
	panic("unknown secret " + name)
}

func (st *ScanSettings) setFlags(sealed map[string]string) {
	st.Files.Source.PasswordSet = sealed["files.password"] != ""
	st.Files.Source.PrivateKeySet = sealed["files.private_key"] != ""
	st.Database.PasswordSet = sealed["database.password"] != ""
	st.Backup.RepositoryPasswordSet = sealed["backup.repository_password"] != ""
	st.Backup.S3SecretKeySet = sealed["backup.s3_secret_key"] != ""
	st.Backup.RepositoryPrivateKeySet = sealed["backup.repository_private_key"] != ""
}

func (s *Service) loadScanSettings(ctx context.Context, tx Tx, w Website) (sealedScanSettings, error) {
	var out sealedScanSettings
	raw, err := tx.ScanSettings(ctx, w.PartnerID, w.ID)
	if err != nil || raw == "" {
		return out, err
	}
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return out, fmt.Errorf("website %d: stored scan settings: %w", w.ID, err)
	}
	return out, nil
}

// WebsiteScanSettings returns the website's scan settings without their
// secrets. The website's partner and its customer may read them; the
// customer does not see hosts, users, paths, repositories or keys' IDs.
func (s *Service) WebsiteScanSettings(ctx context.Context, c Caller, domain string) (ScanSettings, error) {
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return ScanSettings{}, err
	}
	var st sealedScanSettings
	err = s.store.View(ctx, func(tx Tx) (err error) { st, err = s.loadScanSettings(ctx, tx, w); return err })
	if err != nil {
		return ScanSettings{}, err
	}
	st.setFlags(st.Sealed)
	if c.Role == RoleSubaccount {
		// Where the hosting provider's machines and buckets are is not
		// the customer's to know: what is on and how often is.
		src := &st.Files.Source
		src.Host, src.Port, src.User, src.HostKey, src.Agent = "", 0, "", "", ""
		if src.Kind == "local" || src.Kind == "sftp" || src.Kind == "agent" {
			src.Path = ""
		}
		st.Database.Host, st.Database.Port, st.Database.User = "", 0, ""
		st.Backup.Repository, st.Backup.S3AccessKeyID, st.Backup.RepositoryHostKey = "", "", ""
	}
	return st.ScanSettings, nil
}

// ScanSecrets returns the website's scan settings with their secrets
// opened, for the node that runs its jobs. Not for adapters.
func (s *Service) ScanSecrets(ctx context.Context, partnerID, websiteID int64) (ScanSettings, error) {
	var st sealedScanSettings
	err := s.store.View(ctx, func(tx Tx) (err error) {
		st, err = s.loadScanSettings(ctx, tx, Website{ID: websiteID, PartnerID: partnerID})
		return err
	})
	if err != nil {
		return ScanSettings{}, err
	}
	for _, name := range secretNames {
		if v := st.Sealed[name]; v != "" {
			plain, err := s.box.Open(v)
			if err != nil {
				return ScanSettings{}, fmt.Errorf("website %d: scan secret %s: %w", websiteID, name, err)
			}
			*st.secret(name) = plain
		}
	}
	st.setFlags(st.Sealed)
	return st.ScanSettings, nil
}

// SetWebsiteScanSettings validates and stores the website's scan
// settings, replacing all of them but the secrets left empty (kept) or
// "-" (removed). Only the website's partner may; every problem is reported
// with its field's path.
func (s *Service) SetWebsiteScanSettings(ctx context.Context, c Caller, domain string, st ScanSettings) (ScanSettings, error) {
	return s.EditWebsiteScanSettings(ctx, c, domain, func(cur *ScanSettings) error {
		*cur = st
		return nil
	})
}

// EditWebsiteScanSettings changes the website's scan settings in one
// transaction: edit gets the stored settings (secrets empty, their *Set
// flags true when stored) and changes what it means to; the result is
// checked and stored as SetWebsiteScanSettings does (a secret left empty
// keeps the stored one). A change another request makes meanwhile is
// not lost: it is read in the same transaction that writes. For callers
// that change some fields only (the XML API's set methods).
func (s *Service) EditWebsiteScanSettings(ctx context.Context, c Caller, domain string, edit func(*ScanSettings) error) (ScanSettings, error) {
	if err := c.partnerOnly("configure where a website's files, database and backups are"); err != nil {
		return ScanSettings{}, err
	}
	w, err := s.OwnedWebsite(ctx, c, domain)
	if err != nil {
		return ScanSettings{}, err
	}
	var out ScanSettings
	err = s.store.Update(ctx, func(tx Tx) error {
		// The website's row locked first: two edits of one website take
		// turns, each reading what the other wrote.
		if _, err := tx.Website(ctx, w.PartnerID, w.Domain, true); err != nil {
			return err
		}
		old, err := s.loadScanSettings(ctx, tx, w)
		if err != nil {
			return err
		}
		st := old.ScanSettings
		st.setFlags(old.Sealed)
		if err := edit(&st); err != nil {
			return err
		}
		if err := s.checkScanAddons(ctx, tx, w, &old.ScanSettings, &st); err != nil {
			return err
		}
		sealed := map[string]string{}
		for _, name := range secretNames {
			v := *st.secret(name)
			switch v {
			case "":
				if old.Sealed[name] != "" {
					sealed[name] = old.Sealed[name]
				}
			case "-":
			default:
				if len(v) > 16<<10 {
					return Errorf(EINVALID, "%s: longer than 16 KiB", name)
				}
				if name == "backup.repository_private_key" {
					if _, err := ssh.ParsePrivateKey([]byte(v)); err != nil {
						return FieldError(name, "an unencrypted private key (OpenSSH or PEM) that the repository's server accepts")
					}
				}
				if sealed[name], err = s.box.Seal(v); err != nil {
					return err
				}
			}
			*st.secret(name) = ""
		}
		p, err := tx.Partner(ctx, w.PartnerID, false)
		if err != nil {
			return err
		}
		if err := s.validateScanSettings(&st, sealed, p.Name); err != nil {
			return err
		}
		if err := s.checkScanPathsFree(ctx, tx, w, st); err != nil {
			return err
		}
		b, err := json.Marshal(sealedScanSettings{ScanSettings: st, Sealed: sealed})
		if err != nil {
			return err
		}
		now := s.clock()
		if err := tx.SetScanSettings(ctx, w.PartnerID, w.ID, string(b), now); err != nil {
			return err
		}
		st.setFlags(sealed)
		out = st
		before := old.ScanSettings
		before.setFlags(old.Sealed)
		return s.audit(ctx, tx, c, now, "website", w.Domain, "set_scan_settings", before, st)
	})
	return out, err
}

var (
	hostRE     = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$`)
	dbIdentRE  = regexp.MustCompile(`^[A-Za-z0-9_$-]{1,64}$`)
	prefixRE   = regexp.MustCompile(`^[A-Za-z0-9_]{0,32}$`)
	sshUserRE  = regexp.MustCompile(`^[A-Za-z0-9._][A-Za-z0-9._-]{0,63}$`)
	errScanCfg = errors.New("scan settings")
)

// validateScanSettings checks st (whose secrets are in sealed) and
// normalises it; every problem is in the one EINVALID error.
func (s *Service) validateScanSettings(st *ScanSettings, sealed map[string]string, partner string) error {
	var probs []string
	bad := func(field, format string, a ...any) { probs = append(probs, field+": "+fmt.Sprintf(format, a...)) }
	every := func(field string, h int) {
		if h < 0 || h > MaxScanEveryHours {
			bad(field, "0 (on demand only) to %d hours", MaxScanEveryHours)
		}
	}
	host := func(field, h string) {
		if ip := net.ParseIP(h); ip == nil && !hostRE.MatchString(h) {
			bad(field, "a host name or an IP address, not %q", h)
		}
	}
	port := func(field string, p *int, def int) {
		if *p == 0 {
			*p = def
		}
		if *p < 1 || *p > 65535 {
			bad(field, "a port from 1 to 65535")
		}
	}

	// Settings are stored as JSON, which would turn bytes that are not
	// UTF-8 into U+FFFD: a path checked as given would be stored as
	// another (possibly another website's folder).
	for field, v := range map[string]string{"files.source.path": st.Files.Source.Path, "files.source.host": st.Files.Source.Host,
		"files.source.user": st.Files.Source.User, "files.source.host_key": st.Files.Source.HostKey, "database.host": st.Database.Host,
		"database.user": st.Database.User, "database.name": st.Database.Name, "database.table_prefix": st.Database.TablePrefix,
		"backup.repository": st.Backup.Repository, "backup.s3_access_key_id": st.Backup.S3AccessKeyID,
		"backup.repository_host_key": st.Backup.RepositoryHostKey} {
		if !utf8.ValidString(v) {
			bad(field, "not valid UTF-8")
		}
	}

	f := &st.Files
	every("files.every_hours", f.EveryHours)
	src := &f.Source
	switch src.Kind {
	case "":
		if f.Enabled {
			bad("files.source.kind", "where the files are is needed to scan them: local, sftp or agent")
		}
	case "local":
		if msg := localUnder(src.Path, s.cfg.ScanRoots, "--scan-root", partner); msg != "" {
			bad("files.source.path", "%s", msg)
		}
		src.Host, src.Port, src.User, src.HostKey, src.Agent = "", 0, "", "", ""
		if sealed["files.password"] != "" || sealed["files.private_key"] != "" {
			bad("files.source", "a local document root takes no password or key (send \"-\" to remove them)")
		}
	case "sftp":
		src.Agent = ""
		host("files.source.host", src.Host)
		port("files.source.port", &src.Port, 22)
		if !sshUserRE.MatchString(src.User) {
			bad("files.source.user", "an account name of letters, digits, '.', '_' and '-'")
		}
		if !validHostKey(src.HostKey) {
			bad("files.source.host_key", "the server's public key (as in known_hosts: \"ssh-ed25519 AAAA...\") or its fingerprint (\"SHA256:...\"): Palisade connects only to the server it was told")
		}
		if sealed["files.password"] == "" && sealed["files.private_key"] == "" {
			bad("files.source", "a password or a private key to sign in with")
		}
		if src.Path == "" || strings.ContainsAny(src.Path, "\x00\n\r") || len(src.Path) > 4096 {
			bad("files.source.path", "the document root's path on the server")
		}
	case "agent":
		if msg := validAgentName(src.Agent); msg != "" {
			bad("files.source.agent", "%s", msg)
		}
		if !strings.HasPrefix(src.Path, "/") || strings.ContainsAny(src.Path, "\x00\n\r") || len(src.Path) > 4096 {
			bad("files.source.path", "the document root's absolute path on the agent's server")
		}
		src.Host, src.Port, src.User, src.HostKey = "", 0, "", ""
		if sealed["files.password"] != "" || sealed["files.private_key"] != "" {
			bad("files.source", "files on an agent take no password or key (send \"-\" to remove them)")
		}
		if f.AutoClean {
			bad("files.auto_clean", "not available for files on an agent (the agent only scans)")
		}
		if st.Patch.Enabled {
			bad("patch.enabled", "the patch check is not run by agents: files on an agent are scanned for malware only")
		}
	default:
		bad("files.source.kind", "local, sftp or agent, not %q", src.Kind)
	}

	d := &st.Database
	every("database.every_hours", d.EveryHours)
	if d.Enabled || d.Host != "" {
		host("database.host", d.Host)
		port("database.port", &d.Port, 3306)
		if !dbIdentRE.MatchString(d.User) {
			bad("database.user", "a MySQL user name (letters, digits, _ $ -; at most 64)")
		}
		if !dbIdentRE.MatchString(d.Name) {
			bad("database.name", "a database name (letters, digits, _ $ -; at most 64)")
		}
		if !prefixRE.MatchString(d.TablePrefix) {
			bad("database.table_prefix", "letters, digits and _ only, at most 32 (WordPress's wp_ by default)")
		}
	}
	every("patch.every_hours", st.Patch.EveryHours)
	if st.Patch.Enabled && src.Kind == "" {
		bad("patch.enabled", "the patch check reads the website's files: set files.source first")
	}

	b := &st.Backup
	every("backup.every_hours", b.EveryHours)
	for field, n := range map[string]int{"backup.keep_daily": b.KeepDaily, "backup.keep_weekly": b.KeepWeekly, "backup.keep_monthly": b.KeepMonthly} {
		if n < 0 || n > 1000 {
			bad(field, "0 to 1000")
		}
	}
	if b.Enabled || b.Repository != "" {
		switch {
		case strings.HasPrefix(b.Repository, "s3:"):
			if !strings.HasPrefix(b.Repository, "s3:https://") || strings.ContainsAny(b.Repository, " \x00\n\r") {
				bad("backup.repository", "s3:https://host/bucket/prefix")
			}
			if b.S3AccessKeyID == "" || sealed["backup.s3_secret_key"] == "" {
				bad("backup", "an S3 repository needs s3_access_key_id and s3_secret_key")
			}
		case strings.HasPrefix(b.Repository, "sftp:"):
			// ssh runs with the repository's own key and pinned host key
			// alone (internal/backup): never the operator's keys, agent or
			// known_hosts, which would let a partner write into any host
			// that trusts the operator.
			user, h, pt, path := backup.SFTPLocation(b.Repository)
			switch {
			case user == "" || h == "" || strings.ContainsAny(b.Repository, " \x00\n\r\t'\"\\"):
				bad("backup.repository", "sftp:user@host:/path or sftp://user@host:port//path")
			default:
				if !sshUserRE.MatchString(user) {
					bad("backup.repository", "the sftp account: letters, digits, '.', '_' and '-'")
				}
				host("backup.repository", h)
				if pt != "" {
					// Digits only: Atoi takes "+22", which ssh's command line
					// (internal/backup) refuses at every run.
					if n, err := strconv.Atoi(pt); err != nil || n < 1 || n > 65535 || strings.Trim(pt, "0123456789") != "" {
						bad("backup.repository", "a port from 1 to 65535")
					}
				}
				if path == "" {
					bad("backup.repository", "the repository's folder on the server")
				}
			}
			if !pinnableHostKey(b.RepositoryHostKey) {
				bad("backup.repository_host_key", "the server's public key as in known_hosts (\"ssh-ed25519 AAAA...\"; a fingerprint cannot be pinned for ssh): Palisade stores backups only on the server it was told")
			}
			if sealed["backup.repository_private_key"] == "" {
				bad("backup.repository_private_key", "the private key the repository's server accepts (Palisade never signs in with the operator's own keys)")
			}
		default:
			if msg := localUnder(b.Repository, s.cfg.BackupRoots, "--backup-root", partner); msg != "" {
				bad("backup.repository", "%s (or sftp:user@host:/path, s3:https://host/bucket/prefix)", msg)
			}
		}
		if sealed["backup.repository_password"] == "" {
			bad("backup.repository_password", "restic encrypts every repository with a password: set one, and keep it (without it the backups cannot be read)")
		}
		if root, repo := st.localPaths(); overlap(root, repo) {
			bad("backup.repository", "not inside (or around) the website's own document root: its owner could change the backups")
		}
		if b.Enabled && src.Kind != "local" {
			bad("backup.enabled", "backups are taken from a local document root (files.source.kind local)")
		}
	}
	if len(probs) == 0 {
		return nil
	}
	return &Error{Code: EINVALID, Message: "invalid scan settings: " + strings.Join(probs, "; "), Cause: errScanCfg}
}

// localUnder checks that p is a clean absolute path strictly inside one of
// the roots the partner may use, and says why not. A root is "DIR" (any
// partner: for an operator whose partners share one machine's accounts
// and trust each other, or that has one partner) or "PARTNER=DIR" (that
// partner only).
func localUnder(p string, roots []string, flag, partner string) string {
	var mine []string
	for _, r := range roots {
		name, dir, ok := strings.Cut(r, "=")
		if !ok {
			dir = r
		} else if name != partner {
			continue
		}
		mine = append(mine, filepath.Clean(dir))
	}
	if len(mine) == 0 {
		return "the operator allows this partner no local paths (" + flag + ")"
	}
	if !filepath.IsAbs(p) || filepath.Clean(p) != p || strings.ContainsAny(p, "\x00\n\r") || !utf8.ValidString(p) {
		return "an absolute path without . or .. parts, not " + strconv.Quote(p)
	}
	for _, r := range mine {
		if p != r && pathWithin(p, r) {
			return ""
		}
	}
	return "not inside the allowed roots (" + strings.Join(mine, ", ") + ")"
}

// pathWithin reports whether p is inside dir (or is dir).
func pathWithin(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// checkScanPathsFree refuses a local document root that is, contains or
// is inside another website's, and a local backup repository inside
// another partner's: one website's settings never reach another's files
// or backups.
//
// Nor is a local backup repository inside (or around) any website's local
// document root, nor a document root inside a repository: the website's
// owner can write there, and could delete every website's backups in it or
// plant links that restic, writing the repository as root, follows.
func (s *Service) checkScanPathsFree(ctx context.Context, tx Tx, w Website, st ScanSettings) error {
	root, repo := st.localPaths()
	db := st.databaseIdentity()
	if root == "" && repo == "" && db == "" {
		return nil
	}
	all, err := tx.AllScanSettings(ctx)
	if err != nil {
		return err
	}
	for _, o := range all {
		if o.WebsiteID == w.ID {
			continue
		}
		var other sealedScanSettings
		if json.Unmarshal([]byte(o.Settings), &other) != nil {
			continue
		}
		oroot, orepo := other.localPaths()
		if overlap(root, oroot) {
			return Errorf(ECONFLICT, "files.source.path: %s overlaps the document root of another website: each website's files are its own folder", root)
		}
		if o.PartnerID != w.PartnerID && overlap(repo, orepo) {
			return Errorf(ECONFLICT, "backup.repository: %s overlaps another partner's backup repository", repo)
		}
		if overlap(repo, oroot) {
			return Errorf(ECONFLICT, "backup.repository: %s overlaps the document root of another website: its owner could change the backups", repo)
		}
		if overlap(root, orepo) {
			return Errorf(ECONFLICT, "files.source.path: %s overlaps a backup repository: the website's owner could change the backups", root)
		}
		// One database, two owners: a scan would show one customer the
		// other's rows, and a restore of one's backup would replace the
		// other's tables. The same customer's (or the partner's own,
		// unassigned) websites may share one, with their table prefixes.
		if db != "" && other.databaseIdentity() == db {
			ow, err := tx.WebsiteByID(ctx, o.PartnerID, o.WebsiteID)
			if err != nil {
				return err
			}
			if o.PartnerID != w.PartnerID || ow.SubaccountID != w.SubaccountID {
				return Errorf(ECONFLICT, "database: %s is the database of another customer's website: a scan would show that customer's content and a restore would replace its tables; give each customer a database of its own", db)
			}
		}
	}
	return nil
}

// databaseIdentity names the database st scans and backs up
// ("host:port/name", the host in lower case), "" for none.
func (st *ScanSettings) databaseIdentity() string {
	d := st.Database
	if d.Host == "" || d.Name == "" {
		return ""
	}
	port := d.Port
	if port == 0 {
		port = 3306
	}
	return strings.ToLower(strings.TrimSuffix(d.Host, ".")) + ":" + strconv.Itoa(port) + "/" + d.Name
}

// localPaths returns the local document root and the local backup
// repository of st, "" for none.
func (st *ScanSettings) localPaths() (root, repo string) {
	if st.Files.Source.Kind == "local" {
		root = st.Files.Source.Path
	}
	if b := st.Backup.Repository; b != "" && !strings.HasPrefix(b, "s3:") && !strings.HasPrefix(b, "sftp:") {
		repo = b
	}
	return root, repo
}

// overlap reports whether the paths a and b, neither empty, are the same
// folder or one is inside the other.
func overlap(a, b string) bool {
	return a != "" && b != "" && (pathWithin(a, b) || pathWithin(b, a))
}

// pinnableHostKey reports whether k is one public key as known_hosts holds
// it ("ssh-ed25519 AAAA...", an optional comment): what ssh can pin.
func pinnableHostKey(k string) bool {
	k = strings.TrimSpace(k)
	if k == "" || len(k) > 16<<10 || strings.ContainsAny(k, "\n\r") {
		return false
	}
	key, _, _, rest, err := ssh.ParseAuthorizedKey([]byte(k))
	return err == nil && len(rest) == 0 && strings.Fields(k)[0] == key.Type()
}

// validHostKey: an authorized_keys-style public key or a SHA256
// fingerprint (the checks that bind them are the SSH client's).
func validHostKey(k string) bool {
	if strings.HasPrefix(k, "SHA256:") {
		return len(k) >= 7+43 && len(k) <= 7+44 && !strings.ContainsAny(k, " \n")
	}
	fields := strings.Fields(k)
	return len(fields) >= 2 && (strings.HasPrefix(fields[0], "ssh-") || strings.HasPrefix(fields[0], "ecdsa-")) && len(fields[1]) > 40 && len(k) < 16<<10
}
