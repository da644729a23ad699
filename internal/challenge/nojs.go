package challenge

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// IssueNoJS returns a token for browsers without JavaScript: the page
// refreshes itself after the website's delay, and the token is accepted only
// once that much time has passed since it was issued.
func (is *Issuer) IssueNoJS(c Client) string {
	now := is.now()
	nonce := b64.EncodeToString(NewKey()[:12])
	payload := fmt.Sprintf("n1.%d.%s.%x.%d.%s", c.Website, b64.EncodeToString(Network(c.IP).Addr().AsSlice()), uaHash(c.UserAgent), now.Unix(), nonce)
	return payload + "." + b64.EncodeToString(is.Keys().signCurrent([]byte(payload)))
}

// ErrTooEarly is a no-JavaScript token used before its delay passed.
var ErrTooEarly = fmt.Errorf("the page was reloaded before the waiting time passed")

// VerifyNoJS accepts a no-JavaScript token presented at least delay after
// it was issued and at most ChallengeTTL later, once.
func (is *Issuer) VerifyNoJS(c Client, token string, delay time.Duration) error {
	if len(token) > 512 {
		return ErrMalformed
	}
	i := strings.LastIndexByte(token, '.')
	if i < 0 {
		return ErrMalformed
	}
	mac, err := b64.DecodeString(token[i+1:])
	if err != nil || !is.Keys().verify([]byte(token[:i]), mac) {
		return ErrMalformed
	}
	f := strings.Split(token[:i], ".")
	if len(f) != 6 || f[0] != "n1" {
		return ErrMalformed
	}
	issued, err := strconv.ParseInt(f[4], 10, 64)
	if err != nil {
		return ErrMalformed
	}
	if f[1] != strconv.FormatInt(c.Website, 10) || f[2] != b64.EncodeToString(Network(c.IP).Addr().AsSlice()) || f[3] != fmt.Sprintf("%x", uaHash(c.UserAgent)) {
		return ErrMismatch
	}
	now := is.now()
	at := time.Unix(issued, 0)
	switch {
	case now.Before(at.Add(delay)):
		return ErrTooEarly
	case now.After(at.Add(ChallengeTTL)):
		return ErrExpired
	}
	fresh, err := is.spent.Spend(f[5], ChallengeTTL+time.Minute)
	if err != nil {
		return ErrUnavailable
	}
	if !fresh {
		return ErrReplayed
	}
	return nil
}
