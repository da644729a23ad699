package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/store/storetest"
	"github.com/palisadehq/palisade/internal/testenv"
)

// readEnvFile reads KEY=VALUE lines (# comments) into m.
func readEnvFile(t *testing.T, path string, m map[string]string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Fatalf("%s: %q is not KEY=VALUE", path, line)
		}
		m[k] = v
	}
}

// TestClusterExample runs deploy/cluster as shipped: three nodes from its
// environment files (with this machine's database, Redis and addresses
// put in) behind nginx with its load-balancer configuration. Provisioning
// and decisions go through the balancer, and keep working when a node
// stops.
func TestClusterExample(t *testing.T) {
	nginx := testenv.NeedBinary(t, "nginx", "/usr/sbin/nginx")
	dbURL, redisURL := storetest.PostgresSchemaURL(t), storetest.RedisURL(t)
	dir := filepath.Join("..", "..", "deploy", "cluster")
	mk := make([]byte, 32)
	for i := range mk {
		mk[i] = byte(i)
	}
	overrides := map[string]string{
		"PALISADE_DATABASE_URL": dbURL, "PALISADE_REDIS_URL": redisURL, "PALISADE_MASTER_KEY": fmt.Sprintf("%x", mk),
		"PALISADE_USERAPI_KEY": filepath.Join(t.TempDir(), "userapi-key.pem"), "PALISADE_TRUSTED_PROXY": "127.0.0.1",
		"PALISADE_WEB_SERVER": "127.0.0.0/8", "PALISADE_METRICS_ALLOW": "127.0.0.1", "PALISADE_LOG_LEVEL": "warn",
		"PALISADE_REUSE_ADDR": "127.0.0.1:0",
	}
	var nodes []fleetNode
	for _, n := range []string{"a", "b", "c"} {
		env := map[string]string{}
		readEnvFile(t, filepath.Join(dir, "palisade.env"), env)
		readEnvFile(t, filepath.Join(dir, "node-"+n+".env"), env)
		for k, v := range overrides {
			if _, ok := env[k]; !ok && k != "PALISADE_LOG_LEVEL" {
				t.Fatalf("the example no longer sets %s", k)
			}
			env[k] = v
		}
		env["PALISADE_DATA_DIR"] = t.TempDir()
		url, out, stop := startServe(t, func(k string) string { return env[k] })
		if !strings.Contains(out.String(), "role: all") {
			t.Fatalf("node %s: %s", n, out)
		}
		nodes = append(nodes, fleetNode{url: url, out: out, stop: stop})
	}

	// nginx with the shipped balancer config, pointed at the three nodes.
	b, err := os.ReadFile(filepath.Join(dir, "nginx-lb.conf"))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	lbAddr := ln.Addr().String()
	ln.Close()
	conf := string(b)
	for i, ip := range []string{"10.0.0.11:8080", "10.0.0.12:8080", "10.0.0.13:8080"} {
		conf = strings.Replace(conf, ip, strings.TrimPrefix(nodes[i].url, "http://"), 1)
	}
	conf = strings.Replace(conf, "listen 443 ssl;", "listen "+lbAddr+";", 1)
	conf = regexp.MustCompile(`(?m)^\s*(ssl_certificate\S*|http2) .*\n`).ReplaceAllString(conf, "")
	testenv.RunNginx(t, nginx, t.TempDir(), conf)
	lb := "http://" + lbAddr
	waitFor(t, "nginx to listen", 10*time.Second, func() bool {
		c, err := net.Dial("tcp", lbAddr)
		if err == nil {
			c.Close()
		}
		return err == nil
	})

	storeArgs := []string{"--database-url", dbURL, "--master-key", overrides["PALISADE_MASTER_KEY"]}
	key, sk := provisionSite(t, storeArgs, lb, "cluster.example.com")
	putSettings(t, lb, key, "cluster.example.com", `{"deny":["203.0.113.99"]}`)
	for _, n := range nodes {
		waitDeny(t, n.url, sk, "203.0.113.99", time.Now())
	}
	// One node stops: the balancer carries on with the other two.
	if err := nodes[0].stop(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 10; i++ {
		if r := request(t, "GET", lb+"/website/cluster.example.com", key, ""); r.status != 200 {
			t.Fatalf("through the balancer with a node down: %d %s", r.status, r.raw)
		}
		if _, act := decide(t, lb, sk, "203.0.113.99"); act != "deny" {
			t.Fatalf("decision through the balancer with a node down: %q", act)
		}
	}
	if r := request(t, "POST", lb+"/website", key, "domain=second.cluster.example.com&plan=10k"); r.status != 201 {
		t.Fatalf("register with a node down: %d %s", r.status, r.raw)
	}
}

// TestClusterExampleNodes: the fleet's PALISADE_NODE names the nodes' own
// addresses (the ones nginx-lb.conf balances over), never the public
// balancer: web servers ask the nodes directly, and a decision asked
// through the balancer would judge every visitor as the balancer's address.
func TestClusterExampleNodes(t *testing.T) {
	dir := filepath.Join("..", "..", "deploy", "cluster")
	env := map[string]string{}
	readEnvFile(t, filepath.Join(dir, "palisade.env"), env)
	lb, err := os.ReadFile(filepath.Join(dir, "nginx-lb.conf"))
	if err != nil {
		t.Fatal(err)
	}
	var upstream []string
	for _, m := range regexp.MustCompile(`(?m)^\s*server\s+([0-9][^\s;]*)`).FindAllStringSubmatch(string(lb), -1) {
		upstream = append(upstream, m[1])
	}
	var nodes stringList
	nodes.Set(env["PALISADE_NODE"])
	if len(nodes) == 0 {
		t.Fatal("palisade.env sets no PALISADE_NODE")
	}
	for _, n := range nodes {
		if n == env["PALISADE_PUBLIC_URL"] {
			t.Errorf("PALISADE_NODE %q is the public balancer", n)
		}
		host := strings.TrimPrefix(strings.TrimPrefix(n, "http://"), "https://")
		found := false
		for _, u := range upstream {
			found = found || u == host
		}
		if !found {
			t.Errorf("PALISADE_NODE %q is not one of the nodes nginx-lb.conf balances over %v", n, upstream)
		}
	}
}
