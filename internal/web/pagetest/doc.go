// Package pagetest holds the browser test of every page a customer, a
// visitor, a partner's staff or the operator sees: headless Chromium opens
// each one in every language at a desktop and a phone width, and checks that
// no vendor name shows where the partner chose none, that no English is left
// on a translated page, that axe-core finds no serious or critical
// accessibility problem, and that nothing scrolls sideways on a phone.
//
// The same fixture, a seeded Palisade with a reseller, its customer's
// websites, events of every kind, console users and the operator, makes the
// screenshots in docs/screenshots (scripts/screenshots.sh). The package has
// no code of its own: everything is in its tests.
package pagetest
