package client

import "context"

// UpdateRequest names one component the website's last patch check
// reported: Type core, plugin or theme; Slug as reported ("" for the
// core); Root the install's folder as reported ("" for the document root).
type UpdateRequest struct {
	Type string `json:"type"`
	Slug string `json:"slug,omitempty"`
	Root string `json:"root,omitempty"`
}

// UpdateComponent queues an update of one component by the CMS's own
// updater (the operator's --patch-update-command), after a backup; the
// returned job (kind update) does it, and its summary names the snapshot,
// the command's exit and last output, and the versions before and after.
// ErrPreconditionFailed when the service offers no updates or the website
// cannot have one (files not local, no backups, patch checks off).
//
// Operation: POST /v1/websites/{domain}/updates
func (c *Client) UpdateComponent(ctx context.Context, domain string, r UpdateRequest) (ScanJob, error) {
	var out ScanJob
	return out, c.call(ctx, "POST", scanPath(domain, "/updates"), nil, r, Options{}, &out)
}
