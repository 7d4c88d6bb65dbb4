package worker

import (
	"crypto/tls"
	"encoding/binary"
	"io"
	"strings"
	"testing"
	"time"

	"gowsgi/config"
	"gowsgi/httpwire/wiretest"
)

// HTTP/2 frame types and flags (RFC 9113 §6) that h2Raw uses.
const (
	h2Data, h2Headers, h2Reset, h2Settings, h2GoAway, h2WindowUpdate, h2Continuation = 0, 1, 3, 4, 7, 8, 9
	h2EndStream, h2Ack, h2EndHeaders                                                 = 1, 1, 4
)

// h2Raw is just enough of an HTTP/2 client to read the server's SETTINGS and to send headers
// that net/http's client would refuse to send, as they are over the server's advertised limit.
type h2Raw struct {
	t *testing.T
	c *tls.Conn
}

func dialH2Raw(t *testing.T, addr string) *h2Raw {
	t.Helper()
	// The server's certificate is startTLSServer's own; what is checked here is what comes after.
	c, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{config.ALPNHTTP2}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetDeadline(time.Now().Add(10 * time.Second))
	r := &h2Raw{t: t, c: c}
	io.WriteString(c, "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n")
	r.write(h2Settings, 0, 0, nil)
	return r
}

func (r *h2Raw) write(typ, flags byte, stream uint32, payload []byte) {
	r.t.Helper()
	if _, err := r.c.Write(h2Frame(nil, typ, flags, stream, payload)); err != nil {
		r.t.Fatal(err)
	}
}

// h2Frame appends a frame to b.
func h2Frame(b []byte, typ, flags byte, stream uint32, payload []byte) []byte {
	b = append(b, byte(len(payload)>>16), byte(len(payload)>>8), byte(len(payload)), typ, flags)
	b = binary.BigEndian.AppendUint32(b, stream)
	return append(b, payload...)
}

func (r *h2Raw) read() (typ, flags byte, stream uint32, payload []byte) {
	r.t.Helper()
	typ, flags, stream, payload, err := r.readFrame()
	if err != nil {
		r.t.Fatal(err)
	}
	return typ, flags, stream, payload
}

func (r *h2Raw) readFrame() (typ, flags byte, stream uint32, payload []byte, err error) {
	var head [9]byte
	if _, err := io.ReadFull(r.c, head[:]); err != nil {
		return 0, 0, 0, nil, err
	}
	payload = make([]byte, int(head[0])<<16|int(head[1])<<8|int(head[2]))
	if _, err := io.ReadFull(r.c, payload); err != nil {
		return 0, 0, 0, nil, err
	}
	return head[3], head[4], binary.BigEndian.Uint32(head[5:]) & (1<<31 - 1), payload, nil
}

// start reads the server's SETTINGS, which come first, and acknowledges them; it returns them
// with the increment of the connection's receive window that follows.
func (r *h2Raw) start() (settings map[uint16]uint32, connWindow uint32) {
	typ, _, _, payload := r.read()
	if typ != h2Settings {
		r.t.Fatalf("first frame of type %d, not SETTINGS", typ)
	}
	settings = map[uint16]uint32{}
	for p := payload; len(p) >= 6; p = p[6:] {
		settings[binary.BigEndian.Uint16(p)] = binary.BigEndian.Uint32(p[2:])
	}
	r.write(h2Settings, h2Ack, 0, nil)
	for {
		typ, _, stream, payload := r.read()
		if typ == h2WindowUpdate && stream == 0 {
			return settings, binary.BigEndian.Uint32(payload)
		}
	}
}

// get sends GET / on stream with the extra fields, their names in lower case, and returns the
// body of the answer, "reset" or "goaway". A 431 says "Too Large" in its body, whether net/http
// or the engine refused the headers.
func (r *h2Raw) get(stream uint32, maxFrame int, fields ...string) string {
	r.t.Helper()
	block := h2Block(append([]string{":method", "GET", ":scheme", "https", ":path", "/", ":authority", "x"}, fields...)...)
	for typ := byte(h2Headers); ; typ = h2Continuation {
		n := min(len(block), maxFrame)
		var flags byte
		if typ == h2Headers {
			flags = h2EndStream
		}
		if n == len(block) {
			flags |= h2EndHeaders
		}
		r.write(typ, flags, stream, block[:n])
		if block = block[n:]; len(block) == 0 {
			break
		}
	}
	var body strings.Builder
	for {
		typ, flags, id, payload := r.read()
		switch {
		case typ == h2GoAway:
			return "goaway"
		case id != stream:
		case typ == h2Reset:
			return "reset"
		case typ == h2Data:
			body.Write(payload)
			if len(payload) > 0 { // let the answer go on, however long
				increment := binary.BigEndian.AppendUint32(nil, uint32(len(payload)))
				r.write(h2WindowUpdate, 0, 0, increment)
				r.write(h2WindowUpdate, 0, stream, increment)
			}
			fallthrough
		case typ == h2Headers:
			if flags&h2EndStream != 0 {
				return body.String()
			}
		}
	}
}

