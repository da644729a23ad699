package protect

import (
	"html/template"
	"io"

	"github.com/palisadehq/palisade/internal/engine"
)

// WritePage writes the page a visitor sees for a verdict that is not a
// grant: the challenge page for challenge and captcha, else the deny page.
func WritePage(w io.Writer, v engine.Verdict) {
	t := denyPage
	if a := v.Enforced(); a == engine.Challenge || a == engine.Captcha {
		t = challengePage
	}
	_ = t.Execute(w, v)
}

var denyPage = template.Must(template.New("deny").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Access denied</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">
<h1>Access denied</h1>
<p>This website's protection refused your request ({{.Reason}}). If you think this is a mistake, contact the site's owner and quote this reason.</p>
</body></html>
`))

var challengePage = template.Must(template.New("challenge").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>Checking your browser</title></head>
<body style="font:16px/1.5 system-ui,sans-serif;max-width:36rem;margin:4rem auto;padding:0 1rem">
<h1 role="status">Checking your browser</h1>
<p>This website asks visitors whose requests look automated ({{.Reason}}) to confirm they are using a browser before continuing.</p>
</body></html>
`))
