package worker

import (
	"bytes"
	"encoding/binary"
	"net"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gowsgi/allowlist"
	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// uwsgiPacket builds a packet with modifier1 0 from name, value pairs.
func uwsgiPacket(pairs ...string) []byte {
	var vars []byte
	for _, s := range pairs {
		vars = binary.LittleEndian.AppendUint16(vars, uint16(len(s)))
		vars = append(vars, s...)
	}
	return append(uwsgiHeader(len(vars)), vars...)
}

func uwsgiHeader(datasize int) []byte {
	return []byte{0, byte(datasize), byte(datasize >> 8), 0}
}

// nginxPost is a request as nginx sends it with uwsgi_pass and Debian's uwsgi_params.
var nginxPost = uwsgiPacket(
	"QUERY_STRING", "x=1", "REQUEST_METHOD", "POST", "CONTENT_TYPE", "text/plain", "CONTENT_LENGTH", "5",
	"REQUEST_URI", "/p%25q?x=1", "PATH_INFO", "/p%q", "DOCUMENT_ROOT", "/usr/share/nginx/html",
	"SERVER_PROTOCOL", "HTTP/1.1", "REQUEST_SCHEME", "https", "HTTPS", "on",
	"REMOTE_ADDR", "203.0.113.9", "REMOTE_PORT", "40123", "SERVER_PORT", "443", "SERVER_NAME", "example.com",
	"HTTP_HOST", "example.com", "HTTP_X_FORWARDED_FOR", "198.51.100.1",
	"HTTP_CONTENT_TYPE", "text/plain", "HTTP_CONTENT_LENGTH", "5")

func TestUwsgiVarsBecomeTheRequest(t *testing.T) {
	var v uwsgiVars
	var req httpwire.Request
	rerr, err := parseUwsgiVars(bytes.Clone(nginxPost[uwsgiHeaderSize:]), &testLimits.Limits, &v, &req)
	if rerr != nil || err != nil {
		t.Fatalf("refused: %v %v", rerr, err)
	}
	got := []string{string(v.method), string(v.uri), string(v.pathInfo), string(v.query), v.proto, v.scheme,
		string(v.remoteAddr), string(v.remotePort), string(v.serverName), string(v.serverPort)}
	want := []string{"POST", "/p%25q?x=1", "/p%q", "x=1", "HTTP/1.1", "https",
		"203.0.113.9", "40123", "example.com", "443"}
	if strings.Join(got, "|") != strings.Join(want, "|") || v.length != 5 {
		t.Errorf("vars: got %q length %d, want %q length 5", got, v.length, want)
	}
	var header []string
	for _, f := range req.Header {
		header = append(header, string(f.Name)+": "+string(f.Value))
	}
	wantHeader := "HOST: example.com|X-FORWARDED-FOR: 198.51.100.1|Content-Type: text/plain|Content-Length: 5"
	if strings.Join(header, "|") != wantHeader {
		t.Errorf("headers: got %q, want %q", header, wantHeader)
	}
}

// startUwsgiServer serves dispatch over uwsgi on a new socket of network ("tcp" or "unix") for
// peers in allow, through the sync class's loop when loop is set.
func startUwsgiServer(t *testing.T, network, allow string, loop bool, dispatch dispatchFunc) string {
	t.Helper()
	address := "127.0.0.1:0"
	if network == "unix" {
		address = filepath.Join(t.TempDir(), "uwsgi.sock")
	}
	l, err := net.Listen(network, address)
	if err != nil {
		t.Fatal(err)
	}
	srv := newHTTPServer(testLimits, "http", dispatch)
	srv.uwsgi = testUwsgiPolicy(t, allow)
	if loop {
		startSyncLoop(t, srv)
	}
	serveOn(t, l, srv)
	return l.Addr().String()
}

func testUwsgiPolicy(t testing.TB, allow string) *uwsgiPolicy {
	list, err := allowlist.Parse(allow)
	if err != nil {
		t.Fatal(err)
	}
	return &uwsgiPolicy{allow: list}
}

func dialUnix(t *testing.T, path string) *wiretest.Client {
	t.Helper()
	nc, err := net.Dial("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	nc.SetDeadline(time.Now().Add(10 * time.Second))
	return wiretest.NewClient(t, nc)
}

func TestUwsgiRequestAndAnswer(t *testing.T) {
	for _, loop := range []bool{false, true} {
		addr := startUwsgiServer(t, "tcp", "127.0.0.1", loop, wiretest.Echo)
		c := wiretest.Dial(t, addr)
		c.Send(string(nginxPost) + "hello")
		r := c.Read(false)
		if r.Code != 200 || r.Header("Connection") != "close" {
			t.Fatalf("loop %v: got %d %q", loop, r.Code, r.Headers)
		}
		for key, want := range map[string]string{
			"method": "POST", "uri": "/p%25q?x=1", "path": "/p%25q", "query": "x=1", "proto": "HTTP/1.1",
			"length": "5", "remote": "203.0.113.9 40123", "server": "example.com 443 https", "body": "hello",
		} {
			if got := r.BodyField(key); got != want {
				t.Errorf("loop %v: %s=%q, want %q", loop, key, got, want)
			}
		}
		c.ExpectClosed()
	}
}

// Without the vars a proxy adds, the connection's own addresses and gunicorn's defaults stand.
func TestUwsgiMinimalPacket(t *testing.T) {
	addr := startUwsgiServer(t, "tcp", "127.0.0.1", false, wiretest.Echo)
	c := wiretest.Dial(t, addr)
	c.Send(string(uwsgiPacket()))
	r := c.Read(false)
	for key, want := range map[string]string{
		"method": "GET", "uri": "/", "path": "/", "query": "", "proto": "HTTP/1.1", "length": "0",
		"remote": "127.0.0.1 " + portOf(c.Conn.LocalAddr()), "server": "127.0.0.1 " + portOf(c.Conn.RemoteAddr()) + " http",
	} {
		if got := r.BodyField(key); got != want {
			t.Errorf("%s=%q, want %q", key, got, want)
		}
	}
}

// An answer without Content-Length is not chunked: the end of the connection delimits it.
func TestUwsgiStreamedAnswer(t *testing.T) {
	for _, loop := range []bool{false, true} {
		addr := startUwsgiServer(t, "tcp", "127.0.0.1", loop, func(req *httpwire.Request, w httpwire.ResponseWriter) {
			w.WriteHeader([]byte("200 OK"), 200, nil)
			for range 100 {
				w.Write(bytes.Repeat([]byte("x"), 10000))
				w.Flush()
			}
		})
		c := wiretest.Dial(t, addr)
		c.Send(string(uwsgiPacket("REQUEST_METHOD", "GET")))
		r := c.Read(false)
		if r.Chunked || r.Header("Transfer-Encoding") != "" || len(r.Body) != 1000000 {
			t.Errorf("loop %v: chunked %v, %d bytes, headers %q", loop, r.Chunked, len(r.Body), r.Headers)
		}
	}
}

func TestUwsgiPeerNotAllowed(t *testing.T) {
	var served atomic.Int32
	count := func(req *httpwire.Request, w httpwire.ResponseWriter) {
		served.Add(1)
		wiretest.Echo(req, w)
	}
	tcp := startUwsgiServer(t, "tcp", "10.0.0.1", false, count)
	c := wiretest.Dial(t, tcp)
	c.SendAsync(string(uwsgiPacket("REQUEST_METHOD", "GET")))
	c.ExpectClosed()
	if served.Load() != 0 {
		t.Error("a refused peer's request was served")
	}
	// A unix socket has no peer address: it is always allowed.
	unix := startUwsgiServer(t, "unix", "10.0.0.1", false, count)
	c = dialUnix(t, unix)
	c.Send(string(uwsgiPacket("REQUEST_METHOD", "GET")))
	if r := c.Read(false); r.Code != 200 || served.Load() != 1 {
		t.Errorf("unix socket peer: %d, %d served", r.Code, served.Load())
	}
}

// malformedUwsgi are packets whose framing is broken: the connection closes unanswered.
var malformedUwsgi = map[string][]byte{
	"modifier1 not 0":        append([]byte{5}, uwsgiPacket("REQUEST_METHOD", "GET")[1:]...),
	"HTTP instead":           []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
	"header cut short":       {0, 10},
	"vars cut short":         append(uwsgiHeader(100), uwsgiPacket("REQUEST_METHOD", "GET")[4:]...),
	"key past the block":     append(uwsgiHeader(3), 0xff, 0, 'A'),
	"value past the block":   append(uwsgiHeader(7), 1, 0, 'A', 10, 0, 'b', 'c'),
	"value size missing":     append(uwsgiHeader(3), 1, 0, 'A'),
	"byte after the last":    append(uwsgiHeader(7), 1, 0, 'A', 1, 0, 'b', 7),
	"datasize over the vars": append(uwsgiHeader(7), 1, 0, 'A', 1, 0, 'b'),
	// An empty header name would be refused, but the stray byte after it breaks the framing.
	"refusal then bad framing": append(uwsgiHeader(10), append(uwsgiPacket("HTTP_", "")[4:], 9)...),
}

func TestUwsgiMalformedPacketsCloseUnanswered(t *testing.T) {
	srv := newHTTPServer(testLimits, "http", wiretest.Echo)
	srv.uwsgi = testUwsgiPolicy(t, "127.0.0.1")
	for name, packet := range malformedUwsgi {
		for _, piece := range []int{1, 4096} {
			conn := &scriptedConn{input: bytes.Clone(packet), piece: piece}
			c := srv.open(conn)
			c.serve()
			srv.release(c)
			if out := conn.output.String(); out != "" {
				t.Errorf("%s, piece %d: answered %q", name, piece, out)
			}
		}
	}
	// And a server goes on serving after them.
	addr := startUwsgiServer(t, "tcp", "127.0.0.1", false, wiretest.Echo)
	for name, packet := range malformedUwsgi {
		c := wiretest.Dial(t, addr)
		c.SendAsync(string(packet))
		if name == "vars cut short" || name == "header cut short" || name == "datasize over the vars" {
			c.Conn.(*net.TCPConn).CloseWrite()
		}
		c.ExpectClosed()
	}
	c := wiretest.Dial(t, addr)
	c.Send(string(uwsgiPacket("REQUEST_METHOD", "GET")))
	if r := c.Read(false); r.Code != 200 {
		t.Errorf("after malformed packets: %d", r.Code)
	}
}

// Well-framed packets that break the limits or hold what HTTP could not are answered as the
// HTTP engine answers them.
func TestUwsgiRefusals(t *testing.T) {
	lim := testLimits
	lim.RequestLine, lim.Fields, lim.FieldSize = 100, 2, 50
	srv := newHTTPServer(lim, "http", wiretest.Echo)
	srv.uwsgi = testUwsgiPolicy(t, "127.0.0.1")
	for _, test := range []struct {
		name   string
		packet []byte
		status string
	}{
		{"too many headers", uwsgiPacket("HTTP_A", "1", "HTTP_B", "2", "HTTP_C", "3"), "431"},
		{"body headers count", uwsgiPacket("HTTP_A", "1", "HTTP_B", "2", "CONTENT_TYPE", "x"), "431"},
		{"header too large", uwsgiPacket("HTTP_A", strings.Repeat("v", 48)), "431"},
		{"packet over the head limit", uwsgiPacket("X", strings.Repeat("v", 500)), "431"},
		{"request line too long", uwsgiPacket("REQUEST_URI", "/"+strings.Repeat("u", 90)), "414"},
		{"path too long", uwsgiPacket("PATH_INFO", "/"+strings.Repeat("u", 90)), "414"},
		{"bad method", uwsgiPacket("REQUEST_METHOD", "G T"), "400"},
		{"empty method", uwsgiPacket("REQUEST_METHOD", ""), "400"},
		{"bad length", uwsgiPacket("CONTENT_LENGTH", "-1"), "400"},
		{"bad protocol", uwsgiPacket("SERVER_PROTOCOL", "FTP/1"), "400"},
		{"bad header name", uwsgiPacket("HTTP_A:B", "1"), "400"},
		{"empty header name", uwsgiPacket("HTTP_", "1"), "400"},
		{"bad header value", uwsgiPacket("HTTP_A", "1\r\nB: 2"), "400"},
		{"space in the target", uwsgiPacket("REQUEST_URI", "/a b"), "400"},
	} {
		conn := &scriptedConn{input: test.packet, piece: 4096}
		c := srv.open(conn)
		c.serve()
		srv.release(c)
		if out := conn.output.String(); !strings.HasPrefix(out, "HTTP/1.1 "+test.status+" ") {
			t.Errorf("%s: answered %q, want %s", test.name, out, test.status)
		}
	}
}

func TestUwsgiProtocols(t *testing.T) {
	for value, want := range map[string]string{
		"HTTP/1.0": "HTTP/1.0", "HTTP/2.0": "HTTP/2.0", "HTTP/3": "HTTP/3", "HTTP/": "", "HTTP/1.1 ": "", "http/1.1": "",
	} {
		if got := uwsgiProto([]byte(value)); got != want {
			t.Errorf("%q: got %q, want %q", value, got, want)
		}
	}
}

// FuzzUwsgiPacket feeds arbitrary bytes through the engine as uwsgi: it must neither panic
// nor hang, answer only in HTTP, and pass on only headers HTTP could carry.
func FuzzUwsgiPacket(f *testing.F) {
	f.Add(append(bytes.Clone(nginxPost), "hello"...), uint8(3))
	f.Add(uwsgiPacket("REQUEST_METHOD", "HEAD", "HTTP_X", "y"), uint8(200))
	for _, packet := range malformedUwsgi {
		f.Add(packet, uint8(1))
	}
	lim := testLimits
	lim.RequestLine, lim.Fields, lim.FieldSize = 200, 10, 100
	srv := newHTTPServer(lim, "http", wiretest.Echo)
	srv.uwsgi = testUwsgiPolicy(f, "127.0.0.1")
	f.Fuzz(func(t *testing.T, input []byte, piece uint8) {
		if len(input) > uwsgiHeaderSize {
			var v uwsgiVars
			var req httpwire.Request
			rerr, err := parseUwsgiVars(bytes.Clone(input[uwsgiHeaderSize:]), &lim.Limits, &v, &req)
			for _, h := range req.Header {
				if rerr == nil && err == nil && !isToken(h.Name) {
					t.Fatalf("header name %q passed", h.Name)
				}
			}
		}
		conn := &scriptedConn{input: input, piece: int(piece%64) + 1}
		c := srv.open(conn)
		c.serve()
		srv.release(c)
		if out := conn.output.Bytes(); len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
			t.Fatalf("not an HTTP answer: %q", out)
		}
	})
}
