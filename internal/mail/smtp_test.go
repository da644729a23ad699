package mail

import (
	"context"
	"errors"
	"io"
	"mime"
	"mime/quotedprintable"
	"net/mail"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/mail/mailtest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

func TestSend(t *testing.T) {
	srv := mailtest.Start(t)
	m, err := Parse("smtp://"+srv.Addr(), "Acme Hosting <noreply@acme.example>")
	if err != nil {
		t.Fatal(err)
	}
	clock := testclock.New(t)
	m.Now = clock.Now
	ctx := context.Background()
	body := "Hello Jänë,\n\nyour site is protected.\nA line that is rather long, longer than seventy-six characters, so that it must be wrapped by quoted-printable.\n"
	if err := m.Send(ctx, "jane@example.com", "Grüße: shop.example.com", body); err != nil {
		t.Fatal(err)
	}
	got := srv.Messages()
	if len(got) != 1 || !strings.HasPrefix(got[0].From, "<noreply@acme.example>") || got[0].To != "<jane@example.com>" {
		t.Fatalf("received %+v", got)
	}
	msg, err := mail.ReadMessage(strings.NewReader(got[0].Data))
	if err != nil {
		t.Fatal(err)
	}
	dec := new(mime.WordDecoder)
	if subj, _ := dec.DecodeHeader(msg.Header.Get("Subject")); subj != "Grüße: shop.example.com" {
		t.Fatalf("subject %q", msg.Header.Get("Subject"))
	}
	// Nothing in the headers names the product: the Message-ID (and the
	// SMTP greeting) carry the sender's domain.
	if msg.Header.Get("From") != `"Acme Hosting" <noreply@acme.example>` || !strings.HasSuffix(msg.Header.Get("Message-Id"), "@acme.example>") ||
		strings.Contains(strings.ToLower(got[0].Data), "palisade") || m.heloName() != "acme.example" {
		t.Fatalf("headers %v", msg.Header)
	}
	if date, err := msg.Header.Date(); err != nil || clock.Now().Sub(date).Abs() > time.Minute {
		t.Fatalf("Date: %q (%v); want the service's time, %v", msg.Header.Get("Date"), err, clock.Now())
	}
	b, _ := io.ReadAll(quotedprintable.NewReader(msg.Body))
	if strings.ReplaceAll(string(b), "\r\n", "\n") != body {
		t.Fatalf("body %q", b)
	}

	// Answers: 4xx is retried, 5xx is permanent.
	srv.AnswerRcpt("451 4.3.0 try later")
	err = m.Send(ctx, "jane@example.com", "x", "y")
	var perm *core.PermanentError
	if err == nil || errors.As(err, &perm) {
		t.Fatalf("451: %v", err)
	}
	srv.AnswerRcpt("550 5.1.1 no such user")
	if err = m.Send(ctx, "jane@example.com", "x", "y"); !errors.As(err, &perm) {
		t.Fatalf("550: %v", err)
	}
	if err = m.Send(ctx, "not an address", "x", "y"); !errors.As(err, &perm) {
		t.Fatalf("bad recipient: %v", err)
	}
	// A password is never sent in clear text to a server without STARTTLS,
	// except on loopback.
	if err := clearTextAllowed("user", "mail.example.net"); !errors.As(err, &perm) {
		t.Fatalf("clear-text password to a remote server: %v", err)
	}
	if clearTextAllowed("user", "127.0.0.1") != nil || clearTextAllowed("", "mail.example.net") != nil {
		t.Fatal("loopback, or no password, refused")
	}
	authed, _ := Parse("smtp://user:secret@"+srv.Addr(), "a@b.example")
	if err := authed.Send(ctx, "jane@example.com", "x", "y"); err == nil {
		t.Fatal("AUTH against a server that offers none succeeded")
	}
	// Nothing listening: a transient error.
	dead := &SMTP{Addr: "127.0.0.1:1", From: m.From, Timeout: time.Second}
	if err := dead.Send(ctx, "jane@example.com", "x", "y"); err == nil || errors.As(err, &perm) {
		t.Fatalf("dead server: %v", err)
	}
}

func TestParse(t *testing.T) {
	for _, c := range []struct{ url, from, err string }{
		{"smtp://mail.example.net", "a@b.example", ""},
		{"smtps://u:p@mail.example.net", "A <a@b.example>", ""},
		{"http://mail.example.net", "a@b.example", "--smtp-url"},
		{"smtp://mail.example.net", "", "--smtp-from is required"},
		{"smtp://mail.example.net", "not an address", "--smtp-from"},
	} {
		m, err := Parse(c.url, c.from)
		if c.err == "" && err != nil || c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)) {
			t.Errorf("%s %s: %v", c.url, c.from, err)
		}
		if c.err == "" && !strings.Contains(m.Addr, ":") {
			t.Errorf("%s: no port in %q", c.url, m.Addr)
		}
	}
}
