package web_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/core"
	"github.com/palisadehq/palisade/internal/i18n"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv"
)

// operatorBrowser signs the operator in on e.
func operatorBrowser(t *testing.T, e *testenv.Stack) *browser {
	t.Helper()
	if _, err := e.Service.CreateConsoleUser(context.Background(), core.Operator(), 0, "root@operator.example", "0perator-Secret"); err != nil {
		t.Fatal(err)
	}
	op := newBrowser(t, e.URL)
	login(t, op, "root@operator.example", "0perator-Secret", "")
	return op
}

// TestOperatorOverview: the operator's page shows the fleet above partners
// and plans: the heartbeat this node wrote (its name, config version,
// running), a node silent for more than two minutes as gone, the store's
// answer, Redis not used, websites by status; a partner's staff is
// refused, and the operator is refused the partner's overview.
func TestOperatorOverview(t *testing.T) {
	e, a, _ := overviewFixture(t)
	ctx := context.Background()
	old := &protect.Heartbeat{Service: e.Service, Name: "retired-node 10.9.9.9:8080", Role: "edge", Version: "v0.9", Started: e.Service.Now()}
	if err := old.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	e.Clock.Advance(3 * time.Minute)
	me := &protect.Heartbeat{Service: e.Service, Fleet: e.Protector.Fleet(), Name: protect.NodeName(e.Addr), Role: "all", Version: "v1.0-test",
		Dropped: e.Recorder.Dropped, Started: e.Service.Now().Add(-time.Hour)}
	if err := me.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	// A node that reports knowing of a newer config than it decides by.
	if err := e.Service.RecordHeartbeat(ctx, core.Node{Name: "lagging-node 10.1.1.1:8080", Role: "edge", Lag: 3 * time.Second, StartedAt: e.Service.Now()}); err != nil {
		t.Fatal(err)
	}
	op := operatorBrowser(t, e)
	code, page, _ := op.get("/operator?lang=en")
	if code != 200 {
		t.Fatalf("operator: %d %s", code, page)
	}
	nodes := section(page, "nodes")
	mine, retired, lagging := rowOf(nodes, me.Name), rowOf(nodes, "retired-node"), rowOf(nodes, "lagging-node")
	if !strings.Contains(mine, ">running<") || !strings.Contains(mine, "v1.0-test") || !strings.Contains(mine, "all planes") {
		t.Errorf("this node's row: %s", mine)
	}
	if !strings.Contains(retired, ">gone<") || !strings.Contains(retired, "3 minutes ago") {
		t.Errorf("the retired node's row: %s", retired)
	}
	if !strings.Contains(lagging, ">behind<") || !strings.Contains(lagging, "3 seconds") {
		t.Errorf("the lagging node's row: %s", lagging)
	}
	if strings.Index(nodes, "retired-node") < strings.Index(nodes, me.Name) {
		t.Errorf("a gone node listed before a running one: %s", nodes)
	}
	fleet := section(page, "fleet")
	for _, want := range []string{"answers in", "not used", "Partners", ">2<" /* partners */, "setting up", "online"} {
		if !strings.Contains(fleet, want) {
			t.Errorf("fleet lacks %q: %s", want, fleet)
		}
	}
	if i, j := strings.Index(page, `id="fleet"`), strings.Index(page, `id="partners"`); i < 0 || j < 0 || i > j {
		t.Errorf("the fleet is not above the partners")
	}
	// A partner's staff may not see it; the operator may not see a
	// partner's overview.
	if code, page, _ := a.get("/operator"); code == 200 || strings.Contains(page, "retired-node") {
		t.Fatalf("a partner opened the operator's page: %d", code)
	}
	if code, page, _ := op.get("/console/overview"); code == 200 || strings.Contains(page, "busy.alpha.example") {
		t.Fatalf("the operator opened a partner's overview: %d", code)
	}
	if _, err := e.Service.OperatorOverview(ctx, e.Caller); core.ErrorCode(err) != core.EFORBIDDEN {
		t.Fatalf("a partner's caller: %v", err)
	}
	// Forgotten after a week of silence.
	e.Clock.Advance(core.NodeForgetAfter)
	if err := me.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	if _, page, _ = op.get("/operator?lang=en"); strings.Contains(page, "retired-node") {
		t.Fatalf("a node silent for a week is still listed")
	}
}

// TestOperatorLanguages: the operator's page in German, French, Spanish
// and Dutch holds no English catalogue string and no product name.
func TestOperatorLanguages(t *testing.T) {
	e := testenv.New(t)
	hb := &protect.Heartbeat{Service: e.Service, Fleet: e.Protector.Fleet(), Name: protect.NodeName(e.Addr), Role: "all", Version: "test", Started: e.Service.Now()}
	if err := hb.Beat(context.Background()); err != nil {
		t.Fatal(err)
	}
	op := operatorBrowser(t, e)
	for _, l := range []string{"de", "fr", "es", "nl"} {
		code, page, _ := op.get("/operator?lang=" + l)
		if code != 200 || !strings.Contains(page, `<html lang="`+l+`"`) {
			t.Fatalf("%s: %d %.300s", l, code, page)
		}
		text := pageText(page)
		if left := i18n.Untranslated(l, text); len(left) > 0 {
			t.Errorf("%s: English left on the operator's page: %q", l, left)
		}
		if strings.Contains(text, "Palisade") {
			t.Errorf("%s: the product's name on the operator's page: %s", l, text)
		}
	}
}

// rowOf is the table row of html that holds name ("" if none).
func rowOf(html, name string) string {
	for _, row := range strings.Split(html, "<tr") {
		if strings.Contains(row, name) {
			return row
		}
	}
	return ""
}

// TestOperatorRedis: Redis's health is what the nodes that use it report:
// a node pinging the test Redis shows it answering; when another node's
// ping fails, the page says Redis does not answer, and which node found so.
func TestOperatorRedis(t *testing.T) {
	rdb := storetest.RedisClient(t)
	e := testenv.New(t)
	ctx := context.Background()
	ok := &protect.Heartbeat{Service: e.Service, Fleet: e.Protector.Fleet(), Name: "redis-user 10.0.0.2:8080", Role: "edge", Started: e.Service.Now(),
		Redis: func(ctx context.Context) error { return rdb.Ping(ctx).Err() }}
	if err := ok.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	op := operatorBrowser(t, e)
	_, page, _ := op.get("/operator?lang=en")
	if h := rowOf(section(page, "fleet"), "<th scope=\"row\">Redis"); !strings.Contains(h, ">OK<") || !strings.Contains(h, "answers in") {
		t.Fatalf("Redis answering: %s", h)
	}
	bad := &protect.Heartbeat{Service: e.Service, Name: "cut-off 10.0.0.3:8080", Role: "edge", Started: e.Service.Now(),
		Redis: func(context.Context) error { return errors.New("dial tcp 10.0.0.9:6379: connect: connection refused") }}
	if err := bad.Beat(ctx); err != nil {
		t.Fatal(err)
	}
	_, page, _ = op.get("/operator?lang=en")
	if h := rowOf(section(page, "fleet"), "<th scope=\"row\">Redis"); !strings.Contains(h, ">down<") || !strings.Contains(h, "cut-off 10.0.0.3:8080: dial tcp") {
		t.Fatalf("Redis failing on one node: %s", h)
	}
}
