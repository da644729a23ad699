// Package fcgiauth serves Palisade's decisions to Apache httpd as a
// FastCGI authorizer (the FastCGI specification's Authorizer role, which
// Apache's stock mod_authnz_fcgi speaks). Go's net/http/fcgi serves only
// the Responder role, so the record layer is implemented here, after the
// FastCGI 1.0 specification, with bounds on everything a peer sends.
package fcgiauth

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
)

// Record types and roles of FastCGI 1.0.
const (
	typeBeginRequest    = 1
	typeAbortRequest    = 2
	typeEndRequest      = 3
	typeParams          = 4
	typeStdin           = 5
	typeStdout          = 6
	typeStderr          = 7
	typeData            = 8
	typeGetValues       = 9
	typeGetValuesResult = 10
	typeUnknownType     = 11

	roleResponder  = 1
	roleAuthorizer = 2

	flagKeepConn = 1

	statusRequestComplete = 0
	statusCantMpxConn     = 1
	statusUnknownRole     = 3

	headerLen = 8
	// maxParams bounds one request's FCGI_PARAMS stream: CGI variables and
	// request headers, which Apache itself caps far below this.
	maxParams = 128 << 10
	// maxPairs bounds the number of variables in one request.
	maxPairs = 512
)

// header is a record header.
type header struct {
	Version       uint8
	Type          uint8
	RequestID     uint16
	ContentLength uint16
	PaddingLength uint8
}

var errVersion = errors.New("fastcgi: not a version 1 record")

// readRecord reads one record into buf (reused) and returns its header and
// content.
func readRecord(r *bufio.Reader, buf []byte) (header, []byte, error) {
	var hb [headerLen]byte
	if _, err := io.ReadFull(r, hb[:]); err != nil {
		return header{}, nil, err
	}
	h := header{Version: hb[0], Type: hb[1], RequestID: binary.BigEndian.Uint16(hb[2:4]),
		ContentLength: binary.BigEndian.Uint16(hb[4:6]), PaddingLength: hb[6]}
	if h.Version != 1 {
		return h, nil, errVersion
	}
	n := int(h.ContentLength) + int(h.PaddingLength)
	if cap(buf) < n {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	if _, err := io.ReadFull(r, buf); err != nil {
		return h, nil, fmt.Errorf("fastcgi: short record: %w", err)
	}
	return h, buf[:h.ContentLength], nil
}

// writeRecord writes one record of type t with content c (at most 65535
// bytes), padded to a multiple of 8 as the specification recommends.
func writeRecord(w io.Writer, t uint8, id uint16, c []byte) error {
	pad := (8 - len(c)%8) % 8
	var hb [headerLen]byte
	hb[0] = 1
	hb[1] = t
	binary.BigEndian.PutUint16(hb[2:4], id)
	binary.BigEndian.PutUint16(hb[4:6], uint16(len(c)))
	hb[6] = uint8(pad)
	var zeros [8]byte
	for _, b := range [][]byte{hb[:], c, zeros[:pad]} {
		if len(b) == 0 {
			continue // a zero-length write is not free on every connection
		}
		if _, err := w.Write(b); err != nil {
			return err
		}
	}
	return nil
}

// writeStream writes b as records of type t (split at 65528 bytes) and
// then the empty record that ends the stream.
func writeStream(w io.Writer, t uint8, id uint16, b []byte) error {
	for len(b) > 0 {
		n := min(len(b), 65528)
		if err := writeRecord(w, t, id, b[:n]); err != nil {
			return err
		}
		b = b[n:]
	}
	return writeRecord(w, t, id, nil)
}

func endRequest(w io.Writer, id uint16, appStatus uint32, protocolStatus uint8) error {
	var c [8]byte
	binary.BigEndian.PutUint32(c[0:4], appStatus)
	c[4] = protocolStatus
	return writeRecord(w, typeEndRequest, id, c[:])
}

// readLength reads a name-value pair length: one byte below 128, else
// four bytes with the high bit set.
func readLength(b []byte) (int, []byte, error) {
	if len(b) == 0 {
		return 0, nil, errShortPair
	}
	if b[0]>>7 == 0 {
		return int(b[0]), b[1:], nil
	}
	if len(b) < 4 {
		return 0, nil, errShortPair
	}
	return int(binary.BigEndian.Uint32(b) & 0x7fffffff), b[4:], nil
}

var errShortPair = errors.New("fastcgi: truncated name-value pair")

// parsePairs decodes a complete name-value pair stream into m.
func parsePairs(b []byte, m map[string]string) error {
	for len(b) > 0 {
		nl, rest, err := readLength(b)
		if err != nil {
			return err
		}
		vl, rest, err := readLength(rest)
		if err != nil {
			return err
		}
		if nl > len(rest) || vl > len(rest)-nl {
			return errShortPair
		}
		if len(m) >= maxPairs {
			return fmt.Errorf("fastcgi: more than %d variables", maxPairs)
		}
		m[string(rest[:nl])] = string(rest[nl : nl+vl])
		b = rest[nl+vl:]
	}
	return nil
}

// appendPair encodes one name-value pair.
func appendPair(b []byte, name, value string) []byte {
	for _, n := range []int{len(name), len(value)} {
		if n < 128 {
			b = append(b, byte(n))
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(n)|1<<31)
		}
	}
	return append(append(b, name...), value...)
}
