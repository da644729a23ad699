// Package botdata keeps the verified-bot range lists up to date: it
// downloads each vendor's published list, checks it parses and is not empty,
// and replaces the copy in the bot data directory only then, so the last
// good copy survives a bad download.
package botdata

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/engine"
)

// DefaultSources are the vendors' published lists, in their own schema
// (creationTime, prefixes[].ipv4Prefix/ipv6Prefix). The file name is the key
// plus ".json", which the engine's signatures refer to.
var DefaultSources = map[string]string{
	"googlebot":        "https://developers.google.com/static/search/apis/ipranges/googlebot.json",
	"bingbot":          "https://www.bing.com/toolbox/bingbot.json",
	"applebot":         "https://search.developer.apple.com/applebot.json",
	"openai-gptbot":    "https://openai.com/gptbot.json",
	"openai-searchbot": "https://openai.com/searchbot.json",
	"perplexitybot":    "https://www.perplexity.com/perplexitybot.json",
	"common-crawl":     "https://index.commoncrawl.org/ccbot.json",
}

// MaxListSize bounds one download.
const MaxListSize = 8 << 20

// Result is what happened to one list.
type Result struct {
	Name     string
	URL      string
	Prefixes int
	Err      error
}

// ParseSources reads name=url pairs over the defaults; "name=" removes one.
func ParseSources(pairs []string) (map[string]string, error) {
	out := map[string]string{}
	for k, v := range DefaultSources {
		out[k] = v
	}
	for _, p := range pairs {
		name, url, ok := strings.Cut(p, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, "/\\. ") {
			return nil, fmt.Errorf("source %q: want NAME=https://... (NAME without dots or slashes)", p)
		}
		if url == "" {
			delete(out, name)
			continue
		}
		if !strings.HasPrefix(url, "https://") && !strings.HasPrefix(url, "http://") {
			return nil, fmt.Errorf("source %q: the URL must be http(s)", p)
		}
		out[name] = url
	}
	return out, nil
}

// Refresh downloads every source into dir. A list that fails to download or
// parse leaves the existing file untouched and is reported in its Result.
func Refresh(ctx context.Context, client *http.Client, sources map[string]string, dir string) []Result {
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	names := make([]string, 0, len(sources))
	for n := range sources {
		names = append(names, n)
	}
	sort.Strings(names)
	var out []Result
	for _, name := range names {
		r := Result{Name: name, URL: sources[name]}
		r.Prefixes, r.Err = fetch(ctx, client, r.URL, filepath.Join(dir, name+".json"))
		out = append(out, r)
	}
	return out
}

func fetch(ctx context.Context, client *http.Client, url, path string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("%s answered %s", url, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxListSize+1))
	if err != nil {
		return 0, err
	}
	if len(body) > MaxListSize {
		return 0, fmt.Errorf("%s is larger than %d bytes", url, MaxListSize)
	}
	_, n, err := engine.ParseRangeList(body)
	if err != nil {
		return 0, fmt.Errorf("%s: %w; kept the previous copy", url, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return 0, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".download-*")
	if err != nil {
		return 0, err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(body); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return 0, err
	}
	if err := tmp.Close(); err != nil {
		return 0, err
	}
	return n, os.Rename(tmp.Name(), path)
}
