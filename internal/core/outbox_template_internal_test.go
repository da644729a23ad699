package core

import (
	"errors"
	"runtime"
	"strings"
	"testing"
	"text/template"
	"time"
)

// Even a template that escaped the shape check stops at the output limit,
// at once and without holding its output.
func TestLimitedOutputStopsTemplateBomb(t *testing.T) {
	src := `{{define "a"}}` + strings.Repeat("A", 64) + `{{end}}`
	prev := "a"
	for _, n := range []string{"b", "c", "d", "e", "f", "g"} {
		src += `{{define "` + n + `"}}` + strings.Repeat(`{{template "`+prev+`"}}`, 10) + `{{end}}`
		prev = n
	}
	src += `{{template "g"}}` // 64 MB if run to the end
	tm := template.Must(template.New("body").Parse(src))
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	out, err := executeLimited(tm, EmailData{}, MaxBodyOutput)
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errOutputTooLong) || out != "" {
		t.Fatalf("bomb rendered: %d bytes, %v", len(out), err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; d > time.Second || grew > 8<<20 {
		t.Fatalf("stopping the bomb took %v and %d bytes", d, grew)
	}
	if _, err := parseEmailTemplate("body", src); err == nil {
		t.Fatal("the bomb passes the shape check")
	}
}
