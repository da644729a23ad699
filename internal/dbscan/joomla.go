package dbscan

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Joomla's groups with access to the administrator: Administrator (7)
// and Super Users (8), as Joomla installs them.
const joomlaAdminGroups = "7, 8"

// joomla scans a Joomla install: articles (title, intro and full text of
// published and unpublished ones), modules (their HTML content, custom
// modules' in particular) and the accounts in the administrator groups.
func (s *scanner) joomla(ctx context.Context) error {
	s.own = append(hosts{}, s.opts.SiteHosts...)
	table := s.p + "content"
	q := "SELECT id, " + s.col("title") + ", " + s.col("introtext") + ", " + s.col("`fulltext`") + " FROM " + s.table("content") +
		" WHERE state IN (0, 1) ORDER BY id LIMIT ?"
	err := s.query(ctx, table, q, func(rows *sql.Rows, st *TableStats) error {
		var id int64
		title := value{table: table, keyCol: "id", column: "title"}
		intro := value{table: table, keyCol: "id", column: "introtext"}
		full := value{table: table, keyCol: "id", column: "fulltext"}
		if err := rows.Scan(&id, &title.data, &title.length, &intro.data, &intro.length, &full.data, &full.length); err != nil {
			return fmt.Errorf("dbscan: reading %s: %w", table, err)
		}
		title.key = strconv.FormatInt(id, 10)
		intro.key, full.key = title.key, title.key
		if err := s.scanValue(ctx, title, kindText, st); err != nil {
			return err
		}
		if err := s.scanValue(ctx, intro, kindMarkup, st); err != nil {
			return err
		}
		return s.scanValue(ctx, full, kindMarkup, st)
	})
	if err != nil {
		return err
	}
	table = s.p + "modules"
	q = "SELECT id, " + s.col("content") + " FROM " + s.table("modules") + " WHERE published IN (0, 1) ORDER BY id LIMIT ?"
	err = s.query(ctx, table, q, func(rows *sql.Rows, st *TableStats) error {
		var id int64
		v := value{table: table, keyCol: "id", column: "content"}
		if err := rows.Scan(&id, &v.data, &v.length); err != nil {
			return fmt.Errorf("dbscan: reading %s: %w", table, err)
		}
		v.key = strconv.FormatInt(id, 10)
		return s.scanValue(ctx, v, kindMarkup, st)
	})
	if err != nil {
		return err
	}
	table = s.p + "users"
	q = "SELECT u.id, u.username, u.email, COALESCE(CAST(u.registerDate AS CHAR), '') FROM " + s.table("users") + " u WHERE u.id IN (SELECT m.user_id FROM " +
		s.table("user_usergroup_map") + " m WHERE m.group_id IN (" + joomlaAdminGroups + ")) ORDER BY u.id LIMIT ?"
	return s.query(ctx, table, q, func(rows *sql.Rows, st *TableStats) error {
		var a Admin
		var registered string
		if err := rows.Scan(&a.ID, &a.Login, &a.Email, &registered); err != nil {
			return fmt.Errorf("dbscan: reading %s: %w", table, err)
		}
		s.admin(a, registered, st)
		return nil
	})
}

// admin judges one administrator account and records it.
func (s *scanner) admin(a Admin, registered string, st *TableStats) {
	st.Values++
	if t, err := time.ParseInLocation("2006-01-02 15:04:05", registered, time.UTC); err == nil && t.Year() > 1 {
		a.Registered = t
	}
	if s.opts.RecentAdmin > 0 && !a.Registered.IsZero() && a.Registered.After(s.opts.Now().Add(-s.opts.RecentAdmin)) {
		a.Flags = append(a.Flags, "recent")
	}
	if len(s.opts.KnownAdmins) > 0 && !slicesContainsFold(s.opts.KnownAdmins, a.Login) {
		a.Flags = append(a.Flags, "unknown")
	}
	if suspiciousLoginRE.MatchString(a.Login) || markupRE.MatchString(a.Login) {
		a.Flags = append(a.Flags, "suspicious_login")
	}
	if !emailRE.MatchString(a.Email) || platformEmailRE.MatchString(a.Email) {
		a.Flags = append(a.Flags, "suspicious_email")
	}
	s.res.Admins = append(s.res.Admins, a)
	v := value{table: st.Table, keyCol: "ID", key: strconv.FormatInt(a.ID, 10)}
	if s.res.CMS == Joomla {
		v.keyCol = "id"
	}
	what := fmt.Sprintf("administrator %q <%s>, registered %s", a.Login, a.Email, registered)
	for _, flag := range a.Flags {
		sig := map[string]string{"recent": SigRecentAdmin, "unknown": SigUnknownAdmin, "suspicious_login": SigSuspiciousLogin,
			"suspicious_email": SigSuspiciousEmail}[flag]
		info := ownSig[sig]
		before := len(s.res.Findings)
		s.add(v, sig, info[0], info[1], hit{})
		if len(s.res.Findings) > before {
			s.res.Findings[before].Excerpt = strings.ToValidUTF8(what, "\uFFFD")
		}
	}
}

func slicesContainsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(strings.TrimSpace(x), s) {
			return true
		}
	}
	return false
}
