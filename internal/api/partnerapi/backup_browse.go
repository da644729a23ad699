package partnerapi

import (
	"net/http"

	"github.com/palisadehq/palisade/internal/api/download"
	"github.com/palisadehq/palisade/internal/core"
)

// Browsing and downloading backups (core.BrowseBackup, DownloadBackup).

func (a *API) handleBackupBrowse() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		f, err := a.svc.BrowseBackup(r.Context(), callerFrom(r.Context()), r.PathValue("domain"), r.PathValue("snapshot"), r.URL.Query().Get("path"))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, f)
		return nil
	})
}

func (a *API) handleBackupDownload() http.Handler {
	return a.h(func(w http.ResponseWriter, r *http.Request) error {
		if r.Method == http.MethodHead {
			// The mux answers HEAD on GET routes; the archive is built as
			// it is sent, so a HEAD would run restic and hold a read slot
			// for nothing.
			return core.FieldError("method", "HEAD is not answered for a download (the archive is made as it is sent): use GET")
		}
		open, got := download.Opener(w)
		err := a.svc.DownloadBackup(r.Context(), callerFrom(r.Context()), r.PathValue("domain"),
			core.BackupDownload{Snapshot: r.PathValue("snapshot"), Path: r.URL.Query().Get("path")}, open)
		return download.Finish(got, err)
	})
}
