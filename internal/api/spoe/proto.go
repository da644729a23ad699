// Package spoe serves Palisade's decisions to HAProxy through SPOE, the
// Stream Processing Offload Engine: HAProxy sends each request's method,
// path, host, client address and headers in a NOTIFY frame; Palisade
// answers with an ACK that sets variables (palisade.action and friends)
// which the shipped HAProxy configuration acts on. The protocol (SPOP 2.0,
// as in HAProxy 2.6's doc/SPOE.txt) is implemented here, with bounds on
// everything a peer sends.
package spoe

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
)

// Frame types.
const (
	frameUnset             = 0 // the fragments after the first
	frameHaproxyHello      = 1
	frameHaproxyDisconnect = 2
	frameNotify            = 3
	frameAgentHello        = 101
	frameAgentDisconnect   = 102
	frameAck               = 103

	flagFin   = 1
	flagAbort = 2
)

// Typed data types.
const (
	typeNull   = 0
	typeBool   = 1
	typeInt32  = 2
	typeUint32 = 3
	typeInt64  = 4
	typeUint64 = 5
	typeIPv4   = 6
	typeIPv6   = 7
	typeString = 8
	typeBinary = 9
)

// Variable scopes in a SET-VAR action.
const (
	scopeTransaction = 2
	actionSetVar     = 1
)

var errShort = errors.New("spoe: truncated frame")

// readVarint decodes SPOP's variable-length integer.
func readVarint(b []byte) (uint64, []byte, error) {
	if len(b) == 0 {
		return 0, nil, errShort
	}
	v := uint64(b[0])
	b = b[1:]
	if v < 240 {
		return v, b, nil
	}
	shift := uint(4)
	for i := 0; ; i++ {
		if len(b) == 0 || i > 9 {
			return 0, nil, errShort
		}
		c := b[0]
		b = b[1:]
		v += uint64(c) << shift
		shift += 7
		if c < 128 {
			return v, b, nil
		}
	}
}

// appendVarint encodes v in SPOP's variable-length form.
func appendVarint(b []byte, v uint64) []byte {
	if v < 240 {
		return append(b, byte(v))
	}
	b = append(b, byte(v)|240)
	v = (v - 240) >> 4
	for v >= 128 {
		b = append(b, byte(v)|128)
		v = (v - 128) >> 7
	}
	return append(b, byte(v))
}

// readString reads a varint length and that many bytes.
func readString(b []byte) (string, []byte, error) {
	n, b, err := readVarint(b)
	if err != nil {
		return "", nil, err
	}
	if n > uint64(len(b)) {
		return "", nil, errShort
	}
	return string(b[:n]), b[n:], nil
}

func appendString(b []byte, s string) []byte {
	return append(appendVarint(b, uint64(len(s))), s...)
}

// value is a decoded typed datum.
type value struct {
	typ  byte
	b    bool
	n    uint64
	s    string // string or binary
	addr netip.Addr
}

func (v value) String() string {
	switch v.typ {
	case typeString, typeBinary:
		return v.s
	case typeIPv4, typeIPv6:
		return v.addr.String()
	case typeBool:
		return fmt.Sprint(v.b)
	case typeInt32, typeUint32, typeInt64, typeUint64:
		return fmt.Sprint(v.n)
	}
	return ""
}

// readValue decodes one typed datum.
func readValue(b []byte) (value, []byte, error) {
	if len(b) == 0 {
		return value{}, nil, errShort
	}
	t := b[0]
	v := value{typ: t & 0x0f}
	b = b[1:]
	var err error
	switch v.typ {
	case typeNull:
	case typeBool:
		v.b = t&0x10 != 0
	case typeInt32, typeUint32, typeInt64, typeUint64:
		v.n, b, err = readVarint(b)
	case typeIPv4:
		if len(b) < 4 {
			return v, nil, errShort
		}
		v.addr = netip.AddrFrom4([4]byte(b[:4]))
		b = b[4:]
	case typeIPv6:
		if len(b) < 16 {
			return v, nil, errShort
		}
		v.addr = netip.AddrFrom16([16]byte(b[:16])).Unmap()
		b = b[16:]
	case typeString, typeBinary:
		v.s, b, err = readString(b)
	default:
		return v, nil, fmt.Errorf("spoe: unknown data type %d", v.typ)
	}
	return v, b, err
}

