package deploy_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/fcgiauth"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/testenv"
)

// fcgiNode runs Palisade's FastCGI authorizer for pal on addr until stop.
func fcgiNode(t *testing.T, pal *testenv.Stack, addr string) (string, func()) {
	return sideNode(t, addr, fcgiauth.New(pal.Protector, nil, slog.New(slog.NewTextHandler(io.Discard, nil))).Serve)
}

// sideNode serves a side listener (FastCGI, SPOE) on addr until stop,
// retrying the address a moment if a stopped one still holds it.
func sideNode(t *testing.T, addr string, serve func(context.Context, net.Listener) error) (string, func()) {
	t.Helper()
	var ln net.Listener
	var err error
	for i := 0; i < 50; i++ {
		if ln, err = net.Listen("tcp", addr); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = serve(ctx, ln); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// TestApacheFastCGI runs deploy/apache in a real Apache httpd 2.4 with its
// stock mod_authnz_fcgi: a fail-open site from the global include and a
// fail-closed one from the per-vhost file.
func TestApacheFastCGI(t *testing.T) {
	apache := testenv.NeedBinary(t, "apache2", "/usr/sbin/apache2")
	mods := "/usr/lib/apache2/modules"
	if _, err := os.Stat(filepath.Join(mods, "mod_authnz_fcgi.so")); err != nil {
		t.Fatalf("Apache is installed without mod_authnz_fcgi in %s", mods)
	}
	pal := testenv.New(t)
	pal.Website(t, "open.example.com", remoteVisitors(engine.Settings{Rules: []engine.Rule{
		{Name: "Moved", Action: "redirect", Location: "https://moved.example.test/", Conditions: []engine.Condition{{Field: "path", Op: "is", Value: "/old"}}}}}))
	pal.Website(t, "closed.example.com", remoteVisitors(engine.Settings{FailMode: "closed"}))
	pal.Website(t, "guarded.example.com", remoteVisitors(guardedSettings()))
	fcgiAddr, stopFCGI := fcgiNode(t, pal, "127.0.0.1:0")

	dir := t.TempDir()
	// Apache's children run as www-data when the test is root: they must
	// read the site and the Lua hook.
	for d := dir; d != "/" && d != os.TempDir(); d = filepath.Dir(d) {
		_ = os.Chmod(d, 0o755)
	}
	conf := filepath.Join(dir, "palisade")
	docroot := filepath.Join(dir, "htdocs")
	for _, d := range []string{conf, docroot, filepath.Join(dir, "logs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(docroot, "index.html"), []byte("hello from apache\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"palisade.conf", "palisade-vhost-fail-closed.conf", "palisade-unreachable.lua"} {
		b, err := os.ReadFile(filepath.Join("apache", f))
		if err != nil {
			t.Fatal(err)
		}
		s := strings.ReplaceAll(string(b), "/etc/apache2/palisade/", conf+"/")
		s = strings.ReplaceAll(s, "fcgi://127.0.0.1:9081/", "fcgi://"+fcgiAddr+"/")
		s = strings.ReplaceAll(s, "http://127.0.0.1:8080/", "http://"+pal.Addr+"/")
		if err := os.WriteFile(filepath.Join(conf, f), []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	port := freePort(t)
	var load strings.Builder
	for _, m := range []string{"mpm_event", "authz_core", "authn_core", "authz_user", "authnz_fcgi", "mime", "dir", "env", "setenvif",
		"headers", "proxy", "proxy_http", "rewrite", "lua"} {
		fmt.Fprintf(&load, "LoadModule %s_module %s/mod_%s.so\n", m, mods, m)
	}
	user := ""
	if os.Geteuid() == 0 {
		user = "User www-data\nGroup www-data\n"
	}
	vhost := func(name, extra string) string {
		return fmt.Sprintf("<VirtualHost 127.0.0.1:%d>\n    ServerName %s\n    DocumentRoot %s\n    %s\n</VirtualHost>\n", port, name, docroot, extra)
	}
	cfg := fmt.Sprintf(`ServerRoot %[1]s
PidFile %[1]s/httpd.pid
Listen 127.0.0.1:%[2]d
ServerName localhost
%[3]s%[4]sErrorLog %[1]s/logs/error.log
LogLevel warn
TypesConfig /etc/mime.types
DocumentRoot %[5]s
DirectoryIndex index.html
Include %[6]s/palisade.conf
%[7]s%[8]s`, dir, port, load.String(), user, docroot, conf,
		vhost("open.example.com", ""), vhost("closed.example.com", "Include "+conf+"/palisade-vhost-fail-closed.conf")+vhost("guarded.example.com", ""))
	cfgPath := filepath.Join(dir, "httpd.conf")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command(apache, "-f", cfgPath, "-t").CombinedOutput(); err != nil {
		t.Fatalf("apache2 -t: %v\n%s", err, out)
	}
	cmd := exec.Command(apache, "-f", cfgPath, "-DFOREGROUND")
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			_ = cmd.Process.Kill()
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "logs", "error.log"))
			t.Logf("Apache's error log:\n%s", b)
		}
	})

	get := webGetter(port)
	get.waitUp(t, "open.example.com", "Apache")

	get.checkVerdicts(t, "Apache", "/", func(string) string { return "hello from apache\n" }, "open.example.com", "closed.example.com")
	checkForgedHeaders(t, "Apache", webHeaderGetter(port), "guarded.example.com")
	checkNoSpellingServed(t, "Apache", port, "guarded.example.com")

	// Palisade down: the fail-open site serves, the fail-closed one refuses.
	stopFCGI()
	pal.Stop()
	if code, body, _ := get("open.example.com", "/", "sqlmap/1.7.2#stable"); code != 200 || body != "hello from apache\n" {
		t.Fatalf("fail-open while Palisade is down: %d %q", code, body)
	}
	if code, body, _ := get("closed.example.com", "/", chromeUA); code < 500 || strings.Contains(body, "hello") {
		t.Fatalf("fail-closed while Palisade is down: %d %q", code, body)
	}
	pal.Start(t)
	fcgiNode(t, pal, fcgiAddr)
	get.waitCode(t, "open.example.com", "/", "sqlmap/1.7.2#stable", 403, "protection after Palisade restarted")
}
