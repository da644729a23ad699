package tenancy_test

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/printer"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// switchCases returns the string constants of the case clauses of every
// switch on tag (its source text, such as r.PathValue("action")) in the
// function or method fn of the package in dir: the pages and actions an
// adapter dispatches to by hand, read from its source so that a new case
// needs a rule as a new registered pattern does.
func switchCases(t *testing.T, dir, fn, tag string) []string {
	t.Helper()
	files, err := filepath.Glob(filepath.Join(dir, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	var out []string
	found := false
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		file, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range file.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok || fd.Name.Name != fn || fd.Body == nil {
				continue
			}
			found = true
			ast.Inspect(fd.Body, func(n ast.Node) bool {
				sw, ok := n.(*ast.SwitchStmt)
				if !ok || sw.Tag == nil {
					return true
				}
				var b bytes.Buffer
				_ = printer.Fprint(&b, fset, sw.Tag)
				if b.String() != tag {
					return true
				}
				for _, st := range sw.Body.List {
					for _, e := range st.(*ast.CaseClause).List {
						if lit, ok := e.(*ast.BasicLit); ok && lit.Kind == token.STRING {
							s, _ := strconv.Unquote(lit.Value)
							out = append(out, s)
						}
					}
				}
				return true
			})
		}
	}
	if !found || len(out) == 0 {
		t.Fatalf("no switch on %s in %s's %s: the route list of that adapter moved; update routeKeys", tag, dir, fn)
	}
	return out
}
