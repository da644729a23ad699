//go:build !race

package pagetest_test

import "github.com/palisadehq/palisade/internal/i18n"

// checkedLanguages are every language of the catalogue.
var checkedLanguages = i18n.Languages
