package pagetest_test

import (
	"bytes"
	"flag"
	"image"
	"image/png"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/testenv"
)

var screenshotDir = flag.String("screenshots", "", "write a PNG screenshot of every page into this folder (scripts/screenshots.sh)")

// Shots beyond every page in English at 1280 px: these at a phone's width,
// and the statistics in German.
var (
	phoneShots  = []string{"statistics", "events", "rules", "console-overview"}
	germanShots = []string{"statistics"}
)

// TestScreenshots writes the screenshots of docs/screenshots from the same
// fixture as TestPagesInEveryLanguage. It runs only when asked with
// -screenshots=DIR.
func TestScreenshots(t *testing.T) {
	if *screenshotDir == "" {
		t.Skip("writes screenshots only when asked: -screenshots=DIR (scripts/screenshots.sh)")
	}
	chromium := testenv.NeedBinary(t, "chromium", "/usr/bin/chromium")
	start := time.Now()
	f := newFixture(t)
	b := newBrowser(t, chromium, f)
	if err := os.MkdirAll(*screenshotDir, 0o755); err != nil {
		t.Fatal(err)
	}
	byName := map[string]pageSpec{}
	var total int
	shoot := func(p pageSpec, lang string, width int64, file string) {
		t.Helper()
		img, err := b.tabs[0].screenshot(p, lang, width)
		if err != nil {
			t.Errorf("%s: %v", file, err)
			return
		}
		img = recompress(img)
		if err := os.WriteFile(filepath.Join(*screenshotDir, file), img, 0o644); err != nil {
			t.Fatal(err)
		}
		total += len(img)
		t.Logf("%-40s %4d KiB", file, len(img)>>10)
	}
	for _, p := range pages(f) {
		byName[p.Name] = p
		shoot(p, "en", 1280, p.Name+".png")
	}
	for _, n := range phoneShots {
		shoot(byName[n], "en", 390, n+"-390.png")
	}
	for _, n := range germanShots {
		shoot(byName[n], "de", 1280, n+"-de.png")
	}
	t.Logf("%s: %d KiB in %s", *screenshotDir, total>>10, time.Since(start).Round(time.Millisecond))
}

// recompress re-encodes a PNG at the best compression Go has (Chromium's
// favours speed); it keeps the original when that is not smaller.
func recompress(b []byte) []byte {
	img, _, err := image.Decode(bytes.NewReader(b))
	if err != nil {
		return b
	}
	var out bytes.Buffer
	enc := png.Encoder{CompressionLevel: png.BestCompression}
	if err := enc.Encode(&out, img); err != nil || out.Len() >= len(b) {
		return b
	}
	return out.Bytes()
}
