package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// writeTree writes n files of a WordPress-like document root under root:
// core-like PHP, minified JavaScript, CSS, language files, readmes and
// JSON, and uploaded images, in proportions and sizes near a real
// WordPress site with a few dozen plugins (about 25 KB a file on
// average). It returns the files' relative paths and their total size.
// The same seed writes the same tree.
func writeTree(root string, n int, seed uint64) ([]string, int64, error) {
	g := &gen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
	var paths []string
	var total int64
	write := func(rel string, data []byte) error {
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			return err
		}
		paths = append(paths, rel)
		total += int64(len(data))
		return nil
	}
	// Where files go: core folders, plugins, themes, uploads.
	plugins := make([]string, 0, 40)
	for i := range 40 {
		plugins = append(plugins, fmt.Sprintf("wp-content/plugins/%s-%s-%d", g.word(), g.word(), i))
	}
	folder := func() string {
		switch x := g.r.IntN(100); {
		case x < 25:
			return "wp-includes/" + g.word()
		case x < 35:
			return "wp-admin/includes"
		case x < 80:
			return plugins[g.r.IntN(len(plugins))] + "/" + []string{"includes", "assets", "src", "vendor/" + g.word()}[g.r.IntN(4)]
		case x < 88:
			return fmt.Sprintf("wp-content/themes/theme-%d/%s", g.r.IntN(4), []string{"template-parts", "inc", "assets"}[g.r.IntN(3)])
		default:
			return fmt.Sprintf("wp-content/uploads/20%02d/%02d", 20+g.r.IntN(6), 1+g.r.IntN(12))
		}
	}
	for i := range n {
		dir := folder()
		uploads := strings.HasPrefix(dir, "wp-content/uploads")
		var name string
		var data []byte
		switch x := g.r.IntN(100); {
		case uploads || x < 18:
			if g.r.IntN(2) == 0 {
				name, data = fmt.Sprintf("%s-%d.jpg", g.word(), i), g.binary([]byte("\xff\xd8\xff\xe0\x00\x10JFIF\x00"), g.size(5<<10, 150<<10))
			} else {
				name, data = fmt.Sprintf("%s-%d.png", g.word(), i), g.binary([]byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"), g.size(1<<10, 60<<10))
			}
		case x < 63:
			name, data = fmt.Sprintf("class-%s-%s-%d.php", g.word(), g.word(), i), g.php(g.size(1<<10, 40<<10))
		case x < 78:
			name, data = fmt.Sprintf("%s-%d.min.js", g.word(), i), g.js(g.size(1<<10, 80<<10))
		case x < 88:
			name, data = fmt.Sprintf("%s-%d.css", g.word(), i), g.css(g.size(1<<10, 40<<10))
		case x < 91:
			name, data = fmt.Sprintf("%s-%d.mo", g.word(), i), g.binary([]byte("\xde\x12\x04\x95"), g.size(20<<10, 200<<10))
		default:
			name, data = fmt.Sprintf("%s-%d.json", g.word(), i), g.json(g.size(300, 8<<10))
		}
		if err := write(dir+"/"+name, data); err != nil {
			return nil, 0, err
		}
	}
	return paths, total, nil
}

type gen struct{ r *rand.Rand }

var words = strings.Fields(`post meta user term comment option query cache http rest block theme widget menu
media image embed feed rewrite locale script style nav taxonomy revision customize editor
session cron mail sitemap privacy export import search filter hook shortcode template`)

func (g *gen) word() string { return words[g.r.IntN(len(words))] }

// size draws a size between lo and hi, most of them small (as files are).
func (g *gen) size(lo, hi int) int {
	f := g.r.Float64()
	return lo + int(f*f*float64(hi-lo))
}

func (g *gen) binary(magic []byte, n int) []byte {
	b := make([]byte, max(n, len(magic)))
	for i := range b {
		b[i] = byte(g.r.Uint32())
	}
	copy(b, magic)
	return b
}

func (g *gen) php(n int) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "<?php\n/**\n * %s API.\n *\n * @package WordPress\n */\n\nclass WP_%s_%s {\n", g.word(), g.word(), g.word())
	for b.Len() < n {
		fn := g.word() + "_" + g.word()
		fmt.Fprintf(&b, "\t/**\n\t * Handles %s.\n\t *\n\t * @param array $args Arguments.\n\t * @return mixed\n\t */\n\tpublic function %s( $args = array() ) {\n", fn, fn)
		fmt.Fprintf(&b, "\t\t$args = wp_parse_args( $args, array( 'number' => %d, 'orderby' => '%s' ) );\n", g.r.IntN(100), g.word())
		fmt.Fprintf(&b, "\t\t$value = apply_filters( '%s_%s', $args['number'], $this );\n", g.word(), g.word())
		fmt.Fprintf(&b, "\t\tif ( empty( $value ) ) {\n\t\t\treturn new WP_Error( '%s', __( 'Nothing to do.' ) );\n\t\t}\n", g.word())
		fmt.Fprintf(&b, "\t\treturn sprintf( '<div class=\"%s\">%%s</div>', esc_html( $value ) );\n\t}\n\n", g.word())
	}
	b.WriteString("}\n")
	return []byte(b.String())
}

func (g *gen) js(n int) []byte {
	var b strings.Builder
	b.WriteString("/*! " + g.word() + " | MIT */\n!function(e,t){\"use strict\";")
	for b.Len() < n {
		v := string(rune('a'+g.r.IntN(26))) + string(rune('a'+g.r.IntN(26)))
		switch g.r.IntN(4) {
		case 0:
			fmt.Fprintf(&b, "var %s=function(n,r){return n&&n.%s?n.%s(r):void 0};", v, g.word(), g.word())
		case 1:
			fmt.Fprintf(&b, "t.querySelectorAll(\".%s-%s\").forEach(function(n){n.classList.toggle(\"is-%s\")});", g.word(), g.word(), g.word())
		case 2:
			fmt.Fprintf(&b, "e.addEventListener(\"load\",function(){%s(t.body,%d)},!1);", v, g.r.IntN(999))
		default:
			fmt.Fprintf(&b, "var %s={%s:%d,%s:\"%s\"};", v, g.word(), g.r.IntN(99), g.word(), g.word())
		}
	}
	b.WriteString("}(window,document);\n")
	return []byte(b.String())
}

func (g *gen) css(n int) []byte {
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, ".wp-%s-%s{margin:%dpx;padding:0 %dpx;color:#%06x}\n", g.word(), g.word(), g.r.IntN(40), g.r.IntN(40), g.r.IntN(1<<24))
	}
	return []byte(b.String())
}

func (g *gen) json(n int) []byte {
	var b strings.Builder
	b.WriteString("{\n  \"name\": \"example/" + g.word() + "\",\n  \"items\": [")
	for b.Len() < n {
		fmt.Fprintf(&b, "{\"%s\": %d, \"%s\": \"%s\"},", g.word(), g.r.IntN(1000), g.word(), g.word())
	}
	b.WriteString("{}]\n}\n")
	return []byte(b.String())
}
