package patchcheck

import (
	"archive/zip"
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// Feed is a set of OSV advisories indexed by package, with the naming
// table that maps components to packages. A Feed is immutable once made
// and safe for concurrent use.
type Feed struct {
	names   Names
	records []*Record // sorted by ID
	byPkg   map[pkgKey][]affectedRef
	stats   FeedStats
}

type affectedRef struct {
	rec *Record
	aff *Affected
}

// FeedStats counts what a load kept and dropped.
type FeedStats struct {
	Records   int `json:"records"`   // kept
	Withdrawn int `json:"withdrawn"` // skipped: the record carries "withdrawn"
	Unrelated int `json:"unrelated"` // skipped: no package the naming table can name
	Invalid   int `json:"invalid"`   // skipped: not a JSON OSV record, or no id
}

// LoadOptions bound a load and name its packages. Zero values take the
// defaults given.
type LoadOptions struct {
	Names          Names // default DefaultNames
	MaxRecords     int   // records read (kept or not); default 500,000
	MaxRecordBytes int64 // one record; default 4 MiB
	MaxTotalBytes  int64 // all records, uncompressed; default 1 GiB
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.Names == nil {
		o.Names = DefaultNames
	}
	if o.MaxRecords <= 0 {
		o.MaxRecords = 500_000
	}
	if o.MaxRecordBytes <= 0 {
		o.MaxRecordBytes = 4 << 20
	}
	if o.MaxTotalBytes <= 0 {
		o.MaxTotalBytes = 1 << 30
	}
	return o
}

// ErrFeedTooLarge is a feed past one of LoadOptions' bounds.
var ErrFeedTooLarge = errors.New("patchcheck: feed exceeds its size bounds")

// NewFeed indexes records: withdrawn ones and those naming no package of
// the table are dropped.
func NewFeed(records []Record, names Names) (*Feed, error) {
	if names == nil {
		names = DefaultNames
	}
	if err := names.Valid(); err != nil {
		return nil, err
	}
	b := newBuilder(LoadOptions{Names: names}.withDefaults())
	for i := range records {
		r := records[i]
		b.add(&r)
	}
	return b.feed(), nil
}

// Stats says what the load kept and dropped.
func (f *Feed) Stats() FeedStats { return f.stats }

// Records lists the kept records, sorted by ID. They must not be changed.
func (f *Feed) Records() []*Record { return f.records }

// Names is the naming table the feed was loaded with.
func (f *Feed) Names() Names { return f.names }

type builder struct {
	opts  LoadOptions
	f     *Feed
	read  int
	bytes int64
}

func newBuilder(opts LoadOptions) *builder {
	return &builder{opts: opts, f: &Feed{names: opts.Names, byPkg: map[pkgKey][]affectedRef{}}}
}

// count charges one record of n bytes against the bounds.
func (b *builder) count(n int64) error {
	b.read++
	b.bytes += n
	if b.read > b.opts.MaxRecords {
		return fmt.Errorf("%w: more than %d records", ErrFeedTooLarge, b.opts.MaxRecords)
	}
	if n > b.opts.MaxRecordBytes {
		return fmt.Errorf("%w: a record of more than %d bytes", ErrFeedTooLarge, b.opts.MaxRecordBytes)
	}
	if b.bytes > b.opts.MaxTotalBytes {
		return fmt.Errorf("%w: more than %d bytes", ErrFeedTooLarge, b.opts.MaxTotalBytes)
	}
	return nil
}

func (b *builder) addJSON(data []byte) {
	var r Record
	if err := json.Unmarshal(data, &r); err != nil {
		b.f.stats.Invalid++
		return
	}
	b.add(&r)
}

func (b *builder) add(r *Record) {
	if r.ID == "" {
		b.f.stats.Invalid++
		return
	}
	if r.Withdrawn != "" {
		b.f.stats.Withdrawn++
		return
	}
	kept := false
	for i := range r.Affected {
		a := &r.Affected[i]
		if !b.opts.Names.wants(a.Package) {
			continue
		}
		k := pkgKey{strings.ToLower(a.Package.Ecosystem), strings.ToLower(a.Package.Name)}
		b.f.byPkg[k] = append(b.f.byPkg[k], affectedRef{r, a})
		kept = true
	}
	if !kept {
		b.f.stats.Unrelated++
		return
	}
	b.f.records = append(b.f.records, r)
}

func (b *builder) feed() *Feed {
	f := b.f
	sort.SliceStable(f.records, func(i, j int) bool { return f.records[i].ID < f.records[j].ID })
	f.stats.Records = len(f.records)
	return f
}

// ReadJSON reads OSV records from JSON: one record, an array of records,
// or records one after another (as a stream of objects or JSON lines).
func ReadJSON(r io.Reader, opts LoadOptions) (*Feed, error) {
	opts = opts.withDefaults()
	if err := opts.Names.Valid(); err != nil {
		return nil, err
	}
	b := newBuilder(opts)
	if err := b.readJSON(r); err != nil {
		return nil, err
	}
	return b.feed(), nil
}

func (b *builder) readJSON(r io.Reader) error {
	remaining := b.opts.MaxTotalBytes - b.bytes
	cr := &countingReader{r: io.LimitReader(r, remaining+1)}
	tooLarge := func() error {
		return fmt.Errorf("%w: more than %d bytes", ErrFeedTooLarge, b.opts.MaxTotalBytes)
	}
	br := bufio.NewReader(cr)
	dec := json.NewDecoder(br)
	first, err := firstNonSpace(br)
	if err != nil {
		if err == io.EOF {
			return nil
		}
		return err
	}
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			return fmt.Errorf("patchcheck: feed: %w", err)
		}
	}
	for dec.More() {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if cr.n > remaining {
				return tooLarge()
			}
			return fmt.Errorf("patchcheck: feed: %w", err)
		}
		if err := b.count(int64(len(raw))); err != nil {
			return err
		}
		b.addJSON(raw)
	}
	if first == '[' {
		if _, err := dec.Token(); err != nil {
			if cr.n > remaining {
				return tooLarge()
			}
			return fmt.Errorf("patchcheck: feed: %w", err)
		}
	}
	if cr.n > remaining {
		return tooLarge()
	}
	return nil
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

