//go:build race

package pagetest_test

// checkedLanguages: under the race detector the pages are opened in
// English and German only. The race detector watches the server's code,
// which is the same in every language; the ordinary run checks all five.
var checkedLanguages = []string{"en", "de"}
