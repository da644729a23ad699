package client

import (
	"context"
	"strconv"
)

// ---- scan agents (docs/API.md, docs/SCANNING.md) ----

// ScanAgent is one of your scan agents (`palisade agent` on a web server;
// schema ScanAgent). Key is set only in CreateScanAgent's answer: it is
// shown once.
type ScanAgent struct {
	ID        int64   `json:"id"`
	Name      string  `json:"name"`
	KeyPrefix string  `json:"key_prefix"`
	Key       string  `json:"key,omitempty"`
	CreatedAt string  `json:"created_at"`
	RevokedAt *string `json:"revoked_at"`
	SeenAt    *string `json:"seen_at"`
}

// ScanAgents lists your scan agents, revoked ones too.
//
// Operation: GET /v1/scan-agents
func (c *Client) ScanAgents(ctx context.Context) ([]ScanAgent, error) {
	var out struct {
		Data []ScanAgent `json:"data"`
	}
	return out.Data, c.call(ctx, "GET", "/v1/scan-agents", nil, nil, Options{}, &out)
}

// CreateScanAgent creates a scan agent named name and its key (in the
// answer's Key, never shown again). A name in use by an agent that is not
// revoked is ErrConflict.
//
// Operation: POST /v1/scan-agents
func (c *Client) CreateScanAgent(ctx context.Context, name string) (ScanAgent, error) {
	var out ScanAgent
	return out, c.call(ctx, "POST", "/v1/scan-agents", nil, map[string]string{"name": name}, Options{}, &out)
}

// RevokeScanAgent revokes one of your scan agents: its key is refused from
// then on.
//
// Operation: DELETE /v1/scan-agents/{id}
func (c *Client) RevokeScanAgent(ctx context.Context, id int64) (ScanAgent, error) {
	var out ScanAgent
	return out, c.call(ctx, "DELETE", "/v1/scan-agents/"+strconv.FormatInt(id, 10), nil, nil, Options{}, &out)
}
