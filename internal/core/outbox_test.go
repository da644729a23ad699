package core_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/store"
	"github.com/palisadehq/palisade/internal/store/storetest"
)

// mailer records what it is asked to send and fails as told.
type mailer struct {
	mu    sync.Mutex
	sent  map[string]int // subject -> times sent
	fails atomic.Int64   // fail this many more sends (transient)
	perm  atomic.Bool    // fail permanently
}

func (m *mailer) Send(ctx context.Context, to, subject, body string) error {
	if m.perm.Load() {
		return &core.PermanentError{Err: errors.New("550 no such user")}
	}
	if m.fails.Add(-1) >= 0 {
		return errors.New("421 try again later")
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sent[subject]++
	return nil
}

func TestOutboxDelivery(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.partner(t, "host", 100000)
		a, _, err := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: "jane@example.com", FirstName: "Jane"}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "shop.example.com", SubaccountID: a.ID, Plan: "10k"}, core.Idem{}); err != nil {
			t.Fatal(err)
		}
		m := &mailer{sent: map[string]int{}}
		// Two transient failures, then delivered; the backoff is honoured.
		m.fails.Store(2)
		if n, err := f.svc.DeliverDueEmails(ctx, m, 10); n != 0 || err != nil {
			t.Fatalf("first attempt: %d %v", n, err)
		}
		if n, _ := f.svc.DeliverDueEmails(ctx, m, 10); n != 0 {
			t.Fatal("retried before its backoff")
		}
		f.advance(time.Minute)
		f.svc.DeliverDueEmails(ctx, m, 10) // second failure
		f.advance(2 * time.Minute)
		if n, err := f.svc.DeliverDueEmails(ctx, m, 10); n != 1 || err != nil {
			t.Fatalf("third attempt: %d %v", n, err)
		}
		es, _ := f.svc.Emails(ctx, c, core.EmailFilter{})
		if len(es) != 1 || es[0].Status != core.EmailSent || es[0].Attempts != 3 || es[0].SentAt == nil {
			t.Fatalf("after delivery: %+v", es)
		}
		if n, _ := f.svc.DeliverDueEmails(ctx, m, 10); n != 0 {
			t.Fatal("a sent email was sent again")
		}

		// A permanent failure is not retried.
		m.perm.Store(true)
		if _, err := f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: ptr(core.StatusPaused)}, core.Match{}); err != nil {
			t.Fatal(err)
		}
		f.svc.DeliverDueEmails(ctx, m, 10)
		es, _ = f.svc.Emails(ctx, c, core.EmailFilter{Status: core.EmailFailed})
		if len(es) != 1 || es[0].Kind != core.EmailSuspended || es[0].LastError != "550 no such user" {
			t.Fatalf("permanent failure: %+v", es)
		}
		m.perm.Store(false)

		// Several nodes delivering at once send each email once.
		for i := 0; i < 5; i++ { // resume and suspend: ten emails
			f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: ptr(core.StatusOnline)}, core.Match{})
			f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: ptr(core.StatusPaused)}, core.Match{})
		}
		var wg sync.WaitGroup
		var total atomic.Int64
		for i := 0; i < 4; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				n, _ := f.svc.DeliverDueEmails(ctx, m, 100)
				total.Add(int64(n))
			}()
		}
		wg.Wait()
		m.mu.Lock()
		defer m.mu.Unlock()
		sends := 0
		for _, n := range m.sent {
			sends += n
		}
		if total.Load() != 10 || sends != 11 { // 10 now + the welcome
			t.Fatalf("delivered %d, mailer saw %d sends; want 10 and 11", total.Load(), sends)
		}

		// A delivery interrupted mid-way is failed after an hour, never retried.
		resume := core.StatusOnline
		f.svc.UpdateWebsite(ctx, c, "shop.example.com", core.WebsiteUpdate{Status: &resume}, core.Match{})
		stuck, _ := f.svc.Emails(ctx, c, core.EmailFilter{Status: core.EmailPending})
		if err := db.Exec(ctx, "UPDATE emails SET status = 'sending' WHERE id = $1", stuck[0].ID); err != nil {
			t.Fatal(err)
		}
		if n, _ := f.svc.FailStuckEmails(ctx); n != 0 {
			t.Fatal("a fresh claim was failed")
		}
		f.advance(2 * time.Hour)
		if n, _ := f.svc.FailStuckEmails(ctx); n != 1 {
			t.Fatalf("stuck emails failed: %d", n)
		}
	})
}

