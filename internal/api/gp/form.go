package gp

import (
	"bytes"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
)

// formError is the answer to a body that is not a readable form.
const formError = "The form could not be read: send application/x-www-form-urlencoded or multipart/form-data fields of at most 16 KiB"

// readForm reads a GP call's fields from r's body: multipart/form-data
// (what PHP's curl sends for an array of fields) when the Content-Type
// says so, else URL-encoded fields whatever the Content-Type (with or
// without a charset, or none). Either way at most 16 KiB in all, names in
// any case (the first value of each counts), values trimmed; file parts
// are skipped.
func readForm(r *http.Request) (map[string]string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		return ReadForm(r.Body)
	}
	b, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBody {
		return nil, errors.New("the form is larger than 16 KiB")
	}
	return readMultipart(b, params["boundary"])
}

// readMultipart reads the fields of a multipart/form-data body b.
func readMultipart(b []byte, boundary string) (map[string]string, error) {
	if boundary == "" {
		return nil, errors.New("multipart/form-data without a boundary")
	}
	mr := multipart.NewReader(bytes.NewReader(b), boundary)
	form := map[string]string{}
	for {
		p, err := mr.NextPart()
		if err == io.EOF {
			return form, nil
		}
		if err != nil {
			return nil, err
		}
		name := strings.ToLower(p.FormName())
		if name == "" || p.FileName() != "" {
			continue
		}
		v, err := io.ReadAll(p)
		if err != nil {
			return nil, err
		}
		if _, seen := form[name]; !seen && len(v) > 0 {
			form[name] = strings.TrimSpace(string(v))
		}
	}
}
