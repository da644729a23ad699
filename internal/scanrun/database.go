package scanrun

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"path/filepath"
	"strconv"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/dbscan"
)

// DatabaseSummary is what a database job stores as its summary.
type DatabaseSummary struct {
	CMS         string              `json:"cms"`
	Prefix      string              `json:"prefix"`
	Tables      []dbscan.TableStats `json:"tables"`
	Admins      []dbscan.Admin      `json:"admins"`
	Notes       []string            `json:"notes,omitempty"`
	Complete    bool                `json:"complete"`
	Dropped     int                 `json:"findings_dropped,omitempty"`
	Findings    int                 `json:"findings"`
	New         int                 `json:"new"`
	Resolved    int                 `json:"resolved"`
	Cleaned     int                 `json:"cleaned,omitempty"` // injected fragments removed (database.clean), originals kept
	CleanErrors []string            `json:"clean_errors,omitempty"`
	DurationMS  int64               `json:"duration_ms"`
}

// database scans the website's WordPress or Joomla database (SMART
// Database) through clamd and dbscan's own checks, read-only unless the
// website's settings say clean, and only at an address the operator
// allows (st.Net).
func (r *Runner) database(ctx context.Context, j core.ScanJob, st core.ScanSettings) (any, error) {
	if r.Clamd == nil {
		return nil, errors.New("no clamd is configured on this node (--clamd)")
	}
	d := st.Database
	if d.Host == "" || d.Name == "" {
		return nil, errors.New("the website has no database settings (scan settings)")
	}
	db, err := dbscan.Connect(ctx, dbscan.Target{Host: d.Host, Port: d.Port, User: d.User, Password: d.Password, Database: d.Name,
		Dial: st.Net.DialContext})
	if err != nil {
		return nil, err
	}
	defer db.Close()
	var hosts []string
	if st.Domain != "" {
		hosts = []string{st.Domain}
	}
	res, err := dbscan.Scan(ctx, db, dbscan.Options{Client: r.Clamd, TablePrefix: d.TablePrefix, SiteHosts: hosts, Now: r.Now})
	if err != nil {
		return nil, err
	}
	found := make([]core.Finding, 0, len(res.Findings))
	for _, f := range res.Findings {
		detail, _ := json.Marshal(f) // the whole finding: a later clean needs its fragment
		found = append(found, core.Finding{Location: f.Location, Signature: f.Signature, Class: f.Class, Severity: f.Severity,
			SHA256: f.SHA256, Detail: string(detail)})
	}
	created, resolved, err := r.Service.RecordFindings(ctx, j, found, res.Complete && res.Dropped == 0)
	if err != nil {
		return nil, err
	}
	sum := DatabaseSummary{CMS: res.CMS, Prefix: res.Prefix, Tables: res.Tables, Admins: res.Admins, Notes: res.Notes, Complete: res.Complete,
		Dropped: res.Dropped, Findings: len(found), New: created, Resolved: resolved, DurationMS: res.Duration.Milliseconds()}
	if !d.Clean {
		return sum, nil
	}
	// Cleaning: only fragments dbscan pinned down, in rows unchanged since
	// the scan; the original value is kept beside the quarantine.
	dir := filepath.Join(r.Dir, "quarantine-db", strconv.FormatInt(j.WebsiteID, 10))
	for i, f := range found {
		if f.State != core.FindingOpen || !res.Findings[i].Cleanable {
			continue
		}
		c, err := dbscan.Clean(ctx, db, r.Clamd, res.Prefix, res.Findings[i])
		if err != nil {
			if !errors.Is(err, dbscan.ErrNotCleanable) {
				sum.CleanErrors = append(sum.CleanErrors, f.Location+": "+err.Error())
			}
			continue
		}
		id, err := keepOriginal(dir, c)
		if err != nil {
			// The row is cleaned but its original could not be kept: say
			// so rather than pretend it is restorable.
			sum.CleanErrors = append(sum.CleanErrors, f.Location+": cleaned, but keeping the original failed: "+err.Error())
		}
		if err := r.Service.MarkCleaned(ctx, j, f.ID, id); err != nil {
			return sum, err
		}
		sum.Cleaned++
	}
	return sum, nil
}

// keepOriginal writes what a clean changed (the original value, the
// cleaned one, what was removed) to dir and returns its name, the
// finding's quarantine ID.
func keepOriginal(dir string, c dbscan.Cleaned) (string, error) {
	h := sha256.Sum256([]byte(c.Location + "\x00" + c.Original))
	id := "db-" + hex.EncodeToString(h[:12])
	if err := writeAtomic(filepath.Join(dir, id+".json"), c); err != nil {
		return "", err
	}
	return id, nil
}
