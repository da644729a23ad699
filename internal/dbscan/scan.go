package dbscan

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/malware/signatures"
)

var prefixRE = regexp.MustCompile(`^[A-Za-z0-9_]{0,64}$`)

// wpConfigPrefixRE reads $table_prefix from wp-config.php.
var wpConfigPrefixRE = regexp.MustCompile(`(?m)^\s*\$table_prefix\s*=\s*['"]([A-Za-z0-9_]*)['"]\s*;`)

// ErrNoInstall is a database without a WordPress or Joomla install's tables.
var ErrNoInstall = errors.New("dbscan: no WordPress or Joomla tables in the database")

// joomlaPrefixRE reads $dbprefix from Joomla's configuration.php.
var joomlaPrefixRE = regexp.MustCompile(`(?m)^\s*(?:public|var)\s+\$dbprefix\s*=\s*['"]([A-Za-z0-9_]*)['"]\s*;`)

// Scan reads the WordPress or Joomla database db and reports what is injected in
// it. db is used read-only: one connection, one READ ONLY transaction.
// An error stops the scan; the result says what was done until then.
func Scan(ctx context.Context, db *sql.DB, opts Options) (Result, error) {
	if opts.Client == nil {
		return Result{}, errors.New("dbscan: no clamd client")
	}
	opts = opts.withDefaults()
	started := opts.Now()
	s := &scanner{opts: opts, res: Result{Complete: true, Findings: []Finding{}, Admins: []Admin{}}}
	defer func() { s.res.Duration = opts.Now().Sub(started) }()

	conn, err := db.Conn(ctx)
	if err != nil {
		return s.res, fmt.Errorf("dbscan: %w", err)
	}
	defer conn.Close()
	// The server stops a statement that runs too long too (MariaDB's
	// max_statement_time, MySQL's max_execution_time); a server that
	// knows neither keeps only the client's deadline.
	secs := strconv.FormatFloat(opts.QueryTimeout.Seconds(), 'f', 0, 64)
	if _, err := conn.ExecContext(ctx, "SET SESSION max_statement_time = "+secs); err != nil {
		_, _ = conn.ExecContext(ctx, "SET SESSION max_execution_time = "+strconv.FormatInt(opts.QueryTimeout.Milliseconds(), 10))
	}
	tx, err := conn.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return s.res, fmt.Errorf("dbscan: starting a read-only transaction: %w", err)
	}
	defer tx.Rollback()
	s.tx = tx

	prefix, cms, err := s.prefix(ctx)
	if err != nil {
		return s.res, err
	}
	s.res.Prefix, s.res.CMS = prefix, cms
	s.p = prefix
	if cms == Joomla {
		if err := s.joomla(ctx); err != nil {
			return s.res, err
		}
		return s.res, nil
	}
	if err := s.options(ctx); err != nil {
		return s.res, err
	}
	if err := s.posts(ctx); err != nil {
		return s.res, err
	}
	if s.has["comments"] {
		if err := s.comments(ctx); err != nil {
			return s.res, err
		}
	}
	if err := s.users(ctx); err != nil {
		return s.res, err
	}
	return s.res, nil
}

type scanner struct {
	opts Options
	tx   *sql.Tx
	p    string          // the table prefix
	has  map[string]bool // optional tables present, by name without prefix
	own  hosts           // the website's hosts: SiteHosts, else siteurl's and home's
	res  Result
	seen map[[2]string]bool
}

// The CMSs a scan knows.
const (
	WordPress = "wordpress"
	Joomla    = "joomla"
)

// cmsTables are the tables that make an install of each CMS (the first
// names it in the table list), and the optional ones read when present.
var cmsTables = map[string]struct{ core, optional []string }{
	WordPress: {[]string{"options", "posts", "users", "usermeta"}, []string{"comments"}},
	Joomla:    {[]string{"content", "users", "user_usergroup_map", "modules"}, nil},
}

