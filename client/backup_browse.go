package client

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"time"
)

// BackupEntry is a file or folder in a backup.
type BackupEntry struct {
	Name    string    `json:"name"`
	Path    string    `json:"path"` // relative to the document root
	Type    string    `json:"type"` // file, dir, symlink, ...
	Size    int64     `json:"size"`
	Mode    string    `json:"mode"`
	ModTime time.Time `json:"mtime"`
}

// BackupFolder is one folder of a backup (schema BackupFolder).
type BackupFolder struct {
	Snapshot  string        `json:"snapshot"`
	ShortID   string        `json:"short_id"`
	Path      string        `json:"path"` // "" for the root
	Entries   []BackupEntry `json:"entries"`
	Truncated bool          `json:"truncated"` // more than the server lists at once
}

func backupPath(domain, snapshot, verb string) string {
	return scanPath(domain, "/backups/"+url.PathEscape(snapshot)+verb)
}

// BrowseBackup lists the folder dir (relative to the document root; ""
// for the root) of a backup, named by its snapshot, short ID or database
// snapshot.
//
// Operation: GET /v1/websites/{domain}/backups/{snapshot}/files
func (c *Client) BrowseBackup(ctx context.Context, domain, snapshot, dir string) (BackupFolder, error) {
	var out BackupFolder
	q := url.Values{}
	if dir != "" {
		q.Set("path", dir)
	}
	return out, c.call(ctx, "GET", backupPath(domain, snapshot, "/files"), q, nil, Options{}, &out)
}

// DownloadBackup writes a file, a folder or everything (path "") of a
// backup to w as a gzip-compressed tar archive, streamed, and returns the
// bytes written. An error the server answers before the download starts
// is an *Error; one after it (the server cuts a download over its size
// cap or that fails midway) is a read error, and what w holds is then a
// broken archive.
//
// Operation: GET /v1/websites/{domain}/backups/{snapshot}/download
func (c *Client) DownloadBackup(ctx context.Context, domain, snapshot, path string, w io.Writer) (int64, error) {
	p := backupPath(domain, snapshot, "/download")
	u := c.BaseURL + p
	if path != "" {
		u += "?" + url.Values{"path": {path}}.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+c.APIKey)
	ua := c.UserAgent
	if ua == "" {
		ua = "palisade-go-client"
	}
	req.Header.Set("User-Agent", ua)
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, fmt.Errorf("palisade: GET %s: %w", p, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 {
		raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		return 0, errorOf(resp, raw)
	}
	n, err := io.Copy(w, resp.Body)
	if err != nil {
		return n, fmt.Errorf("palisade: GET %s: the download broke off after %d bytes: %w", p, n, err)
	}
	return n, nil
}
