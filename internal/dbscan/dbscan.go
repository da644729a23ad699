// Package dbscan scans a WordPress (or Joomla) website's MySQL/MariaDB database for
// injected content (SMART Database, issue 22): scripts, hidden spam links,
// iframes and redirects in posts, comments and options, hijacked site
// addresses, odd active plugins, and administrator accounts that were
// added behind the owner's back. Every value read is streamed to clamd
// (package malware's INSTREAM client, Palisade's signatures) and put
// through a few structural checks of this package's own.
//
// A scan only reads: it runs in one READ ONLY transaction, row by row,
// bounded in rows per table, bytes per value and time per query. Clean,
// called only when asked, removes one exact injected fragment from one
// row in a transaction of its own, after checking that the row did not
// change since the scan.
package dbscan

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"github.com/go-sql-driver/mysql"

	"github.com/palisadehq/palisade/internal/malware"
)

// Target says where a website's database is.
type Target struct {
	Host     string // TCP host; empty with Socket
	Port     int    // default 3306
	Socket   string // a unix socket instead of Host
	User     string
	Password string
	Database string
	// DialTimeout bounds connecting (default 10 s).
	DialTimeout time.Duration
	// Dial, when set, makes the TCP connections (the job runner passes
	// netguard's Policy.DialContext, so that a partner's database host
	// cannot be an address of the operator's own network). A unix
	// socket is always dialled directly.
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

// Connect opens a pool of at most two connections to t (the scan uses
// one; Clean another) and checks that the server answers.
func Connect(ctx context.Context, t Target) (*sql.DB, error) {
	if t.Database == "" {
		return nil, errors.New("dbscan: no database name")
	}
	if t.User == "" {
		return nil, errors.New("dbscan: no database user")
	}
	cfg := mysql.NewConfig()
	cfg.User, cfg.Passwd, cfg.DBName = t.User, t.Password, t.Database
	switch {
	case t.Socket != "":
		cfg.Net, cfg.Addr = "unix", t.Socket
	case t.Host != "":
		port := t.Port
		if port == 0 {
			port = 3306
		}
		cfg.Net, cfg.Addr = "tcp", net.JoinHostPort(t.Host, strconv.Itoa(port))
		cfg.DialFunc = t.Dial
	default:
		return nil, errors.New("dbscan: no database host or socket")
	}
	cfg.Timeout = t.DialTimeout
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	if err := cfg.Apply(mysql.Charset("utf8mb4", "")); err != nil {
		return nil, fmt.Errorf("dbscan: %w", err)
	}
	connector, err := mysql.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("dbscan: %w", err)
	}
	db := sql.OpenDB(connector)
	db.SetMaxOpenConns(2)
	db.SetConnMaxLifetime(30 * time.Minute)
	pctx, cancel := context.WithTimeout(ctx, cfg.Timeout)
	defer cancel()
	if err := db.PingContext(pctx); err != nil {
		db.Close()
		return nil, fmt.Errorf("dbscan: connecting to %s as %s: %w", cfg.Addr, t.User, err)
	}
	return db, nil
}