// prefix finds the table prefix and the CMS: the caller's prefix,
// wp-config.php's or configuration.php's, or the one prefix under which
// a CMS's tables all exist.
func (s *scanner) prefix(ctx context.Context) (string, string, error) {
	want, from := s.opts.TablePrefix, "the table prefix"
	if want == "" && len(s.opts.ConfigFile) > 0 {
		if m := wpConfigPrefixRE.FindSubmatch(s.opts.ConfigFile); m != nil {
			want, from = string(m[1]), "wp-config.php's $table_prefix"
		} else if m := joomlaPrefixRE.FindSubmatch(s.opts.ConfigFile); m != nil {
			want, from = string(m[1]), "configuration.php's $dbprefix"
		}
	}
	if want != "" && !prefixRE.MatchString(want) {
		return "", "", fmt.Errorf("dbscan: %s %q: only letters, digits and _ are allowed", from, want)
	}
	qctx, cancel := context.WithTimeout(ctx, s.opts.QueryTimeout)
	defer cancel()
	rows, err := s.tx.QueryContext(qctx, "SELECT table_name FROM information_schema.tables WHERE table_schema = DATABASE()")
	if err != nil {
		return "", "", fmt.Errorf("dbscan: listing tables: %w", err)
	}
	defer rows.Close()
	tables := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return "", "", fmt.Errorf("dbscan: listing tables: %w", err)
		}
		tables[name] = true
	}
	if err := rows.Err(); err != nil {
		return "", "", fmt.Errorf("dbscan: listing tables: %w", err)
	}
	complete := func(cms, p string) bool {
		for _, t := range cmsTables[cms].core {
			if !tables[p+t] {
				return false
			}
		}
		return true
	}
	type install struct{ prefix, cms string }
	var found []install
	if want != "" {
		for _, cms := range []string{WordPress, Joomla} {
			if complete(cms, want) {
				found = append(found, install{want, cms})
			}
		}
		if len(found) == 0 {
			return "", "", fmt.Errorf("%w: %s is %q, but %s's tables are not all there (WordPress: %soptions, %sposts, %susers, %susermeta; Joomla: %scontent, %susers, %suser_usergroup_map, %smodules)",
				ErrNoInstall, from, want, want, want, want, want, want, want, want, want, want)
		}
	} else {
		for name := range tables {
			for _, cms := range []string{WordPress, Joomla} {
				if p, ok := strings.CutSuffix(name, cmsTables[cms].core[0]); ok && prefixRE.MatchString(p) && complete(cms, p) {
					found = append(found, install{p, cms})
				}
			}
		}
		slices.SortFunc(found, func(a, b install) int { return strings.Compare(a.prefix+" "+a.cms, b.prefix+" "+b.cms) })
	}
	switch len(found) {
	case 0:
		return "", "", ErrNoInstall
	case 1:
	default:
		var names []string
		for _, in := range found {
			names = append(names, in.prefix+" ("+in.cms+")")
		}
		return "", "", fmt.Errorf("dbscan: the database holds %d installs (table prefixes %s): give the table prefix, wp-config.php or configuration.php", len(found), strings.Join(names, ", "))
	}
	in := found[0]
	s.has = map[string]bool{}
	for _, t := range cmsTables[in.cms].optional {
		s.has[t] = tables[in.prefix+t]
	}
	return in.prefix, in.cms, nil
}

// query runs one bounded query and calls fn for each row, streaming.
func (s *scanner) query(ctx context.Context, table string, q string, fn func(rows *sql.Rows, st *TableStats) error) error {
	st := TableStats{Table: table}
	defer func() { s.res.Tables = append(s.res.Tables, st) }()
	qctx, cancel := context.WithTimeout(ctx, s.opts.QueryTimeout)
	defer cancel()
	rows, err := s.tx.QueryContext(qctx, q, s.opts.MaxRows+1)
	if err != nil {
		return fmt.Errorf("dbscan: reading %s: %w", table, err)
	}
	defer rows.Close()
	for rows.Next() {
		if st.Rows == s.opts.MaxRows {
			st.RowLimit = true
			s.res.Complete = false
			s.note(fmt.Sprintf("%s: stopped after %d rows (MaxRows)", table, st.Rows))
			break
		}
		st.Rows++
		if err := fn(rows, &st); err != nil {
			return err
		}
	}
	if err := rows.Err(); err != nil {
		if qctx.Err() != nil && ctx.Err() == nil {
			return fmt.Errorf("dbscan: reading %s: over the query timeout (%s): %w", table, s.opts.QueryTimeout, err)
		}
		return fmt.Errorf("dbscan: reading %s: %w", table, err)
	}
	return nil
}

