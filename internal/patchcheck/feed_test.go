package patchcheck

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const fixtureFeed = "testdata/feed"

// fixtureRecords reads every record of the fixture feed as raw JSON, in
// file order.
func fixtureRecords(t *testing.T) []json.RawMessage {
	t.Helper()
	ents, err := os.ReadDir(fixtureFeed)
	if err != nil {
		t.Fatal(err)
	}
	var out []json.RawMessage
	for _, e := range ents {
		if !strings.HasSuffix(e.Name(), ".json") {
			continue
		}
		b, err := os.ReadFile(filepath.Join(fixtureFeed, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		b = bytes.TrimSpace(b)
		if b[0] == '[' {
			var list []json.RawMessage
			if err := json.Unmarshal(b, &list); err != nil {
				t.Fatal(err)
			}
			out = append(out, list...)
		} else {
			out = append(out, b)
		}
	}
	return out
}

func zipOf(t *testing.T, records []json.RawMessage, extra map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for i, r := range records {
		var id struct{ ID string }
		if err := json.Unmarshal(r, &id); err != nil {
			t.Fatal(err)
		}
		name := id.ID + ".json"
		if i%2 == 1 {
			name = "nested/" + name
		}
		w, err := zw.Create(name)
		if err != nil {
			t.Fatal(err)
		}
		w.Write(r)
	}
	for name, b := range extra {
		w, _ := zw.Create(name)
		w.Write(b)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wantFixtureFeed(t *testing.T, f *Feed) {
	t.Helper()
	want := FeedStats{Records: 10, Withdrawn: 1, Unrelated: 2}
	if got := f.Stats(); got != want {
		t.Errorf("stats %+v, want %+v", got, want)
	}
	var ids []string
	for _, r := range f.Records() {
		ids = append(ids, r.ID)
	}
	got := strings.Join(ids, " ")
	wantIDs := "PAL-TEST-2026-0001 PAL-TEST-2026-0002 PAL-TEST-2026-0003 PAL-TEST-2026-0004 PAL-TEST-2026-0006 PAL-TEST-2026-0007 PAL-TEST-2026-0008 PAL-TEST-2026-0009 PAL-TEST-2026-0010 PAL-TEST-2026-0012"
	if got != wantIDs {
		t.Errorf("records\n got %s\nwant %s", got, wantIDs)
	}
}

func TestReadDirFixture(t *testing.T) {
	f, err := ReadDir(fixtureFeed, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantFixtureFeed(t, f)
}

func TestReadZipAndJSONGiveTheSameFeed(t *testing.T) {
	recs := fixtureRecords(t)
	z := zipOf(t, recs, map[string][]byte{"README.txt": []byte("not a record"), "broken.json": []byte("{not json")})
	fz, err := ReadZip(bytes.NewReader(z), int64(len(z)), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantFixtureFeed(t, withoutInvalid(t, fz, 1))

	arr, _ := json.Marshal(recs)
	fa, err := ReadJSON(bytes.NewReader(arr), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantFixtureFeed(t, fa)

	// Records one per line (JSON lines), and through ReadBytes' sniffing.
	var lines bytes.Buffer
	for _, r := range recs {
		var c bytes.Buffer
		json.Compact(&c, r)
		lines.Write(c.Bytes())
		lines.WriteByte('\n')
	}
	fl, err := ReadBytes(lines.Bytes(), LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantFixtureFeed(t, fl)
	fzb, err := ReadBytes(z, LoadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wantFixtureFeed(t, withoutInvalid(t, fzb, 1))

	// Load on paths: a directory, a zip file, a JSON file.
	dir := t.TempDir()
	zpath, jpath := filepath.Join(dir, "all.zip"), filepath.Join(dir, "all.json")
	os.WriteFile(zpath, z, 0o600)
	os.WriteFile(jpath, arr, 0o600)
	for _, src := range []string{fixtureFeed, zpath, jpath} {
		f, err := Load(context.Background(), src, LoadOptions{})
		if err != nil {
			t.Fatalf("Load(%s): %v", src, err)
		}
		if src == zpath {
			f = withoutInvalid(t, f, 1)
		}
		wantFixtureFeed(t, f)
	}
}

// withoutInvalid checks and clears the Invalid count so the rest of the
// stats compare with the fixture's.
func withoutInvalid(t *testing.T, f *Feed, n int) *Feed {
	t.Helper()
	if f.stats.Invalid != n {
		t.Errorf("invalid records %d, want %d", f.stats.Invalid, n)
	}
	g := *f
	g.stats.Invalid = 0
	return &g
}

func TestFeedBounds(t *testing.T) {
	recs := fixtureRecords(t)
	arr, _ := json.Marshal(recs)
	if _, err := ReadJSON(bytes.NewReader(arr), LoadOptions{MaxRecords: 5}); !errors.Is(err, ErrFeedTooLarge) {
		t.Errorf("MaxRecords: %v", err)
	}
	if _, err := ReadJSON(bytes.NewReader(arr), LoadOptions{MaxTotalBytes: int64(len(arr) / 2)}); !errors.Is(err, ErrFeedTooLarge) {
		t.Errorf("MaxTotalBytes: %v", err)
	}
	if _, err := ReadJSON(bytes.NewReader(arr), LoadOptions{MaxRecordBytes: 200}); !errors.Is(err, ErrFeedTooLarge) {
		t.Errorf("MaxRecordBytes: %v", err)
	}
	// A zip entry inflating past the record bound: 8 MiB of spaces
	// compress to a few KB.
	big := append([]byte(`{"id":"PAL-TEST-BIG","summary":"`), bytes.Repeat([]byte(" "), 8<<20)...)
	big = append(big, `"}`...)
	z := zipOf(t, nil, map[string][]byte{"big.json": big})
	if _, err := ReadZip(bytes.NewReader(z), int64(len(z)), LoadOptions{}); !errors.Is(err, ErrFeedTooLarge) {
		t.Errorf("zip entry past MaxRecordBytes: %v", err)
	}
	if len(z) > 1<<20 {
		t.Fatalf("the test zip is %d bytes; it should be small", len(z))
	}
	if _, err := ReadJSON(strings.NewReader(`[{"id":"X"}, {"id":`), LoadOptions{}); err == nil {
		t.Error("a cut JSON array was accepted")
	}
}

func TestNamesTableChangesWhatIsKept(t *testing.T) {
	names, err := ReadNames(strings.NewReader(`[
		{"cms":"wordpress","type":"plugin","ecosystem":"WP-Vulns","name":"wp-plugin-{slug}"}
	]`))
	if err != nil {
		t.Fatal(err)
	}
	f, err := ReadJSON(strings.NewReader(`[
		{"id":"PAL-TEST-N1","affected":[{"package":{"ecosystem":"wp-vulns","name":"WP-PLUGIN-Example-Forms"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0"}]}]}]},
		{"id":"PAL-TEST-N2","affected":[{"package":{"ecosystem":"WordPress","name":"plugin:example-forms"},"ranges":[{"type":"ECOSYSTEM","events":[{"introduced":"0"},{"fixed":"3.0"}]}]}]},
		{"id":"PAL-TEST-N3","affected":[{"package":{"ecosystem":"WP-Vulns","name":"wp-plugin-"},"versions":["1.0"]}]}
	]`), LoadOptions{Names: names})
	if err != nil {
		t.Fatal(err)
	}
	if s := f.Stats(); s.Records != 1 || s.Unrelated != 2 {
		t.Errorf("stats %+v; want 1 kept, 2 unrelated", s)
	}
	rep := Check(Inventory{Installs: []Install{{
		CMS:        WordPress,
		Core:       Component{Type: TypeCore, Slug: "wordpress", Version: "6.4.2"},
		Components: []Component{{Type: TypePlugin, Slug: "example-forms", Version: "2.0"}},
	}}}, f)
	c := rep.Installs[0].Components[1]
	if len(c.Vulnerabilities) != 1 || c.Vulnerabilities[0].ID != "PAL-TEST-N1" {
		t.Errorf("with the custom table: %+v", c)
	}

	for _, bad := range []string{
		`[{"cms":"typo3","type":"core","ecosystem":"X","name":"y"}]`,
		`[{"cms":"wordpress","type":"widget","ecosystem":"X","name":"y"}]`,
		`[{"cms":"wordpress","type":"plugin","ecosystem":"","name":"y"}]`,
		`[{"cms":"wordpress","type":"plugin","ecosystem":"X","name":"{slug}{slug}"}]`,
		`[{"cms":"wordpress","type":"plugin","ecosystem":"X","name":"y","extra":1}]`,
	} {
		if _, err := ReadNames(strings.NewReader(bad)); err == nil {
			t.Errorf("ReadNames accepted %s", bad)
		}
	}
	if err := DefaultNames.Valid(); err != nil {
		t.Errorf("DefaultNames: %v", err)
	}
}
