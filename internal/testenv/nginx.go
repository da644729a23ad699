package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

// RunNginx runs the nginx binary in the foreground with dir as its prefix
// (pid, logs and temporary files) and http as the contents of its http {}
// block, after `nginx -t` has accepted the configuration. nginx stops when
// the test ends; its error log is printed if the test failed.
func RunNginx(t testing.TB, nginx, dir, http string) {
	t.Helper()
	main := fmt.Sprintf(`worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log info;
events { worker_connections 256; }
http {
    access_log off;
    client_body_temp_path %[1]s/body;
    proxy_temp_path %[1]s/proxy;
    fastcgi_temp_path %[1]s/fastcgi;
    uwsgi_temp_path %[1]s/uwsgi;
    scgi_temp_path %[1]s/scgi;
%[2]s
}
`, dir, http)
	if os.Geteuid() == 0 {
		main = "user root;\n" + main
	}
	cfg := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(cfg, []byte(main), 0o644); err != nil {
		t.Fatal(err)
	}
	RunNginxConf(t, nginx, dir, "nginx.conf", "")
}

// RunNginxConf runs nginx in the foreground on a configuration file as it
// stands (conf, relative to the prefix dir), after `nginx -t` has accepted
// it; global are extra -g directives (such as the pid and error_log paths a
// shipped file leaves to the system). nginx stops when the test ends; its
// error log (dir/error.log) is printed if the test failed.
func RunNginxConf(t testing.TB, nginx, dir, conf, global string) {
	t.Helper()
	test := []string{"-t", "-p", dir, "-c", conf}
	if global != "" {
		test = append(test, "-g", global)
	}
	if out, err := exec.Command(nginx, test...).CombinedOutput(); err != nil {
		t.Fatalf("nginx -t on %s: %v\n%s", conf, err, out)
	}
	cmd := exec.Command(nginx, "-p", dir, "-c", conf, "-g", "daemon off; "+global)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Logf("nginx error.log:\n%s", b)
		}
	})
}