func firstNonSpace(br *bufio.Reader) (byte, error) {
	for {
		c, err := br.ReadByte()
		if err != nil {
			return 0, err
		}
		if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
			return c, br.UnreadByte()
		}
	}
}

// ReadZip reads a zip of OSV records, one JSON record per .json entry, as
// osv.dev exports them (all.zip); other entries are ignored.
func ReadZip(r io.ReaderAt, size int64, opts LoadOptions) (*Feed, error) {
	opts = opts.withDefaults()
	if err := opts.Names.Valid(); err != nil {
		return nil, err
	}
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("patchcheck: feed zip: %w", err)
	}
	files := append([]*zip.File(nil), zr.File...)
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	b := newBuilder(opts)
	for _, zf := range files {
		if zf.FileInfo().IsDir() || !strings.HasSuffix(strings.ToLower(zf.Name), ".json") {
			continue
		}
		if zf.UncompressedSize64 > uint64(opts.MaxRecordBytes) {
			return nil, fmt.Errorf("%w: %s is %d bytes", ErrFeedTooLarge, zf.Name, zf.UncompressedSize64)
		}
		data, err := readZipEntry(zf, opts.MaxRecordBytes)
		if err != nil {
			return nil, err
		}
		if err := b.count(int64(len(data))); err != nil {
			return nil, err
		}
		b.addJSON(data)
	}
	return b.feed(), nil
}

func readZipEntry(zf *zip.File, limit int64) ([]byte, error) {
	rc, err := zf.Open()
	if err != nil {
		return nil, fmt.Errorf("patchcheck: feed zip %s: %w", zf.Name, err)
	}
	defer rc.Close()
	// The declared size may lie; read one byte past the bound to see.
	data, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("patchcheck: feed zip %s: %w", zf.Name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", ErrFeedTooLarge, zf.Name, limit)
	}
	return data, nil
}

// ReadDir reads every .json file directly in dir (sorted by name), each
// holding one record or an array of records.
func ReadDir(dir string, opts LoadOptions) (*Feed, error) {
	opts = opts.withDefaults()
	if err := opts.Names.Valid(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("patchcheck: feed: %w", err)
	}
	b := newBuilder(opts)
	for _, e := range ents {
		if !e.Type().IsRegular() || !strings.HasSuffix(strings.ToLower(e.Name()), ".json") {
			continue
		}
		if b.read >= opts.MaxRecords {
			return nil, fmt.Errorf("%w: more than %d records", ErrFeedTooLarge, opts.MaxRecords)
		}
		if err := b.readFile(filepath.Join(dir, e.Name())); err != nil {
			return nil, err
		}
	}
	return b.feed(), nil
}

func (b *builder) readFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("patchcheck: feed: %w", err)
	}
	defer f.Close()
	if err := b.readJSON(f); err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	return nil
}

// ReadBytes reads a feed held in memory: a zip (recognised by its
// signature) or JSON.
func ReadBytes(data []byte, opts LoadOptions) (*Feed, error) {
	if bytes.HasPrefix(data, []byte("PK\x03\x04")) || bytes.HasPrefix(data, []byte("PK\x05\x06")) {
		return ReadZip(bytes.NewReader(data), int64(len(data)), opts)
	}
	return ReadJSON(bytes.NewReader(data), opts)
}

// Load reads a feed from source: an http:// or https:// URL (fetched with
// a default Fetcher; use FeedSource to refresh with conditional
// requests), a directory of .json files, a .zip file, or a JSON file.
func Load(ctx context.Context, source string, opts LoadOptions) (*Feed, error) {
	if isURL(source) {
		res, err := (&Fetcher{URL: source}).Fetch(ctx, Validators{})
		if err != nil {
			return nil, err
		}
		return ReadBytes(res.Body, opts)
	}
	return loadPath(source, opts)
}

func isURL(s string) bool {
	l := strings.ToLower(s)
	return strings.HasPrefix(l, "http://") || strings.HasPrefix(l, "https://")
}

func loadPath(path string, opts LoadOptions) (*Feed, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("patchcheck: feed: %w", err)
	}
	if st.IsDir() {
		return ReadDir(path, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("patchcheck: feed: %w", err)
	}
	defer f.Close()
	var magic [4]byte
	n, _ := io.ReadFull(f, magic[:])
	if n == 4 && (string(magic[:]) == "PK\x03\x04" || string(magic[:]) == "PK\x05\x06") {
		return ReadZip(f, st.Size(), opts)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("patchcheck: feed: %w", err)
	}
	return ReadJSON(f, opts)
}
