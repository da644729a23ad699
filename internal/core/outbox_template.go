package core

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"text/template"
	"text/template/parse"
	"time"

	"github.com/palisadehq/palisade/internal/i18n"
)

// Email templates are partner input executed on Palisade's nodes, so their
// cost is bounded three ways:
//
//   - Shape, checked when a template is saved and again before it runs
//     (checkTemplateShape): fields of EmailData, {{if}}, {{with}}, literals,
//     comparisons and len, nothing else. Without {{define}}, {{template}},
//     {{block}}, {{range}}, variables or string-building functions (print,
//     printf, html, js, urlquery), a template runs in time linear in its size
//     and no value grows beyond the longest field.
//   - Size: at most MaxSubjectTemplate / MaxBodyTemplate bytes in, and at most
//     MaxSubjectOutput / MaxBodyOutput bytes out (a writer that refuses to
//     grow further stops the execution at once).
//   - Concurrency: at most maxConcurrentRenders templates run at a time on a
//     node.

const (
	// MaxSubjectTemplate and MaxBodyTemplate bound a template's source.
	MaxSubjectTemplate = 500
	MaxBodyTemplate    = 64 << 10
	// MaxSubjectOutput and MaxBodyOutput bound what a template renders.
	MaxSubjectOutput = 1 << 10
	MaxBodyOutput    = 256 << 10

	maxConcurrentRenders = 4
	// renderWait is how long saving a template waits for a free slot.
	renderWait = 5 * time.Second
)

// renderSlots caps the templates executing at once in this process. It is a
// process-wide resource limit (like a CPU count), not per-Service state.
var renderSlots = make(chan struct{}, maxConcurrentRenders)

// templateFuncs are the only functions a template may call: none of them
// builds a string longer than its arguments.
var templateFuncs = map[string]bool{
	"and": true, "or": true, "not": true, "len": true,
	"eq": true, "ne": true, "lt": true, "le": true, "gt": true, "ge": true,
}

// errOutputTooLong stops a template whose output passes its limit.
var errOutputTooLong = errors.New("output too long")

// limitedBuffer is a bytes.Buffer that refuses to grow beyond max bytes.
type limitedBuffer struct {
	bytes.Buffer
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.max {
		return 0, errOutputTooLong
	}
	return b.Buffer.Write(p)
}

func (b *limitedBuffer) WriteString(s string) (int, error) { return b.Write([]byte(s)) }

const templateRules = "email templates may use the fields ({{.Domain}}, {{.Name}} …), {{if}}, {{with}}, and, or, not, len and comparisons"

// parseEmailTemplate parses one part (field "subject" or "body") of a
// template and checks its shape.
func parseEmailTemplate(field, src string) (*template.Template, error) {
	t, err := template.New(field).Option("missingkey=error").Parse(src)
	if err != nil {
		return nil, FieldError(field, "%s template: %v", field, err)
	}
	if len(t.Templates()) > 1 {
		return nil, FieldError(field, "%s template: {{define}}, {{block}} and {{template}} are not supported; %s", field, templateRules)
	}
	if t.Tree != nil && t.Tree.Root != nil {
		if err := checkTemplateShape(t.Tree.Root); err != nil {
			return nil, FieldError(field, "%s template: %v; %s", field, err, templateRules)
		}
	}
	return t, nil
}