func appendStringValue(b []byte, s string) []byte {
	return appendString(append(b, typeString), s)
}

func appendUint32Value(b []byte, n uint32) []byte {
	return appendVarint(append(b, typeUint32), uint64(n))
}

// readKVs decodes a list of name/value pairs (HELLO and DISCONNECT).
func readKVs(b []byte) (map[string]value, error) {
	out := map[string]value{}
	for len(b) > 0 {
		if len(out) >= 64 {
			return nil, errors.New("spoe: too many items")
		}
		name, rest, err := readString(b)
		if err != nil {
			return nil, err
		}
		v, rest, err := readValue(rest)
		if err != nil {
			return nil, err
		}
		out[name] = v
		b = rest
	}
	return out, nil
}

// frame is a decoded frame.
type frame struct {
	typ      byte
	flags    uint32
	streamID uint64
	frameID  uint64
	payload  []byte
}

func parseFrame(b []byte) (frame, error) {
	if len(b) < 5 {
		return frame{}, errShort
	}
	f := frame{typ: b[0], flags: binary.BigEndian.Uint32(b[1:5])}
	var err error
	rest := b[5:]
	if f.streamID, rest, err = readVarint(rest); err != nil {
		return f, err
	}
	if f.frameID, rest, err = readVarint(rest); err != nil {
		return f, err
	}
	f.payload = rest
	return f, nil
}

// appendFrame encodes a frame (without its 4-byte length).
func appendFrame(b []byte, typ byte, streamID, frameID uint64, payload []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint32(b, flagFin)
	b = appendVarint(b, streamID)
	b = appendVarint(b, frameID)
	return append(b, payload...)
}

// message is one SPOE message of a NOTIFY frame.
type message struct {
	name string
	args map[string]value
}

// readMessages decodes a NOTIFY payload.
func readMessages(b []byte) ([]message, error) {
	var out []message
	for len(b) > 0 {
		if len(out) >= 16 {
			return nil, errors.New("spoe: too many messages")
		}
		name, rest, err := readString(b)
		if err != nil {
			return nil, err
		}
		if len(rest) == 0 {
			return nil, errShort
		}
		n := int(rest[0])
		rest = rest[1:]
		m := message{name: name, args: map[string]value{}}
		for i := 0; i < n; i++ {
			an, r2, err := readString(rest)
			if err != nil {
				return nil, err
			}
			v, r2, err := readValue(r2)
			if err != nil {
				return nil, err
			}
			m.args[an] = v
			rest = r2
		}
		out = append(out, m)
		b = rest
	}
	return out, nil
}

// appendSetVar encodes a SET-VAR action in transaction scope.
func appendSetVar(b []byte, name, val string) []byte {
	b = append(b, actionSetVar, 3, scopeTransaction)
	b = appendString(b, name)
	return appendStringValue(b, val)
}

// parseHeaders decodes HAProxy's req.hdrs_bin: (name, value) strings with
// varint lengths, ended by two empty strings.
func parseHeaders(b string, add func(name, value string)) error {
	buf := []byte(b)
	for n := 0; len(buf) > 0; n++ {
		if n > 512 {
			return errors.New("spoe: too many headers")
		}
		name, rest, err := readString(buf)
		if err != nil {
			return err
		}
		val, rest, err := readString(rest)
		if err != nil {
			return err
		}
		if name == "" && val == "" {
			return nil
		}
		add(name, val)
		buf = rest
	}
	return nil
}