// col is a bounded read of one column: its first MaxValueBytes bytes and
// its whole length.
func (s *scanner) col(name string) string {
	n := strconv.Itoa(s.opts.MaxValueBytes)
	return "SUBSTRING(CAST(" + name + " AS BINARY), 1, " + n + "), LENGTH(" + name + ")"
}

func (s *scanner) table(name string) string { return "`" + s.p + name + "`" }

func (s *scanner) note(n string) {
	if len(s.res.Notes) < 100 {
		s.res.Notes = append(s.res.Notes, n)
	}
}

// value is one value read.
type value struct {
	table, keyCol, key, column string
	data                       []byte
	length                     int64 // the whole value's length in bytes
}

func (v value) location() string {
	loc := "db:" + v.table + "/" + v.keyCol + "=" + v.key
	if v.column != "" {
		loc += "/" + v.column
	}
	return loc
}

func (v value) whole() bool { return int64(len(v.data)) >= v.length }

// kinds of value, for the checks each gets.
const (
	kindMarkup = iota // HTML content: posts, comments, widgets, options
	kindText          // a title, the site's name
	kindSiteURL
	kindActivePlugins
)

// scanValue streams v to clamd and runs the checks of its kind.
func (s *scanner) scanValue(ctx context.Context, v value, kind int, st *TableStats) error {
	if len(v.data) == 0 {
		return nil
	}
	st.Values++
	st.Bytes += int64(len(v.data))
	if !v.whole() {
		st.Truncated++
		s.res.Complete = false
		s.note(fmt.Sprintf("%s: %d bytes, only the first %d were scanned (MaxValueBytes)", v.location(), v.length, len(v.data)))
	}
	text := string(v.data)
	verdict, err := s.opts.Client.Scan(ctx, bytes.NewReader(v.data))
	if errors.Is(err, malware.ErrSizeLimit) {
		// clamd's StreamMaxLength is below MaxValueBytes: the structural
		// checks still run, but the scan is not complete.
		s.res.Complete = false
		s.note(fmt.Sprintf("%s: clamd refused %d bytes (its StreamMaxLength); keep MaxValueBytes below it", v.location(), len(v.data)))
		err, verdict = nil, malware.Verdict{}
	}
	if err != nil {
		return fmt.Errorf("dbscan: scanning %s: %w", v.location(), err)
	}
	if verdict.Infected {
		name := signatures.Normalize(verdict.Signature)
		info := signatures.Lookup(name)
		frag, err := s.pinpoint(ctx, text, name)
		if err != nil {
			return err
		}
		start, end := strings.Index(text, frag), 0
		if frag != "" {
			end = start + len(frag)
		} else {
			start = 0
		}
		s.add(v, name, string(info.Class), string(info.Severity), hit{start: start, end: end, element: frag != ""})
	}
	var hits []hit
	switch kind {
	case kindMarkup:
		hits = checkMarkup(text, s.own, s.opts.LinkFarm)
	case kindText:
		hits = checkText(text)
	case kindSiteURL:
		hits = checkSiteURL(text, hosts(s.opts.SiteHosts))
	case kindActivePlugins:
		var ok bool
		if hits, ok = checkActivePlugins(text); !ok && v.whole() {
			hits = []hit{{sig: SigActivePlugin, end: min(len(text), 200)}}
		}
	}
	for _, h := range hits {
		info := ownSig[h.sig]
		s.add(v, h.sig, info[0], info[1], h)
	}
	return nil
}

// pinpoint finds, for a value clamd flagged, the one element (a script,
// an iframe, a hidden block) that carries the match: detected alone by
// the same signature, and leaving the rest clean. "" when there is no
// such single element.
func (s *scanner) pinpoint(ctx context.Context, text, name string) (string, error) {
	var cands []string
	for _, m := range scriptRE.FindAllStringIndex(text, 20) {
		cands = append(cands, text[m[0]:m[1]])
	}
	for _, m := range iframeRE.FindAllStringIndex(text, 10) {
		cands = append(cands, text[m[0]:m[1]])
	}
	for _, h := range checkMarkup(text, s.own, 0) {
		if h.element {
			cands = append(cands, text[h.start:h.end])
		}
	}
	for _, h := range hiddenBlocks(text) {
		cands = append(cands, text[h[0]:h[1]])
	}
	found := ""
	for _, c := range cands {
		if c == found || strings.Count(text, c) != 1 {
			continue
		}
		v, err := s.opts.Client.Scan(ctx, strings.NewReader(c))
		if err != nil {
			return "", fmt.Errorf("dbscan: %w", err)
		}
		if !v.Infected || signatures.Normalize(v.Signature) != name {
			continue
		}
		rest, err := s.opts.Client.Scan(ctx, strings.NewReader(strings.Replace(text, c, "", 1)))
		if err != nil {
			return "", fmt.Errorf("dbscan: %w", err)
		}
		if rest.Infected {
			continue
		}
		if found != "" && !strings.Contains(found, c) && !strings.Contains(c, found) {
			return "", nil // two separate elements: not one fragment
		}
		if found == "" || len(c) < len(found) {
			found = c
		}
	}
	return found, nil
}