// checkTemplateShape walks a parse tree and refuses every node outside the
// allowed shape (see the top of this file).
func checkTemplateShape(n parse.Node) error {
	switch n := n.(type) {
	case nil:
		return nil
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkTemplateShape(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.TextNode, *parse.CommentNode, *parse.DotNode, *parse.FieldNode, *parse.BoolNode,
		*parse.NumberNode, *parse.StringNode, *parse.NilNode:
		return nil
	case *parse.ActionNode:
		return checkTemplateShape(n.Pipe)
	case *parse.IfNode:
		return checkBranch(&n.BranchNode)
	case *parse.WithNode:
		return checkBranch(&n.BranchNode)
	case *parse.PipeNode:
		if n == nil {
			return nil
		}
		if len(n.Decl) > 0 {
			return errors.New("variables ($x := …) are not supported")
		}
		for _, c := range n.Cmds {
			if err := checkTemplateShape(c); err != nil {
				return err
			}
		}
		return nil
	case *parse.CommandNode:
		for _, a := range n.Args {
			if err := checkTemplateShape(a); err != nil {
				return err
			}
		}
		return nil
	case *parse.IdentifierNode:
		if !templateFuncs[n.Ident] {
			return errors.New("the function " + n.Ident + " is not supported")
		}
		return nil
	case *parse.VariableNode:
		if len(n.Ident) == 0 || n.Ident[0] != "$" {
			return errors.New("variables are not supported")
		}
		return nil
	case *parse.ChainNode:
		return checkTemplateShape(n.Node)
	case *parse.RangeNode:
		return errors.New("{{range}} is not supported")
	case *parse.TemplateNode:
		return errors.New("{{template}} and {{block}} are not supported")
	case *parse.BreakNode, *parse.ContinueNode:
		return errors.New("{{break}} and {{continue}} are not supported")
	}
	return errors.New("this construct is not supported")
}

func checkBranch(b *parse.BranchNode) error {
	if err := checkTemplateShape(b.Pipe); err != nil {
		return err
	}
	if err := checkTemplateShape(b.List); err != nil {
		return err
	}
	if b.ElseList != nil {
		return checkTemplateShape(b.ElseList)
	}
	return nil
}

// executeLimited runs t over d into a buffer of at most max bytes.
func executeLimited(t *template.Template, d any, max int) (string, error) {
	b := &limitedBuffer{max: max}
	if err := t.Execute(b, d); err != nil {
		return "", err
	}
	return b.String(), nil
}

// acquireRender takes a render slot, waiting until ctx ends.
func acquireRender(ctx context.Context) (release func(), err error) {
	select {
	case renderSlots <- struct{}{}:
		return func() { <-renderSlots }, nil
	case <-ctx.Done():
		return nil, Errorf(EUNAVAILABLE, "too many email templates are being rendered; try again")
	}
}

// render checks and renders a template over d, within the size limits and
// a render slot.
func render(ctx context.Context, tm EmailTemplate, d EmailData) (subject, body string, err error) {
	if len(tm.Subject) > MaxSubjectTemplate {
		return "", "", FieldError("subject", "the subject template is limited to %d bytes", MaxSubjectTemplate)
	}
	if len(tm.Body) > MaxBodyTemplate {
		return "", "", FieldError("body", "the body template is limited to %d KiB", MaxBodyTemplate>>10)
	}
	st, err := parseEmailTemplate("subject", tm.Subject)
	if err != nil {
		return "", "", err
	}
	bt, err := parseEmailTemplate("body", tm.Body)
	if err != nil {
		return "", "", err
	}
	release, err := acquireRender(ctx)
	if err != nil {
		return "", "", err
	}
	defer release()
	subject, err = executeLimited(st, d, MaxSubjectOutput)
	if err != nil {
		return "", "", renderError("subject", err, MaxSubjectOutput)
	}
	body, err = executeLimited(bt, d, MaxBodyOutput)
	if err != nil {
		return "", "", renderError("body", err, MaxBodyOutput)
	}
	return strings.Join(strings.Fields(subject), " "), body, nil // the subject on one line
}

func renderError(field string, err error, max int) error {
	if errors.Is(err, errOutputTooLong) {
		return FieldError(field, "%s template renders to more than %d KiB", field, max>>10)
	}
	return FieldError(field, "%s template: %v", field, err)
}

// Default templates come from the message catalogue (mail.<kind>.subject
// and mail.<kind>.body in internal/i18n/locales/mail.<lang>.json), in the
// customer's language: a partner's own template of a kind replaces them in
// every language. They name the partner ({{.Brand}}), never the product,
// unless the partner shows "Powered by Palisade" (EmailData.PoweredBy).

// emailFields are EmailData's fields as template source: filled into a
// catalogue message, they give back the placeholders the template keeps.
var emailFields = map[string]any{"Brand": "{{.Brand}}", "Name": "{{.Name}}", "Email": "{{.Email}}", "Domain": "{{.Domain}}",
	"Plan": "{{.Plan}}", "ExpiresAt": "{{.ExpiresAt}}", "DashboardURL": "{{.DashboardURL}}", "Count": "{{.Count}}", "Severity": "{{.Severity}}"}

// emailLinks are the kinds whose default body ends with the dashboard link.
var emailLinks = map[string]bool{EmailWelcome: true, EmailResumed: true, EmailMalwareFound: true}

// defaultTemplate is the default template of kind in lang (English for a
// language the catalogue does not hold).
func defaultTemplate(kind, lang string) EmailTemplate {
	lang = i18n.Pick(lang)
	body := i18n.T(lang, "mail.hello", emailFields) + "\n\n" + i18n.T(lang, "mail."+kind+".body", emailFields) + "\n"
	if emailLinks[kind] {
		body += "\n{{.DashboardURL}}\n"
	}
	body += "\n-- \n{{.Brand}}\n{{if .PoweredBy}}" + i18n.T(lang, "common.poweredby") + "\n{{end}}"
	return EmailTemplate{Kind: kind, Subject: i18n.T(lang, "mail."+kind+".subject", emailFields), Body: body}
}

// emailDate writes a date the way lang does (31.01.2030 in German), for
// {{.ExpiresAt}}; ISO 8601 (2030-01-31) in a language the catalogue does
// not hold.
func emailDate(lang string, t time.Time) string {
	if !i18n.Supported(lang) {
		return t.UTC().Format("2006-01-02")
	}
	return i18n.Date(lang, t)
}
