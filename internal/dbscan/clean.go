package dbscan

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"

	"github.com/palisadehq/palisade/internal/malware"
	"github.com/palisadehq/palisade/internal/malware/signatures"
)

// Errors Clean returns.
var (
	// ErrNotCleanable is a finding Clean will not touch: no single
	// fragment, a serialised or partly read value, a table or column
	// Clean does not write, or a removal that would not cure the value.
	ErrNotCleanable = errors.New("dbscan: not cleanable")
	// ErrChanged is a value that changed since the scan (or is gone):
	// scan again before cleaning.
	ErrChanged = errors.New("dbscan: the value changed since the scan")
)

// cleanable lists the columns Clean writes, by table (without prefix),
// with the key column that names the row.
var cleanable = map[string]struct{ key, cols string }{
	"posts":    {"ID", "post_content post_title"},
	"comments": {"comment_ID", "comment_content"},
	"options":  {"option_name", "option_value"},
	// Joomla's
	"content": {"id", "introtext fulltext"},
	"modules": {"id", "content"},
}

func cleanableColumn(table, column string) bool {
	c, ok := cleanable[table]
	return ok && column != "" && strings.Contains(" "+c.cols+" ", " "+column+" ")
}

// Cleaned is what Clean changed, with the original kept for a diff (and
// for putting it back by hand).
type Cleaned struct {
	Location string `json:"location"`
	Original string `json:"original"`
	Cleaned  string `json:"cleaned"`
	// Offset is where Removed was in Original (bytes).
	Offset  int    `json:"offset"`
	Removed string `json:"removed"`
}

// Clean removes f's fragment from its row, in a transaction: the row is
// read again and locked, and is written only if its value is still the
// one scanned (same SHA-256), holds the fragment exactly once, and, once
// the fragment is gone, no longer matches f's signature (clamd checks
// clamd's signatures: the fragment alone must be detected and the rest
// must scan clean). prefix is the scan's Result.Prefix.
func Clean(ctx context.Context, db *sql.DB, client *malware.Client, prefix string, f Finding) (Cleaned, error) {
	if !prefixRE.MatchString(prefix) {
		return Cleaned{}, fmt.Errorf("dbscan: table prefix %q: only letters, digits and _ are allowed", prefix)
	}
	table, ok := strings.CutPrefix(f.Table, prefix)
	c, known := cleanable[table]
	if !ok || !known || !cleanableColumn(table, f.Column) || f.KeyColumn != c.key {
		return Cleaned{}, fmt.Errorf("%w: %s (only posts, comments and options values, and Joomla's content and modules, are cleaned)", ErrNotCleanable, f.Location)
	}
	if !f.Cleanable || f.Fragment == "" || f.SHA256 == "" {
		return Cleaned{}, fmt.Errorf("%w: %s: no single injected fragment was found", ErrNotCleanable, f.Location)
	}
	_, own := ownSig[f.Signature]
	if !own && client == nil {
		return Cleaned{}, errors.New("dbscan: no clamd client")
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return Cleaned{}, fmt.Errorf("dbscan: %w", err)
	}
	defer tx.Rollback()
	qt := "`" + prefix + table + "`"
	var orig string
	err = tx.QueryRowContext(ctx, "SELECT `"+f.Column+"` FROM "+qt+" WHERE `"+f.KeyColumn+"` = ? FOR UPDATE", f.Key).Scan(&orig)
	if errors.Is(err, sql.ErrNoRows) {
		return Cleaned{}, fmt.Errorf("%w: %s is gone", ErrChanged, f.Location)
	}
	if err != nil {
		return Cleaned{}, fmt.Errorf("dbscan: reading %s: %w", f.Location, err)
	}
	if sum(orig) != f.SHA256 {
		return Cleaned{}, fmt.Errorf("%w: %s", ErrChanged, f.Location)
	}
	if serialized(orig) || strings.Count(orig, f.Fragment) != 1 {
		return Cleaned{}, fmt.Errorf("%w: %s: the value is serialised or does not hold the fragment once", ErrNotCleanable, f.Location)
	}
	offset := strings.Index(orig, f.Fragment)
	cleaned := orig[:offset] + orig[offset+len(f.Fragment):]
	if err := cured(ctx, client, f.Signature, own, f.Fragment, cleaned); err != nil {
		return Cleaned{}, fmt.Errorf("%w: %s: %v", ErrNotCleanable, f.Location, err)
	}
	res, err := tx.ExecContext(ctx, "UPDATE "+qt+" SET `"+f.Column+"` = ? WHERE `"+f.KeyColumn+"` = ?", cleaned, f.Key)
	if err != nil {
		return Cleaned{}, fmt.Errorf("dbscan: writing %s: %w", f.Location, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return Cleaned{}, fmt.Errorf("dbscan: writing %s: %d rows changed, want 1 (%v)", f.Location, n, err)
	}
	if err := tx.Commit(); err != nil {
		return Cleaned{}, fmt.Errorf("dbscan: writing %s: %w", f.Location, err)
	}
	return Cleaned{Location: f.Location, Original: orig, Cleaned: cleaned, Offset: offset, Removed: f.Fragment}, nil
}

// cured checks that the fragment carries the signature and that what
// remains does not.
func cured(ctx context.Context, client *malware.Client, sig string, own bool, fragment, rest string) error {
	if own {
		has := func(s string) bool {
			for _, h := range append(checkMarkup(s, nil, 0), checkText(s)...) {
				if h.sig == sig {
					return true
				}
			}
			return false
		}
		if !has(fragment) {
			return errors.New("the fragment alone does not match " + sig)
		}
		if has(rest) {
			return errors.New("what remains still matches " + sig)
		}
		if client == nil {
			return nil
		}
	} else {
		v, err := client.Scan(ctx, strings.NewReader(fragment))
		if err != nil {
			return err
		}
		if !v.Infected || signatures.Normalize(v.Signature) != sig {
			return errors.New("the fragment alone is not detected as " + sig)
		}
	}
	v, err := client.Scan(ctx, strings.NewReader(rest))
	if err != nil {
		return err
	}
	if v.Infected {
		return errors.New("what remains is detected as " + signatures.Normalize(v.Signature))
	}
	return nil
}