// hiddenBlocks lists the elements hidden by an inline style.
func hiddenBlocks(s string) [][2]int {
	var out [][2]int
	for _, m := range hiddenOpenRE.FindAllStringSubmatchIndex(s, 20) {
		if !hiddenRE.MatchString(s[m[0]:m[1]]) {
			continue
		}
		tag := strings.ToLower(s[m[2]:m[3]])
		i := strings.Index(strings.ToLower(s[m[1]:]), "</"+tag)
		if i < 0 {
			continue
		}
		end := m[1] + i
		if gt := strings.IndexByte(s[end:], '>'); gt >= 0 {
			end += gt + 1
		}
		out = append(out, [2]int{m[0], end})
	}
	return out
}

// add records a finding once per location and signature.
func (s *scanner) add(v value, sig, class, severity string, h hit) {
	loc := v.location()
	if s.seen == nil {
		s.seen = map[[2]string]bool{}
	}
	if s.seen[[2]string{loc, sig}] {
		return
	}
	s.seen[[2]string{loc, sig}] = true
	if len(s.res.Findings) >= s.opts.MaxFindings {
		s.res.Dropped++
		s.res.Complete = false
		return
	}
	text := string(v.data)
	f := Finding{Location: loc, Table: v.table, KeyColumn: v.keyCol, Key: v.key, Column: v.column,
		Signature: sig, Class: class, Severity: severity}
	if v.data != nil {
		f.SHA256 = sum(text)
		f.Excerpt = excerpt(text, h.start, h.end)
	}
	if h.element && h.end > h.start {
		f.Fragment = text[h.start:h.end]
		f.Cleanable = v.whole() && !serialized(text) && cleanableColumn(strings.TrimPrefix(v.table, s.p), v.column) &&
			strings.Count(text, f.Fragment) == 1
	}
	s.res.Findings = append(s.res.Findings, f)
}

func excerpt(s string, start, end int) string {
	if end <= start {
		end = min(len(s), start+200)
	}
	end = min(end, start+200, len(s))
	return strings.ToValidUTF8(s[start:end], "\uFFFD")
}

// autoloadWords are the autoload values WordPress loads on every page
// ("yes" until 6.6; "on", "auto", "auto-on" since).
var autoloadWords = "'yes','on','auto','auto-on'"

// options scans the autoloaded options and the few that matter whether
// autoloaded or not (the site's addresses, active plugins, widgets).
func (s *scanner) options(ctx context.Context) error {
	table := s.p + "options"
	// The site's addresses first: they tell which links are the website's own.
	s.own = append(hosts{}, s.opts.SiteHosts...)
	if len(s.own) == 0 {
		qctx, cancel := context.WithTimeout(ctx, s.opts.QueryTimeout)
		rows, err := s.tx.QueryContext(qctx, "SELECT option_value FROM "+s.table("options")+" WHERE option_name IN ('siteurl','home')")
		if err != nil {
			cancel()
			return fmt.Errorf("dbscan: reading %s: %w", table, err)
		}
		for rows.Next() {
			var u string
			if rows.Scan(&u) == nil {
				if p, err := parseURL(u); err == nil {
					s.own = append(s.own, p)
				}
			}
		}
		rows.Close()
		cancel()
	}
	q := "SELECT option_name, " + s.col("option_value") + " FROM " + s.table("options") +
		" WHERE autoload IN (" + autoloadWords + ") OR option_name IN ('siteurl','home','active_plugins','blogname','blogdescription')" +
		" OR option_name LIKE 'widget\\_%' ORDER BY option_id LIMIT ?"
	return s.query(ctx, table, q, func(rows *sql.Rows, st *TableStats) error {
		var name string
		v := value{table: table, keyCol: "option_name", column: "option_value"}
		if err := rows.Scan(&name, &v.data, &v.length); err != nil {
			return fmt.Errorf("dbscan: reading %s: %w", table, err)
		}
		v.key = name
		kind := kindMarkup
		switch name {
		case "siteurl", "home":
			kind = kindSiteURL
		case "blogname", "blogdescription", "admin_email":
			kind = kindText
		case "active_plugins":
			kind = kindActivePlugins
		}
		return s.scanValue(ctx, v, kind, st)
	})
}