func TestExpiryNotices(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.partner(t, "host", 100000)
		a, _, _ := f.svc.CreateSubaccount(ctx, c, core.SubaccountCreate{Email: "jane@example.com"}, core.Idem{})
		site, _, _ := f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "a.example.com", SubaccountID: a.ID, Plan: "10k"}, core.Idem{})
		f.svc.CreateWebsite(ctx, c, core.WebsiteCreate{Domain: "b.example.com", SubaccountID: a.ID, Plan: "10k"}, core.Idem{})
		// Three days before an expiry, whatever the months' lengths.
		threeDaysBefore := func(expires time.Time) { f.advance(expires.Sub(*f.now.Load()) - 3*24*time.Hour) }
		pause := core.StatusPaused
		f.svc.UpdateWebsite(ctx, c, "b.example.com", core.WebsiteUpdate{Status: &pause}, core.Match{})
		if n, _ := f.svc.QueueExpiryNotices(ctx); n != 0 {
			t.Fatalf("a month before expiry: %d notices", n)
		}
		threeDaysBefore(site.ExpiresAt)
		if n, err := f.svc.QueueExpiryNotices(ctx); n != 1 || err != nil { // b is paused: no notice
			t.Fatalf("a week before: %d %v", n, err)
		}
		if n, _ := f.svc.QueueExpiryNotices(ctx); n != 0 {
			t.Fatal("the notice was queued twice")
		}
		// Renewed: the next period gets its own notice.
		renewed, _, err := f.svc.Renew(ctx, c, "a.example.com", 1, core.Match{}, core.Idem{})
		if err != nil {
			t.Fatal(err)
		}
		threeDaysBefore(renewed.ExpiresAt)
		if n, _ := f.svc.QueueExpiryNotices(ctx); n != 1 {
			t.Fatalf("next period: %d", n)
		}
		es, _ := f.svc.Emails(ctx, c, core.EmailFilter{})
		kinds := map[string]int{}
		for _, e := range es {
			kinds[e.Kind]++
		}
		if kinds["expiring"] != 2 || kinds["renewed"] != 1 || kinds["welcome"] != 2 || kinds["suspended"] != 1 {
			t.Fatalf("emails %v", kinds)
		}
	})
}

func TestProvisionAccountIsAtomic(t *testing.T) {
	storetest.Each(t, func(t *testing.T, db *store.DB) {
		f := newFixture(t, db)
		ctx := context.Background()
		c := f.partner(t, "host", 300) // enough for nothing but Free
		in := core.Provision{Account: core.SubaccountCreate{Email: "jane@example.com"}, Password: "S3cure-Passw0rd", Domain: "shop.example.com", Plan: "10k"}
		if _, _, err := f.svc.ProvisionAccount(ctx, c, in); core.ErrorCode(err) != core.EPAYMENTREQUIRED {
			t.Fatalf("without credit: %v", err)
		}
		if subs, _ := f.svc.Subaccounts(ctx, c, core.SubaccountFilter{}); len(subs) != 0 {
			t.Fatal("a refused provisioning left its account behind")
		}
		in.Plan = "Free"
		a, w, err := f.svc.ProvisionAccount(ctx, c, in)
		if err != nil || w.SubaccountID != a.ID || a.APIKey == "" || w.ServerKey == "" {
			t.Fatalf("provision: %+v %+v %v", a, w, err)
		}
		if ok, _ := f.svc.CheckSubaccountPassword(ctx, c, a.ID, "S3cure-Passw0rd"); !ok {
			t.Fatal("password not set")
		}
		// The same customer, a second site: the account is reused.
		in.Domain = "blog.example.com"
		b, _, err := f.svc.ProvisionAccount(ctx, c, in)
		if err != nil || b.ID != a.ID {
			t.Fatalf("second site: %v %d %d", err, b.ID, a.ID)
		}
		in.MustBeNew = true
		if _, _, err := f.svc.ProvisionAccount(ctx, c, in); core.ErrorCode(err) != core.ECONFLICT {
			t.Fatalf("must be new: %v", err)
		}
	})
}

func TestPasswordStrength(t *testing.T) {
	for pw, ok := range map[string]bool{
		"S3cure-Passw0rd": true, "correct horse battery staple": true, "short1A": false, "alllowercase1": false,
		"jane2026-Secret": false, // contains the email's name
		"Ex4mple!shop":    false, // contains the domain's name
		"Gr33n-Tomatoes":  true,
	} {
		err := core.CheckPasswordStrength(pw, "jane@example.com", "shop.example.com")
		if (err == nil) != ok {
			t.Errorf("%q: %v", pw, err)
		}
	}
	h, err := core.HashPassword("S3cure-Passw0rd")
	if err != nil || !core.VerifyPassword(h, "S3cure-Passw0rd") || core.VerifyPassword(h, "S3cure-Passw0rD") || core.VerifyPassword("garbage", "x") {
		t.Fatal("argon2id round trip")
	}
}

func ptr[T any](v T) *T { return &v }
