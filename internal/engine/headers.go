package engine

import "strings"

// looksLikeBrowser: every mainstream browser's user agent starts this way.
func looksLikeBrowser(ua string) bool {
	return strings.HasPrefix(ua, "Mozilla/") || strings.HasPrefix(ua, "Opera/")
}

const anomalyThreshold = 3

// anomalies scores headers a real browser would not send the way this
// request did, and names the weightiest finding.
func anomalies(r *Request) (int, string) {
	score, worst, why := 0, 0, ""
	add := func(n int, reason string) {
		score += n
		if n > worst {
			worst, why = n, reason
		}
	}
	if r.Proto == "HTTP/1.0" {
		add(3, "HTTP/1.0 with a browser user agent")
	}
	if r.header("Accept") == "" {
		add(2, "no Accept header")
	}
	if r.header("Accept-Language") == "" {
		add(2, "no Accept-Language header")
	}
	if r.header("Accept-Encoding") == "" {
		add(1, "no Accept-Encoding header")
	}
	if conn := r.header("Connection"); conn != "" && (r.Proto == "HTTP/2.0" || r.Proto == "HTTP/3.0") {
		add(2, "Connection header on HTTP/2") // forbidden by RFC 9113
	} else if strings.EqualFold(conn, "close") {
		add(1, "Connection: close")
	}
	return score, why
}