// parseURL returns the host of an address.
func parseURL(u string) (string, error) {
	p, err := url.Parse(strings.TrimSpace(u))
	if err != nil {
		return "", err
	}
	if p.Hostname() == "" {
		return "", errors.New("no host")
	}
	return p.Hostname(), nil
}

// posts scans the titles and contents of posts that are or may be shown:
// published, drafts, pending, private and scheduled, of every type
// (pages, menu items, reusable blocks, custom CSS) but revisions.
func (s *scanner) posts(ctx context.Context) error {
	table := s.p + "posts"
	q := "SELECT ID, " + s.col("post_title") + ", " + s.col("post_content") + " FROM " + s.table("posts") +
		" WHERE post_status IN ('publish','draft','pending','private','future') AND post_type <> 'revision' ORDER BY ID LIMIT ?"
	return s.query(ctx, table, q, func(rows *sql.Rows, st *TableStats) error {
		var id int64
		title := value{table: table, keyCol: "ID", column: "post_title"}
		content := value{table: table, keyCol: "ID", column: "post_content"}
		if err := rows.Scan(&id, &title.data, &title.length, &content.data, &content.length); err != nil {
			return fmt.Errorf("dbscan: reading %s: %w", table, err)
		}
		title.key = strconv.FormatInt(id, 10)
		content.key = title.key
		if err := s.scanValue(ctx, title, kindText, st); err != nil {
			return err
		}
		return s.scanValue(ctx, content, kindMarkup, st)
	})
}

// comments scans approved and pending comments (not spam or trash).
func (s *scanner) comments(ctx context.Context) error {
	table := s.p + "comments"
	q := "SELECT comment_ID, " + s.col("comment_content") + " FROM " + s.table("comments") +
		" WHERE comment_approved IN ('0','1') ORDER BY comment_ID LIMIT ?"
	return s.query(ctx, table, q, func(rows *sql.Rows, st *TableStats) error {
		var id int64
		v := value{table: table, keyCol: "comment_ID", column: "comment_content"}
		if err := rows.Scan(&id, &v.data, &v.length); err != nil {
			return fmt.Errorf("dbscan: reading %s: %w", table, err)
		}
		v.key = strconv.FormatInt(id, 10)
		return s.scanValue(ctx, v, kindMarkup, st)
	})
}

// users lists the administrators (users whose capabilities hold the
// administrator role) and flags the ones that look added by an attacker.
func (s *scanner) users(ctx context.Context) error {
	table := s.p + "users"
	// The capabilities key is the prefix's own; the LIKE matches the
	// serialised role name ("administrator";b:1).
	q := "SELECT u.ID, u.user_login, u.user_email, CAST(u.user_registered AS CHAR), m.meta_value FROM " + s.table("users") + " u JOIN " +
		s.table("usermeta") + " m ON m.user_id = u.ID AND m.meta_key = '" + s.p + "capabilities' WHERE m.meta_value LIKE '%\"administrator\"%' ORDER BY u.ID LIMIT ?"
	return s.query(ctx, table, q, func(rows *sql.Rows, st *TableStats) error {
		var a Admin
		var registered, caps string
		if err := rows.Scan(&a.ID, &a.Login, &a.Email, &registered, &caps); err != nil {
			return fmt.Errorf("dbscan: reading %s: %w", table, err)
		}
		if isAdmin(caps) {
			s.admin(a, registered, st)
		}
		return nil
	})
}

// isAdmin reads a capabilities value: the administrator role, granted.
func isAdmin(caps string) bool {
	i := strings.Index(caps, `"administrator";`)
	if i < 0 {
		return false
	}
	rest := caps[i+len(`"administrator";`):]
	return strings.HasPrefix(rest, "b:1;") || strings.HasPrefix(rest, "i:1;") || strings.HasPrefix(rest, `s:1:"1";`)
}
