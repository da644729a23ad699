package userapi

import (
	"net/http"

	"github.com/palisadehq/palisade/internal/api/download"
	"github.com/palisadehq/palisade/internal/core"
)

// Browsing and downloading the customer's backups (core.BrowseBackup,
// DownloadBackup).

var (
	snapshotP   = Param{"snapshot", "path", "A backup's snapshot or short_id (the backup list)."}
	backupPathP = Param{"path", "query", "A file or folder relative to your website's root, such as wp-content/uploads; empty: the root (browse) or everything (download)."}
)

// streamed is what a handler returns when it wrote the response itself (a
// download): ServeHTTP writes nothing more. cut: the download failed after
// its first byte; ServeHTTP logs the call, then aborts the response.
type streamed struct {
	status int
	cut    bool
}

func (h *Handler) backupBrowse(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	return h.svc.BrowseBackup(r.Context(), r.caller, w.Domain, r.vars["snapshot"], r.URL.Query().Get("path"))
}

func (h *Handler) backupDownload(r *request) (any, error) {
	w, err := h.site(r)
	if err != nil {
		return nil, err
	}
	open, got := download.Opener(r.w)
	err = h.svc.DownloadBackup(r.Context(), r.caller, w.Domain, core.BackupDownload{Snapshot: r.vars["snapshot"], Path: r.URL.Query().Get("path")}, open)
	if err != nil && download.Started(got) {
		return streamed{status: http.StatusOK, cut: true}, nil
	}
	if err != nil {
		return nil, err
	}
	return streamed{status: http.StatusOK}, nil
}
