package patchcheck

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestUpdaterRunsAfterBefore(t *testing.T) {
	dir := t.TempDir()
	var order []string
	u := &Updater{
		Command: []string{"/bin/sh", "-c", `echo updated > marker; echo done; echo warn >&2`},
		Dir:     dir,
		Before: func(ctx context.Context) error {
			order = append(order, "backup")
			if _, err := os.Stat(filepath.Join(dir, "marker")); err == nil {
				t.Error("the command ran before the backup")
			}
			return nil
		},
	}
	res, err := u.Run(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "marker"))
	if err != nil || string(b) != "updated\n" {
		t.Errorf("marker: %q, %v", b, err)
	}
	if res.ExitCode != 0 || !bytes.Contains(res.Output, []byte("done")) || !bytes.Contains(res.Output, []byte("warn")) || res.Truncated {
		t.Errorf("result: %+v (output %q)", res, res.Output)
	}
	if !reflect.DeepEqual(order, []string{"backup"}) {
		t.Errorf("before ran %q", order)
	}
}

func TestUpdaterRefusesWhenBeforeFails(t *testing.T) {
	dir := t.TempDir()
	backupErr := errors.New("backup: disk full")
	u := &Updater{
		Command: []string{"/bin/sh", "-c", "echo updated > marker"},
		Dir:     dir,
		Before:  func(ctx context.Context) error { return backupErr },
	}
	_, err := u.Run(context.Background())
	if !errors.Is(err, ErrBeforeFailed) || !errors.Is(err, backupErr) {
		t.Errorf("err = %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, "marker")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the command ran after a failed backup: %v", err)
	}
}

func TestUpdaterFailuresAndBounds(t *testing.T) {
	ctx := context.Background()
	res, err := (&Updater{Command: []string{"/bin/sh", "-c", "echo Error: no such plugin >&2; exit 3"}}).Run(ctx)
	if err == nil || res.ExitCode != 3 || !strings.Contains(string(res.Output), "no such plugin") {
		t.Errorf("exit 3: %+v, %v", res, err)
	}
	// Output past the bound keeps its end.
	res, err = (&Updater{Command: []string{"/bin/sh", "-c", "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done; echo LAST"}, MaxOutput: 100}).Run(ctx)
	if err != nil || len(res.Output) != 100 || !res.Truncated || !strings.HasSuffix(string(res.Output), "LAST\n") {
		t.Errorf("bounded output: %d bytes, truncated %v, %q, %v", len(res.Output), res.Truncated, res.Output, err)
	}
	start := time.Now()
	res, err = (&Updater{Command: []string{"/bin/sh", "-c", "sleep 30"}, Timeout: 200 * time.Millisecond}).Run(ctx)
	if err == nil || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("timeout: %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the timeout took %v", d)
	}
	if _, err := (&Updater{}).Run(ctx); err == nil {
		t.Error("an updater without a command ran")
	}
	if _, err := (&Updater{Command: []string{filepath.Join(t.TempDir(), "no-such-program")}}).Run(ctx); err == nil {
		t.Error("a missing program gave no error")
	}
}

func TestWPCLICommand(t *testing.T) {
	for _, tc := range []struct {
		c    Component
		want string
	}{
		{Component{Type: TypeCore, Slug: "wordpress"}, "wp core update --path=/srv/site"},
		{Component{Type: TypePlugin, Slug: "example-forms"}, "wp plugin update example-forms --path=/srv/site"},
		{Component{Type: TypeTheme, Slug: "example-theme"}, "wp theme update example-theme --path=/srv/site"},
	} {
		got, err := WPCLICommand("", "/srv/site", tc.c)
		if err != nil || strings.Join(got, " ") != tc.want {
			t.Errorf("%+v: %q, %v", tc.c, got, err)
		}
	}
	for _, c := range []Component{
		{Type: TypePlugin, Slug: "--exec=rm"},
		{Type: TypePlugin, Slug: "a b"},
		{Type: TypePlugin, Slug: "../x"},
		{Type: TypePlugin, Slug: ""},
		{Type: TypeMUPlugin, Slug: "x"},
		{Type: TypeModule, Slug: "x"},
	} {
		if got, err := WPCLICommand("wp", "/srv/site", c); err == nil {
			t.Errorf("%+v accepted: %q", c, got)
		}
	}
}

func TestTailBuffer(t *testing.T) {
	b := &tailBuffer{max: 5}
	b.Write([]byte("abc"))
	if got, tr := b.bytes(); string(got) != "abc" || tr {
		t.Errorf("%q %v", got, tr)
	}
	b.Write([]byte("defg"))
	if got, tr := b.bytes(); string(got) != "cdefg" || !tr {
		t.Errorf("%q %v", got, tr)
	}
	b.Write([]byte("0123456789"))
	if got, tr := b.bytes(); string(got) != "56789" || !tr {
		t.Errorf("%q %v", got, tr)
	}
	c := &tailBuffer{max: 3}
	c.Write([]byte("xyz"))
	if got, tr := c.bytes(); string(got) != "xyz" || tr {
		t.Errorf("exactly the bound: %q %v", got, tr)
	}
}
