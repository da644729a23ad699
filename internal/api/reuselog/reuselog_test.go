package reuselog_test

import (
	"context"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/palisadehq/palisade/internal/api/reuselog"
	"github.com/palisadehq/palisade/internal/engine"
	"github.com/palisadehq/palisade/internal/events"
	"github.com/palisadehq/palisade/internal/protect"
	"github.com/palisadehq/palisade/internal/testenv"
)

// counted sums the website's grants of category cat in its minute
// statistics (what plans count).
func counted(t *testing.T, pal *testenv.Stack, domain, cat string) int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	pal.Recorder.Flush(ctx)
	now := pal.Clock.Now()
	pts, err := pal.Service.Stats(ctx, pal.Caller, domain, "minute", now.Add(-time.Hour), now.Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var n int64
	for _, p := range pts {
		if p.Action == "grant" && p.Category == cat {
			n += p.Count
		}
	}
	return n
}

// TestReports: over a real UDP socket, a listener that trusts only
// 127.0.0.2 counts the lines that web server sends (with nginx's syslog
// prefix or without, several per datagram) into the website's counters,
// and counts nothing for a datagram from another address (127.0.0.1), a
// datagram over 8 KiB, lines with an unknown server key, an unknown
// reason, a count outside 1..events.MaxReusedReport or another format.
func TestReports(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "reuse.example.com", engine.Settings{})
	l := reuselog.New(pal.Protector.Engine, pal.Recorder, protect.Trusted{netip.MustParsePrefix("127.0.0.2/32")}, nil)
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- l.Serve(ctx, pc) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	}()
	send := func(from string, msg string) {
		t.Helper()
		c, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(from)}, pc.LocalAddr().(*net.UDPAddr))
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
	}
	// wait until the listener has handled want lines and datagrams (5 s bound).
	wait := func(what string, cond func(reuselog.Stats) bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for !cond(l.Stats()) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: stats %+v", what, l.Stats())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	key := site.ServerKey
	// Refused: not a web server; oversize (a valid line padded past 8 KiB).
	send("127.0.0.1", "v1 "+key+" humans 1000\n")
	wait("the datagram from 127.0.0.1", func(s reuselog.Stats) bool { return s.RefusedPeer == 1 })
	send("127.0.0.2", "v1 "+key+" humans 1000\n"+strings.Repeat("\n", reuselog.MaxDatagram))
	wait("the oversize datagram", func(s reuselog.Stats) bool { return s.Oversize == 1 })
	// Bad lines, each in its datagram or several in one.
	bad := []string{
		"v1 sk_nosuchkey humans 5",   // unknown key
		"v1 " + key + " clearance 5", // a grant's reason that is no category
		"v1 " + key + " - 5",         // nginx's empty variable
		"v1 " + key + " humans 0",    // count 0
		"v1 " + key + " humans -3",   // negative
		"v1 " + key + " humans " + strconv.Itoa(events.MaxReusedReport+1), // too many
		"v1 " + key + " humans 1x",                                        // not a number
		"v2 " + key + " humans 5",                                         // another version
		"v1 " + key + " humans 5 extra",                                   // another format
		"<190>Nov 30 16:00:00 other_tag: v1 " + key + " humans 5",         // not the tag
		"v1 " + key + " humans " + strings.Repeat("1", reuselog.MaxLine),  // too long
	}
	send("127.0.0.2", strings.Join(bad[:4], "\n"))
	for _, b := range bad[4:] {
		send("127.0.0.2", b+"\n")
	}
	wait("the bad lines", func(s reuselog.Stats) bool { return s.UnknownKey+s.UnknownReason+s.BadLine == uint64(len(bad)) })
	if s := l.Stats(); s.UnknownKey != 1 || s.UnknownReason != 2 || s.Counted != 0 {
		t.Errorf("stats %+v: want 1 unknown key, 2 unknown reasons, nothing counted", s)
	}
	if n := counted(t, pal, "reuse.example.com", "humans"); n != 0 {
		t.Fatalf("%d requests counted from refused reports", n)
	}
	// Good lines: nginx's syslog line, a bare one, several in a datagram.
	send("127.0.0.2", "<190>Nov 30 16:00:00 palisade_reused: v1 "+key+" humans 1")
	send("127.0.0.2", "v1 "+key+" humans 7\r\nv1 "+key+" search_engines 2\n\nv1 sk_nosuchkey humans 9\n")
	// Until the datagram's last line (the unknown key) is handled too: the
	// counts move line by line.
	wait("the good lines", func(s reuselog.Stats) bool { return s.Counted == 3 && s.UnknownKey == 2 })
	if s := l.Stats(); s.Requests != 10 || s.UnknownKey != 2 {
		t.Errorf("stats %+v: want 10 requests counted and a second unknown key", s)
	}
	if n := counted(t, pal, "reuse.example.com", "humans"); n != 8 {
		t.Errorf("humans: %d grants counted, want 8", n)
	}
	if n := counted(t, pal, "reuse.example.com", "search_engines"); n != 2 {
		t.Errorf("search_engines: %d grants counted, want 2", n)
	}
}

// TestDefaultTrustsLoopback: without a --web-server list the listener
// believes loopback only, as forward-auth does.
func TestDefaultTrustsLoopback(t *testing.T) {
	pal := testenv.New(t)
	site := pal.Website(t, "reuse.example.com", engine.Settings{})
	l := reuselog.New(pal.Protector.Engine, pal.Recorder, nil, nil)
	l.Handle(netip.MustParseAddr("198.51.100.7"), []byte("v1 "+site.ServerKey+" humans 3"))
	l.Handle(netip.MustParseAddr("::ffff:127.0.0.1"), []byte("v1 "+site.ServerKey+" humans 4"))
	if s := l.Stats(); s.RefusedPeer != 1 || s.Requests != 4 {
		t.Errorf("stats %+v: want the remote datagram refused and 4 requests counted", s)
	}
	if n := counted(t, pal, "reuse.example.com", "humans"); n != 4 {
		t.Errorf("%d grants counted, want 4", n)
	}
}
