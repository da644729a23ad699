package main

import (
	"bufio"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv/testclock"
)

// TestMain lets a test run this binary as `palisade` in a child process
// (PALISADE_TEST_MAIN_ARGS holds the arguments as JSON), so that a test can
// kill a real server process. The child runs on the test clock, which
// startProcess starts where the parent's is.
func TestMain(m *testing.M) {
	if args := os.Getenv("PALISADE_TEST_MAIN_ARGS"); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		clock, err := testclock.Load()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(2)
		}
		os.Args = append([]string{"palisade"}, a...)
		os.Exit(mainAt(clock.Now))
	}
	os.Exit(m.Run())
}

// startProcess runs `palisade serve` in a child process and returns its URL.
func startProcess(t *testing.T, args ...string) (string, *exec.Cmd) {
	t.Helper()
	a, _ := json.Marshal(append([]string{"serve", "--addr", "127.0.0.1:0", "--log-level", "error", "--bot-refresh", "0"}, args...))
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "PALISADE_TEST_MAIN_ARGS="+string(a))
	if env := testclock.New(t).Environ(); env != "" {
		cmd.Env = append(cmd.Env, env)
	}
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		re := regexp.MustCompile(`listening on (http://\S+)`)
		for sc.Scan() {
			if m := re.FindStringSubmatch(sc.Text()); m != nil {
				urlc <- m[1]
			}
		}
	}()
	select {
	case u := <-urlc:
		return u, cmd
	case <-time.After(30 * time.Second):
		t.Fatal("the child palisade never said it was listening")
	}
	return "", nil
}

// TestKilledDuringProvisioning: a node is killed with SIGKILL while 1,000
// provisioning calls are in flight. Afterwards the ledger sums to the
// balance, every website was charged and every charge has its website,
// and every call that was answered 201 is in the store.
func TestKilledDuringProvisioning(t *testing.T) {
	cases := map[string]func(t *testing.T) (args []string, open func() (*sql.DB, error)){
		"sqlite": func(t *testing.T) ([]string, func() (*sql.DB, error)) {
			dir := t.TempDir()
			return []string{"--data-dir", dir}, func() (*sql.DB, error) { return sql.Open("sqlite", filepath.Join(dir, "palisade.db")) }
		},
		"postgres": func(t *testing.T) ([]string, func() (*sql.DB, error)) {
			f := newFleet(t, storetest.PostgresSchemaURL(t))
			u := f.store[1]
			return append([]string{"--data-dir", t.TempDir()}, f.store...), func() (*sql.DB, error) { return sql.Open("pgx", u) }
		},
	}
	for name, setup := range cases {
		t.Run(name, func(t *testing.T) {
			args, open := setup(t)
			created := cli(t, noEnv, append([]string{"partner", "create", "--name", "Crash Hosting"}, args...)...)
			key := regexp.MustCompile(`(?m)^api_key: (pk_\S+)$`).FindStringSubmatch(created)[1]
			cli(t, noEnv, append([]string{"partner", "topup", "--name", "Crash Hosting", "--amount", "10000.00"}, args...)...)
			base, cmd := startProcess(t, args...)

			const calls = 1000
			client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: calls, MaxConnsPerHost: calls}}
			var acked sync.Map
			var nAcked atomic.Int64
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := 0; i < calls; i++ {
				wg.Add(1)
				go func(i int) {
					defer wg.Done()
					<-start
					domain := fmt.Sprintf("site%04d.crash.example", i)
					req, _ := http.NewRequest("POST", base+"/website", strings.NewReader("domain="+domain+"&plan=10k"))
					req.Header.Set("Authorization", "Bearer "+key)
					req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
					resp, err := client.Do(req)
					if err != nil {
						return // killed mid-call: not acknowledged
					}
					resp.Body.Close()
					if resp.StatusCode == 201 {
						acked.Store(domain, true)
						nAcked.Add(1)
					}
				}(i)
			}
			close(start)
			// Kill once a good share is through, so calls are in flight.
			deadline := time.Now().Add(60 * time.Second)
			for nAcked.Load() < 150 && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
			wg.Wait()
			t.Logf("%d of %d calls acknowledged before SIGKILL", nAcked.Load(), calls)

			db, err := open()
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var balance, ledgerSum, charges, chargedSites int64
			must := func(err error) {
				t.Helper()
				if err != nil {
					t.Fatal(err)
				}
			}
			must(db.QueryRow("SELECT balance_cents FROM partners WHERE name = 'Crash Hosting'").Scan(&balance))
			must(db.QueryRow("SELECT COALESCE(SUM(amount_cents), 0) FROM ledger l JOIN partners p ON p.id = l.partner_id WHERE p.name = 'Crash Hosting'").Scan(&ledgerSum))
			must(db.QueryRow("SELECT count(*) FROM ledger WHERE kind = 'charge'").Scan(&charges))
			must(db.QueryRow("SELECT count(*) FROM websites w WHERE EXISTS (SELECT 1 FROM ledger l WHERE l.website_id = w.id AND l.kind = 'charge')").Scan(&chargedSites))
			rows, err := db.Query("SELECT domain FROM websites")
			must(err)
			stored := map[string]bool{}
			for rows.Next() {
				var d string
				must(rows.Scan(&d))
				stored[d] = true
			}
			rows.Close()
			if balance != ledgerSum {
				t.Errorf("balance %d != ledger sum %d", balance, ledgerSum)
			}
			if int64(len(stored)) != charges || chargedSites != charges {
				t.Errorf("%d websites, %d charges, %d websites with a charge: a half-created website", len(stored), charges, chargedSites)
			}
			if balance != 1_000_000-charges*500 {
				t.Errorf("balance %d after %d charges of 5.00", balance, charges)
			}
			missing := 0
			acked.Range(func(k, _ any) bool {
				if !stored[k.(string)] {
					missing++
				}
				return true
			})
			if missing > 0 {
				t.Errorf("%d acknowledged websites are not in the store", missing)
			}
			if int64(len(stored)) < nAcked.Load() || len(stored) == calls {
				t.Errorf("%d stored for %d acknowledged: the kill did not land mid-run", len(stored), nAcked.Load())
			}
			// The store opens again and serves.
			base2, _ := startProcess(t, args...)
			if r := request(t, "GET", base2+"/v1/credit", key, ""); r.status != 200 {
				t.Fatalf("after restart: %d %s", r.status, r.raw)
			}
		})
	}
}