// Options tune a scan. Client is required; the rest have defaults.
type Options struct {
	// Client is the clamd every value is streamed to.
	Client *malware.Client
	// TablePrefix is WordPress's $table_prefix ("wp_") or Joomla's
	// $dbprefix ("jos_"). Empty: taken from ConfigFile if given, else
	// detected from the tables (a CMS's tables sharing a prefix); two
	// candidates is an error.
	TablePrefix string
	// ConfigFile is the website's wp-config.php or Joomla's
	// configuration.php, if the caller has it: its prefix is used.
	ConfigFile []byte
	// SiteHosts are the website's host names ("shop.example.com"). When
	// given, siteurl and home must point at one of them (or a subdomain
	// of one); else only their shape is checked.
	SiteHosts []string
	// KnownAdmins are the logins of the administrators the owner knows.
	// When given, every other administrator is flagged.
	KnownAdmins []string
	// RecentAdmin flags administrators registered less than this before
	// Now (default 7 days; negative: never).
	RecentAdmin time.Duration
	// MaxRows bounds the rows read per table (default 100,000).
	MaxRows int
	// MaxValueBytes bounds the bytes read of one value (default 1 MiB);
	// the rest of a longer value is not scanned (the result says so).
	MaxValueBytes int
	// QueryTimeout bounds each query, reading its rows included (default
	// 2 minutes); the server is also asked to stop a statement then.
	QueryTimeout time.Duration
	// LinkFarm is the number of links to other hosts in one value from
	// which it is reported as a link farm (default 60).
	LinkFarm int
	// MaxFindings bounds Result.Findings (default 10,000).
	MaxFindings int
	// Now is the clock (default time.Now).
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.RecentAdmin == 0 {
		o.RecentAdmin = 7 * 24 * time.Hour
	}
	if o.MaxRows <= 0 {
		o.MaxRows = 100_000
	}
	if o.MaxValueBytes <= 0 {
		o.MaxValueBytes = 1 << 20
	}
	if o.QueryTimeout <= 0 {
		o.QueryTimeout = 2 * time.Minute
	}
	if o.LinkFarm <= 0 {
		o.LinkFarm = 60
	}
	if o.MaxFindings <= 0 {
		o.MaxFindings = 10_000
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// Finding is one injection (or one suspicious administrator) found.
type Finding struct {
	// Location names the value: "db:wp_posts/ID=123/post_content",
	// "db:wp_options/option_name=siteurl/option_value", "db:wp_users/ID=7".
	Location  string `json:"location"`
	Table     string `json:"table"`
	KeyColumn string `json:"key_column"`
	Key       string `json:"key"`
	Column    string `json:"column,omitempty"`
	// Signature is clamd's (normalised) or one of this package's
	// ("Palisade.DB.SEOSpam.HiddenLinks").
	Signature string `json:"signature"`
	Class     string `json:"class"`
	Severity  string `json:"severity"`
	// SHA256 is of the value as read (the whole value; "" for a user).
	SHA256 string `json:"sha256,omitempty"`
	// Excerpt is up to 200 bytes of what matched, for a person to read.
	Excerpt string `json:"excerpt,omitempty"`
	// Fragment is the exact injected piece, when its bounds are clear
	// (one element a check or clamd pinned down); Clean removes it.
	Fragment string `json:"fragment,omitempty"`
	// Cleanable says Clean may remove Fragment: a whole value was read,
	// it is not PHP-serialised, and the table and column are ones Clean
	// writes.
	Cleanable bool `json:"cleanable"`
}

// Admin is one administrator account.
type Admin struct {
	ID         int64     `json:"id"`
	Login      string    `json:"login"`
	Email      string    `json:"email"`
	Registered time.Time `json:"registered"` // zero when the database holds none
	// Flags say why it was reported: "recent", "unknown", "suspicious_login",
	// "suspicious_email"; empty for an account that looks right.
	Flags []string `json:"flags,omitempty"`
}

// TableStats says what was read of one table.
type TableStats struct {
	Table     string `json:"table"`
	Rows      int    `json:"rows"`
	Values    int    `json:"values"`              // values streamed to clamd and checked
	Bytes     int64  `json:"bytes"`               // bytes of those
	Truncated int    `json:"truncated,omitempty"` // values longer than MaxValueBytes (only their start was read)
	RowLimit  bool   `json:"row_limit,omitempty"` // MaxRows reached: later rows were not read
}

// Result is what a scan did and found.
type Result struct {
	CMS      string        `json:"cms"` // WordPress or Joomla
	Prefix   string        `json:"prefix"`
	Tables   []TableStats  `json:"tables"`
	Admins   []Admin       `json:"admins"`
	Findings []Finding     `json:"findings"`
	Dropped  int           `json:"findings_dropped,omitempty"`
	Notes    []string      `json:"notes,omitempty"`
	Duration time.Duration `json:"duration"`
	// Complete is true when every row and every whole value was read: only
	// then may findings not seen again be resolved.
	Complete bool `json:"complete"`
}

func sum(s string) string {
	h := sha256.Sum256([]byte(s))
	return hex.EncodeToString(h[:])
}
