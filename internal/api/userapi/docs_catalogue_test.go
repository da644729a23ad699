package userapi

import (
	"testing"

	"github.com/palisadehq/palisade/internal/i18n"
)

// Every route's name, description and parameter texts are in every
// language's catalogue: a route added without them would show its
// message ids on /api/docs.
func TestDocsCatalogueComplete(t *testing.T) {
	for _, lang := range i18n.Languages {
		for _, rt := range Routes {
			ids := []string{"docs.route." + rt.ID + ".name"}
			if rt.Description != "" {
				ids = append(ids, "docs.route."+rt.ID+".desc")
			}
			for _, pm := range rt.Params {
				ids = append(ids, paramMessages[pm.Desc])
			}
			for _, id := range ids {
				if !i18n.Has(lang, id) {
					t.Errorf("%s: route %s: %s is not in the catalogue", lang, rt.ID, id)
				}
			}
		}
	}
}
