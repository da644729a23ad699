package core_test

import (
	"context"
	"net/url"
	"testing"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/secret"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/faultstore"
)

// TestSignInIsOneTransaction: spending a single-use link and opening its
// session is one transaction, so a session that could not be opened (the
// database down) leaves the link usable, and a used link opens nothing.
func TestSignInIsOneTransaction(t *testing.T) {
	ctx := context.Background()
	fs := faultstore.Wrap(storetest.SQLite(t))
	box, _ := secret.NewBox(make([]byte, secret.KeySize), nil)
	svc := core.NewService(fs, box, core.Config{PublicURL: "https://palisade.test"})
	if _, err := svc.SeedPlans(ctx); err != nil {
		t.Fatal(err)
	}
	p, key, err := svc.CreatePartner(ctx, core.Operator(), core.PartnerCreate{Name: "host", AllowedIPs: []string{"127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.TopUp(ctx, core.Operator(), p.ID, 100000, ""); err != nil {
		t.Fatal(err)
	}
	c, err := svc.Authenticate(ctx, key, mustAddr("127.0.0.1"), core.ProtocolV1)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := svc.ProvisionAccount(ctx, c, core.Provision{Account: core.SubaccountCreate{Email: "jane@example.com"}, Domain: "shop.example.com", Plan: "10k"}); err != nil {
		t.Fatal(err)
	}

	// A single-sign-on token (/sso?token=).
	link, _, err := svc.CreateLoginToken(ctx, c, core.ScopeCustomer, "shop.example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(link)
	token := u.Query().Get("token")
	fs.FailUpdates(0, 1)
	if _, err := svc.LoginWithToken(ctx, token); core.ErrorCode(err) != core.EUNAVAILABLE {
		t.Fatalf("sign-in with the database down: %v", err)
	}
	n := fs.Updates()
	if _, err := svc.LoginWithToken(ctx, token); err != nil {
		t.Fatalf("the link after the outage: %v", err)
	}
	if got := fs.Updates() - n; got != 1 {
		t.Fatalf("LoginWithToken ran %d transactions; want 1", got)
	}
	if _, err := svc.LoginWithToken(ctx, token); core.ErrorCode(err) == "" {
		t.Fatal("a spent link opened a second session")
	}

	// GP login links are /sso tokens too (GPLoginLink); a link the module
	// signs itself opens nothing and spends nothing.
	if err := svc.LoginWithGPLink(ctx); core.ErrorCode(err) != core.EUNAUTHORIZED {
		t.Fatalf("a self-signed GP link: %v", err)
	}
}
