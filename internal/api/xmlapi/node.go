package xmlapi

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/http"
)

// Node is an element of a response document: text or children.
type Node struct {
	Name string
	Text string
	Kids []*Node
}

func text(name string, v any) *Node { return &Node{Name: name, Text: fmt.Sprint(v)} }

func (n *Node) write(b *bytes.Buffer) {
	b.WriteString("<" + n.Name + ">")
	if len(n.Kids) > 0 {
		for _, k := range n.Kids {
			k.write(b)
		}
	} else {
		_ = xml.EscapeText(b, []byte(n.Text))
	}
	b.WriteString("</" + n.Name + ">")
}

// writeDoc writes <SiteLockOnlineResponse> with nodes inside.
func writeDoc(w http.ResponseWriter, status int, nodes ...*Node) {
	var b bytes.Buffer
	b.WriteString(xml.Header)
	(&Node{Name: "SiteLockOnlineResponse", Kids: nodes}).write(&b)
	b.WriteString("\n")
	w.Header().Set("Content-Type", "application/xml; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(b.Bytes())
}
