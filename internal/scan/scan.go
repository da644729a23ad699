// Package scan is the free scan of the XML API: a quick look at a domain
// from outside. Does it answer over HTTP and HTTPS, and does Palisade's
// integration answer on it (its /_palisade/palisade.js)? Every step has a
// timeout, bodies are read up to a limit, at most three redirects are
// followed, and addresses that are not public are refused unless allowed,
// so that the scan cannot be pointed at the operator's own network.
package scan

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Scanner scans domains. The zero value is usable: ports 80 and 443,
// five-second steps, public addresses only.
type Scanner struct {
	Timeout      time.Duration // per request (default 5 s)
	AllowPrivate bool          // scan loopback and private addresses too (tests, internal use)
	// Resolve returns the addresses of a host (default: the system resolver).
	Resolve func(ctx context.Context, host string) ([]netip.Addr, error)
	// HTTPPort and HTTPSPort default to 80 and 443.
	HTTPPort, HTTPSPort int
	// InsecureTLS accepts any certificate (tests with a self-signed one).
	InsecureTLS bool
}

// Result is what a scan found.
type Result struct {
	Domain       string
	Addresses    []string
	HTTP, HTTPS  Probe
	Palisade     bool   // the integration answered on the site's origin
	PalisadeNote string // how it was detected, or why not
}

// Probe is one scheme's answer.
type Probe struct {
	OK     bool
	Status int
	Error  string
}

// ErrNotPublic is returned for a domain that resolves to a private address.
var ErrNotPublic = errors.New("the domain resolves to an address that is not public")

// Scan looks at domain.
func (s *Scanner) Scan(ctx context.Context, domain string) (Result, error) {
	res := Result{Domain: domain}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 5 * time.Second
	}
	resolve := s.Resolve
	if resolve == nil {
		resolve = func(ctx context.Context, host string) ([]netip.Addr, error) {
			return net.DefaultResolver.LookupNetIP(ctx, "ip", host)
		}
	}
	rctx, cancel := context.WithTimeout(ctx, timeout)
	addrs, err := resolve(rctx, domain)
	cancel()
	if err != nil || len(addrs) == 0 {
		return res, fmt.Errorf("%s does not resolve: %v", domain, err)
	}
	for _, a := range addrs {
		a = a.Unmap()
		res.Addresses = append(res.Addresses, a.String())
		if !s.AllowPrivate && !public(a) {
			return res, ErrNotPublic
		}
	}
	// Every connection goes to the addresses checked above, whatever a
	// redirect names, so a redirect cannot reach a private address either.
	dial := func(ctx context.Context, network, addr string) (net.Conn, error) {
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			return nil, err
		}
		if !strings.EqualFold(strings.TrimSuffix(host, "."), domain) {
			return nil, fmt.Errorf("redirect to another host (%s) not followed", host)
		}
		d := net.Dialer{Timeout: timeout}
		return d.DialContext(ctx, network, net.JoinHostPort(addrs[0].Unmap().String(), port))
	}
	client := &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			DialContext:           dial,
			TLSClientConfig:       &tls.Config{InsecureSkipVerify: s.InsecureTLS, ServerName: domain},
			TLSHandshakeTimeout:   timeout,
			ResponseHeaderTimeout: timeout,
			DisableKeepAlives:     true,
			Proxy:                 nil,
		},
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !strings.EqualFold(req.URL.Hostname(), domain) {
				return http.ErrUseLastResponse // another host: report the redirect itself
			}
			if len(via) >= 3 {
				return errors.New("more than three redirects")
			}
			return nil
		},
	}
	httpPort, httpsPort := s.HTTPPort, s.HTTPSPort
	if httpPort == 0 {
		httpPort = 80
	}
	if httpsPort == 0 {
		httpsPort = 443
	}
	origins := map[string]string{
		"http":  "http://" + hostPort(domain, httpPort, 80),
		"https": "https://" + hostPort(domain, httpsPort, 443),
	}
	probe := func(u string) Probe {
		req, err := http.NewRequestWithContext(ctx, "GET", u, nil)
		if err != nil {
			return Probe{Error: err.Error()}
		}
		req.Header.Set("User-Agent", "Palisade-FreeScan/1.0")
		resp, err := client.Do(req)
		if err != nil {
			return Probe{Error: shortErr(err)}
		}
		defer resp.Body.Close()
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
		return Probe{OK: true, Status: resp.StatusCode}
	}
	res.HTTP = probe(origins["http"] + "/")
	res.HTTPS = probe(origins["https"] + "/")
	origin := origins["https"]
	if !res.HTTPS.OK {
		origin = origins["http"]
	}
	if !res.HTTP.OK && !res.HTTPS.OK {
		res.PalisadeNote = "the site does not answer"
		return res, nil
	}
	req, _ := http.NewRequestWithContext(ctx, "GET", origin+"/_palisade/palisade.js", nil)
	req.Header.Set("User-Agent", "Palisade-FreeScan/1.0")
	resp, err := client.Do(req)
	if err != nil {
		res.PalisadeNote = "no answer on /_palisade/: " + shortErr(err)
		return res, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 16<<10))
	switch {
	case resp.StatusCode == http.StatusOK && strings.Contains(string(body), "Palisade client"):
		res.Palisade, res.PalisadeNote = true, "Palisade answers on /_palisade/ of this site"
	default:
		res.PalisadeNote = "/_palisade/ does not reach Palisade (HTTP " + strconv.Itoa(resp.StatusCode) + "); the web server integration is not installed"
	}
	return res, nil
}

func hostPort(host string, port, def int) string {
	if port == def {
		return host
	}
	return net.JoinHostPort(host, strconv.Itoa(port))
}

func shortErr(err error) string {
	s := err.Error()
	if len(s) > 200 {
		s = s[:200]
	}
	return s
}

// public reports whether a is a globally routable unicast address.
func public(a netip.Addr) bool {
	return a.IsGlobalUnicast() && !a.IsPrivate() && !a.IsLoopback() && !a.IsLinkLocalUnicast() &&
		!netip.MustParsePrefix("100.64.0.0/10").Contains(a) && !netip.MustParsePrefix("fc00::/7").Contains(a)
}