// h2Block is the header block of fields, names and values in turn, each a literal field that is
// not indexed, with a literal name (RFC 7541 §6.2.2).
func h2Block(fields ...string) []byte {
	var block []byte
	for i := 0; i < len(fields); i += 2 {
		block = append(block, 0)
		block = hpackString(block, fields[i])
		block = hpackString(block, fields[i+1])
	}
	return block
}

// hpackString appends s as an HPACK string literal without Huffman coding (RFC 7541 §5.2).
func hpackString(b []byte, s string) []byte {
	n := len(s)
	if n < 127 {
		b = append(b, byte(n))
	} else {
		b = append(b, 127)
		for n -= 127; n >= 128; n >>= 7 {
			b = append(b, byte(n&127|128))
		}
		b = append(b, byte(n))
	}
	return append(b, s...)
}

// The four HTTP/2 settings are what the server advertises. The header list size is what it
// enforces, to the byte, counted as RFC 9113 §6.5.2 does: a request over it is answered 431 and
// the connection goes on. A frame over the frame size ends the connection.
func TestHTTP2SettingsFromLimits(t *testing.T) {
	// SETTINGS identifiers (RFC 9113 §6.5.2).
	const maxStreams, initialWindow, maxFrame, maxHeaderList = 3, 4, 5, 6
	for _, h2 := range []config.HTTP2Limits{
		{MaxConcurrentStreams: 7, InitialWindowSize: 70000, MaxFrameSize: 20000, MaxHeaderListSize: 1000},
		{MaxConcurrentStreams: 100, InitialWindowSize: 3 << 20, MaxFrameSize: 1<<24 - 1, MaxHeaderListSize: 65536},
	} {
		lim := testLimits
		lim.HTTP2 = h2
		lim.FieldSize = 1 << 20 // a field may take up the whole list
		addr, _, _ := startTLSServer(t, lim, h2First, wiretest.Echo)
		r := dialH2Raw(t, addr)
		settings, connWindow := r.start()
		want := map[uint16]int{maxStreams: h2.MaxConcurrentStreams, initialWindow: h2.InitialWindowSize,
			maxFrame: h2.MaxFrameSize, maxHeaderList: h2.MaxHeaderListSize}
		for id, value := range want {
			if settings[id] != uint32(value) {
				t.Errorf("%+v: setting %d is %d, want %d", h2, id, settings[id], value)
			}
		}
		if want := max(h2.InitialWindowSize, 1<<20) - 65535; connWindow != uint32(want) {
			t.Errorf("%+v: the connection's window grows by %d, want %d", h2, connWindow, want)
		}
		// The pseudo-header fields of get count 167 bytes, and a field 32 more than its name and
		// value: a value of this length makes the list exactly as large as the limit.
		fits := h2.MaxHeaderListSize - 167 - 32 - len("x-big")
		for stream, c := range []struct {
			size int
			want string
		}{{fits, "method=GET"}, {fits + 1, "Too Large"}, {10, "method=GET"}} {
			if got := r.get(uint32(2*stream+1), 16384, "x-big", strings.Repeat("b", c.size)); !strings.Contains(got, c.want) {
				t.Errorf("%+v: a list of %d bytes: %.100q, want %q", h2, 167+32+5+c.size, got, c.want)
			}
		}
		if h2.MaxFrameSize < 1<<24-1 {
			r := dialH2Raw(t, addr)
			r.start()
			if got := r.get(1, h2.MaxFrameSize+1, "x-big", strings.Repeat("b", h2.MaxFrameSize)); got != "goaway" {
				t.Errorf("%+v: a frame over the size: %.100q, want the connection ended", h2, got)
			}
		}
	}
}

// With no limit of its own, the header list is held to the HTTP/1.1 head's limits.
func TestHTTP2HeaderListWithoutLimit(t *testing.T) {
	addr, _, srv := startTLSServer(t, testLimits, h2First, wiretest.Echo)
	r := dialH2Raw(t, addr)
	settings, _ := r.start()
	if want := srv.wire.HeadMax() + h2HeaderSlop; settings[6] != uint32(want) {
		t.Errorf("MAX_HEADER_LIST_SIZE %d, want %d", settings[6], want)
	}
	if got := r.get(1, 16384, "x-big", strings.Repeat("b", 70000)); !strings.Contains(got, "Too Large") {
		t.Errorf("a header over the field size: %.100q", got)
	}
}
