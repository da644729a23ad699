package web

import (
	"net/http"
	"strings"

	"github.com/palisadehq/palisade/internal/api/download"
	"github.com/palisadehq/palisade/internal/core"
)

// Browsing a backup on the Backups page (?browse=<snapshot>&dir=<path>)
// and downloading a file, a folder or everything from it (a POST with the
// dashboard's CSRF token, answered with the .tar.gz itself). The core
// decides both (Service.BrowseBackup, DownloadBackup) with the session's
// Caller; a refusal before the download starts is shown on the page.

// browseView is the folder of a backup being browsed.
type browseView struct {
	B      core.Backup
	Dir    string  // relative to the website's root; "" for the root
	Crumbs []crumb // the folders from the root down to Dir's parent
	Parent string  // Dir's parent ("" for the root)
	Name   string  // Dir's last part
	Folder core.BackupFolder
}

type crumb struct{ Name, Dir string }

// browse reads the folder dir of the backup snap (one of bs) for the page;
// prob is the refusal to show instead.
func (h *Handler) browse(w http.ResponseWriter, r *http.Request, v view, s core.Session, bs []core.Backup, snap, dir string) (*browseView, *pageProblem) {
	var b *core.Backup
	for i := range bs {
		if bs[i].Snapshot == snap {
			b = &bs[i]
		}
	}
	if b == nil {
		return nil, &pageProblem{Status: http.StatusNotFound, Message: tr(v.Lang, "bk.nosuch")}
	}
	dir = strings.Trim(dir, "/") // not spaces: a folder's name may start or end with one
	f, err := h.svc.BrowseBackup(r.Context(), callerOf(s), v.Site.Domain, b.Snapshot, dir)
	if err != nil {
		return nil, h.actionProblem(w, r, err)
	}
	bv := &browseView{B: *b, Dir: f.Path, Folder: f}
	if f.Path != "" {
		parts := strings.Split(f.Path, "/")
		for i := range parts[:len(parts)-1] {
			bv.Crumbs = append(bv.Crumbs, crumb{Name: parts[i], Dir: strings.Join(parts[:i+1], "/")})
		}
		bv.Parent, bv.Name = strings.Join(parts[:len(parts)-1], "/"), parts[len(parts)-1]
	}
	return bv, nil
}

// backupDownloadPost answers the .tar.gz of the form's snapshot and path
// ("" for everything). A refusal before the first byte shows the Backups
// page (the folder being browsed kept, from the form's browse and dir);
// a failure after it cuts the download.
func (h *Handler) backupDownloadPost(w http.ResponseWriter, r *http.Request) {
	v, s, _, ok := h.sitePost(w, r, 1<<16)
	if !ok {
		return
	}
	open, got := download.Opener(w)
	err := h.svc.DownloadBackup(r.Context(), callerOf(s), v.Site.Domain,
		core.BackupDownload{Snapshot: r.PostFormValue("snapshot"), Path: r.PostFormValue("path")}, open)
	if err = download.Finish(got, err); err != nil {
		// The page reads the form as its query: the download's snapshot
		// and path are not a restore being chosen.
		r.PostForm.Del("snapshot")
		r.PostForm.Del("path")
		h.backupsPage(w, r, v, s, h.actionProblem(w, r, err))
	}
}
