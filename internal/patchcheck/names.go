package patchcheck

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// NameRule says under which OSV package a component of a CMS is listed:
// components of type Type in installs of CMS are the package Ecosystem /
// Name, with "{slug}" in Name replaced by the component's slug. Matching
// is case-insensitive.
type NameRule struct {
	CMS       CMS           `json:"cms"`
	Type      ComponentType `json:"type"`
	Ecosystem string        `json:"ecosystem"`
	Name      string        `json:"name"`
}

// Names is a naming table. A component may be listed under several
// packages (one advisory database files WordPress plugins under
// ecosystem "WordPress", another under Packagist's wpackagist-plugin/);
// the check looks under all of them and reports each advisory once.
type Names []NameRule

// DefaultNames is the convention the patch check matches unless a host
// gives its own table (docs/SCANNING.md, "Patch checks"):
//
//	WordPress core       WordPress  wordpress            Packagist roots/wordpress, johnpbloch/wordpress-core
//	WordPress plugin     WordPress  plugin:<slug>        Packagist wpackagist-plugin/<slug>
//	WordPress mu-plugin  WordPress  plugin:<slug>
//	WordPress theme      WordPress  theme:<slug>         Packagist wpackagist-theme/<slug>
//	Joomla core          Joomla     joomla               Packagist joomla/joomla-cms
//	Joomla extension     Joomla     extension:<com_x>
//	Drupal core          Drupal     drupal               Packagist drupal/core, drupal/drupal
//	Drupal module/theme  Drupal     <project>            Packagist drupal/<project>
//
// The Packagist names are those of osv.dev's Packagist ecosystem (GitHub
// advisories); the "WordPress", "Joomla" and "Drupal" ecosystems are
// Palisade's convention for feeds a host builds itself.
var DefaultNames = Names{
	{WordPress, TypeCore, "WordPress", "wordpress"},
	{WordPress, TypeCore, "Packagist", "roots/wordpress"},
	{WordPress, TypeCore, "Packagist", "johnpbloch/wordpress-core"},
	{WordPress, TypePlugin, "WordPress", "plugin:{slug}"},
	{WordPress, TypePlugin, "Packagist", "wpackagist-plugin/{slug}"},
	{WordPress, TypeMUPlugin, "WordPress", "plugin:{slug}"},
	{WordPress, TypeTheme, "WordPress", "theme:{slug}"},
	{WordPress, TypeTheme, "Packagist", "wpackagist-theme/{slug}"},
	{Joomla, TypeCore, "Joomla", "joomla"},
	{Joomla, TypeCore, "Packagist", "joomla/joomla-cms"},
	{Joomla, TypeExtension, "Joomla", "extension:{slug}"},
	{Drupal, TypeCore, "Drupal", "drupal"},
	{Drupal, TypeCore, "Packagist", "drupal/core"},
	{Drupal, TypeCore, "Packagist", "drupal/drupal"},
	{Drupal, TypeModule, "Drupal", "{slug}"},
	{Drupal, TypeModule, "Packagist", "drupal/{slug}"},
	{Drupal, TypeTheme, "Drupal", "{slug}"},
	{Drupal, TypeTheme, "Packagist", "drupal/{slug}"},
	{Drupal, TypeProfile, "Drupal", "{slug}"},
	{Drupal, TypeProfile, "Packagist", "drupal/{slug}"},
}

const maxNameRules = 1000

// ReadNames reads a naming table: a JSON array of
// {"cms","type","ecosystem","name"} objects, at most 1000 of them.
func ReadNames(r io.Reader) (Names, error) {
	var n Names
	dec := json.NewDecoder(io.LimitReader(r, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&n); err != nil {
		return nil, fmt.Errorf("patchcheck: naming table: %w", err)
	}
	return n, n.Valid()
}

// Valid reports every problem of the table at once.
func (n Names) Valid() error {
	var errs []error
	if len(n) > maxNameRules {
		errs = append(errs, fmt.Errorf("patchcheck: naming table has %d rules, at most %d", len(n), maxNameRules))
	}
	for i, r := range n {
		switch r.CMS {
		case WordPress, Joomla, Drupal:
		default:
			errs = append(errs, fmt.Errorf("patchcheck: naming rule %d: unknown cms %q", i, r.CMS))
		}
		switch r.Type {
		case TypeCore, TypePlugin, TypeMUPlugin, TypeTheme, TypeExtension, TypeModule, TypeProfile:
		default:
			errs = append(errs, fmt.Errorf("patchcheck: naming rule %d: unknown type %q", i, r.Type))
		}
		if r.Ecosystem == "" || r.Name == "" {
			errs = append(errs, fmt.Errorf("patchcheck: naming rule %d: ecosystem and name are required", i))
		}
		if strings.Count(r.Name, "{slug}") > 1 {
			errs = append(errs, fmt.Errorf("patchcheck: naming rule %d: {slug} appears more than once in %q", i, r.Name))
		}
	}
	return errors.Join(errs...)
}

// packages lists the (lower-cased) packages a component is filed under.
func (n Names) packages(cms CMS, c Component) []pkgKey {
	var out []pkgKey
	for _, r := range n {
		if r.CMS != cms || r.Type != c.Type {
			continue
		}
		k := pkgKey{strings.ToLower(r.Ecosystem), strings.ToLower(strings.ReplaceAll(r.Name, "{slug}", c.Slug))}
		dup := false
		for _, o := range out {
			dup = dup || o == k
		}
		if !dup {
			out = append(out, k)
		}
	}
	return out
}

// wants reports whether some rule could name package p, so a loader can
// drop the rest of a large feed.
func (n Names) wants(p Package) bool {
	eco, name := strings.ToLower(p.Ecosystem), strings.ToLower(p.Name)
	for _, r := range n {
		if strings.ToLower(r.Ecosystem) != eco {
			continue
		}
		tmpl := strings.ToLower(r.Name)
		pre, suf, slug := strings.Cut(tmpl, "{slug}")
		if !slug {
			if name == tmpl {
				return true
			}
			continue
		}
		if len(name) > len(pre)+len(suf) && strings.HasPrefix(name, pre) && strings.HasSuffix(name, suf) {
			return true
		}
	}
	return false
}

type pkgKey struct{ ecosystem, name string }
