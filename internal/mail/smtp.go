// Package mail delivers the outbox's emails over SMTP. It speaks plain SMTP
// with STARTTLS when the server offers it (required before sending a
// password to anything but loopback), or implicit TLS (smtps://), with
// bounded timeouts; 5xx answers are permanent failures, the rest are retried
// by the outbox.
package mail

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strings"
	"time"

	"github.com/palisadehq/palisade/internal/core"
)

// SMTP sends mail through one server.
type SMTP struct {
	Addr     string // host:port
	Implicit bool   // TLS from the first byte (smtps://, usually port 465)
	Username string
	Password string
	From     *mail.Address
	Timeout  time.Duration
	// TLSConfig overrides the TLS settings (tests); nil verifies the server
	// name as usual.
	TLSConfig *tls.Config
	// Now dates the messages (the service's clock); nil: time.Now.
	Now func() time.Time
}

// Parse reads smtp://user:pass@host:587 or smtps://user:pass@host:465 and a
// From address ("Acme Hosting <noreply@acme.example>").
func Parse(rawURL, from string) (*SMTP, error) {
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "smtp" && u.Scheme != "smtps") || u.Host == "" {
		return nil, errors.New("--smtp-url must look like smtp://user:password@mail.example.net:587 or smtps://…:465")
	}
	s := &SMTP{Addr: u.Host, Implicit: u.Scheme == "smtps", Timeout: 30 * time.Second}
	if u.Port() == "" {
		port := "587"
		if s.Implicit {
			port = "465"
		}
		s.Addr = net.JoinHostPort(u.Hostname(), port)
	}
	if u.User != nil {
		s.Username = u.User.Username()
		s.Password, _ = u.User.Password()
	}
	if from == "" {
		return nil, errors.New("--smtp-from is required with --smtp-url, such as \"Acme Hosting <noreply@acme.example>\"")
	}
	if s.From, err = mail.ParseAddress(from); err != nil {
		return nil, fmt.Errorf("--smtp-from %q: %v", from, err)
	}
	return s, nil
}

// Send implements core.Mailer.
func (s *SMTP) Send(ctx context.Context, to, subject, body string) error {
	rcpt, err := mail.ParseAddress(to)
	if err != nil {
		return &core.PermanentError{Err: fmt.Errorf("recipient %q: %v", to, err)}
	}
	msg, err := s.message(rcpt, subject, body)
	if err != nil {
		return &core.PermanentError{Err: err}
	}
	timeout := s.Timeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	host, _, _ := net.SplitHostPort(s.Addr)
	tlsConf := s.TLSConfig
	if tlsConf == nil {
		tlsConf = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	}
	d := &net.Dialer{}
	var conn net.Conn
	if s.Implicit {
		conn, err = (&tls.Dialer{NetDialer: d, Config: tlsConf}).DialContext(ctx, "tcp", s.Addr)
	} else {
		conn, err = d.DialContext(ctx, "tcp", s.Addr)
	}
	if err != nil {
		return fmt.Errorf("connect to %s: %w", s.Addr, err)
	}
	defer conn.Close()
	deadline, _ := ctx.Deadline()
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, host)
	if err != nil {
		return classify(err)
	}
	defer c.Close()
	// The greeting names the sender's domain: it is written into the
	// Received header every customer's email carries.
	if err := c.Hello(s.heloName()); err != nil {
		return classify(err)
	}
	if !s.Implicit {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(tlsConf); err != nil {
				return classify(err)
			}
		} else if err := clearTextAllowed(s.Username, host); err != nil {
			return err
		}
	}
	if s.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.Username, s.Password, host)); err != nil {
			return classify(err)
		}
	}
	if err := c.Mail(s.From.Address); err != nil {
		return classify(err)
	}
	if err := c.Rcpt(rcpt.Address); err != nil {
		return classify(err)
	}
	w, err := c.Data()
	if err != nil {
		return classify(err)
	}
	if _, err := w.Write(msg); err != nil {
		return classify(err)
	}
	if err := w.Close(); err != nil {
		return classify(err)
	}
	_ = c.Quit()
	return nil
}

// clearTextAllowed refuses to send a password without TLS to anything but
// loopback.
func clearTextAllowed(username, host string) error {
	if username != "" && !isLoopback(host) {
		return &core.PermanentError{Err: fmt.Errorf("%s does not offer STARTTLS; refusing to send the SMTP password in clear text", host)}
	}
	return nil
}

func isLoopback(host string) bool {
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// classify makes 5xx SMTP answers permanent.
func classify(err error) error {
	var te *textproto.Error
	if errors.As(err, &te) && te.Code >= 500 {
		return &core.PermanentError{Err: err}
	}
	return err
}

// message builds an RFC 5322 message, UTF-8 and quoted-printable.
func (s *SMTP) message(to *mail.Address, subject, body string) ([]byte, error) {
	if strings.ContainsAny(subject, "\r\n") {
		return nil, errors.New("the subject has a line break")
	}
	id := make([]byte, 12)
	_, _ = rand.Read(id)
	domain := s.heloName()
	var b strings.Builder
	hdr := func(k, v string) { b.WriteString(k + ": " + v + "\r\n") }
	hdr("From", s.From.String())
	hdr("To", to.String())
	hdr("Subject", mime.QEncoding.Encode("utf-8", subject))
	now := time.Now
	if s.Now != nil {
		now = s.Now
	}
	hdr("Date", now().UTC().Format(time.RFC1123Z))
	hdr("Message-ID", "<"+hex.EncodeToString(id)+"@"+domain+">")
	hdr("MIME-Version", "1.0")
	hdr("Content-Type", "text/plain; charset=utf-8")
	hdr("Content-Transfer-Encoding", "quoted-printable")
	hdr("Auto-Submitted", "auto-generated")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	// Not Binary: the writer turns every line break into CRLF.
	if _, err := qp.Write([]byte(body)); err != nil {
		return nil, err
	}
	if err := qp.Close(); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// heloName is the domain of the From address ("localhost" without one):
// the SMTP greeting and the Message-ID's right side, so a customer's email
// names the partner's or operator's domain, not the product.
func (s *SMTP) heloName() string {
	if at := strings.LastIndexByte(s.From.Address, '@'); at >= 0 && at+1 < len(s.From.Address) {
		return s.From.Address[at+1:]
	}
	return "localhost"
}
