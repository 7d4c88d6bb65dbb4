package httpwire_test

import (
	"bytes"
	"io"
	"strconv"
	"strings"
	"testing"

	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// serveUwsgi serves packet as one uwsgi connection, arriving piece bytes at a time, with app
// answering, and returns what the engine sent back.
func serveUwsgi(lim httpwire.Limits, packet []byte, piece int, app wiretest.App) string {
	return string(httpwire.ServeScripted(httpwire.NewEngine(lim), bytes.Clone(packet), piece, true, app))
}

// The vars of nginx's packet make the Request, and its HTTP_ vars the headers again.
func TestUwsgiVarsBecomeTheRequest(t *testing.T) {
	var got []string
	var header []string
	serveUwsgi(wiretest.DefaultLimits(), append(bytes.Clone(wiretest.NginxPost), "hello"...), 4096,
		func(req *httpwire.Request, w httpwire.ResponseWriter) {
			body, _ := io.ReadAll(req.Body)
			got = []string{string(req.Method), string(req.RawURI), string(req.Path), string(req.Query), req.Proto,
				req.Scheme, req.RemoteAddr, req.RemotePort, req.ServerName, req.ServerPort,
				strconv.FormatInt(req.ContentLength, 10), string(body)}
			for _, f := range req.Header {
				header = append(header, string(f.Name)+": "+string(f.Value))
			}
			wiretest.WriteText(w, "200 OK", "")
		})
	// PATH_INFO arrives decoded, and Path is percent-encoded.
	want := []string{"POST", "/p%25q?x=1", "/p%25q", "x=1", "HTTP/1.1", "https",
		"203.0.113.9", "40123", "example.com", "443", "5", "hello"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("request: got %q, want %q", got, want)
	}
	wantHeader := "HOST: example.com|X-FORWARDED-FOR: 198.51.100.1|Content-Type: text/plain|Content-Length: 5"
	if strings.Join(header, "|") != wantHeader {
		t.Errorf("headers: got %q, want %q", header, wantHeader)
	}
}

func TestUwsgiMalformedPacketsCloseUnanswered(t *testing.T) {
	for name, packet := range wiretest.MalformedUwsgi {
		for _, piece := range []int{1, 4096} {
			if out := serveUwsgi(wiretest.DefaultLimits(), packet, piece, wiretest.Echo); out != "" {
				t.Errorf("%s, piece %d: answered %q", name, piece, out)
			}
		}
	}
}

// Well-framed packets that break the limits or hold what HTTP could not are answered as
// request heads are.
func TestUwsgiRefusals(t *testing.T) {
	lim := wiretest.DefaultLimits()
	lim.RequestLine, lim.Fields, lim.FieldSize = 100, 2, 50
	for _, test := range []struct {
		name   string
		packet []byte
		status string
	}{
		{"too many headers", wiretest.UwsgiPacket("HTTP_A", "1", "HTTP_B", "2", "HTTP_C", "3"), "431"},
		{"body headers count", wiretest.UwsgiPacket("HTTP_A", "1", "HTTP_B", "2", "CONTENT_TYPE", "x"), "431"},
		{"header too large", wiretest.UwsgiPacket("HTTP_A", strings.Repeat("v", 48)), "431"},
		{"packet over the head limit", wiretest.UwsgiPacket("X", strings.Repeat("v", 500)), "431"},
		{"request line too long", wiretest.UwsgiPacket("REQUEST_URI", "/"+strings.Repeat("u", 90)), "414"},
		{"path too long", wiretest.UwsgiPacket("PATH_INFO", "/"+strings.Repeat("u", 90)), "414"},
		{"bad method", wiretest.UwsgiPacket("REQUEST_METHOD", "G T"), "400"},
		{"empty method", wiretest.UwsgiPacket("REQUEST_METHOD", ""), "400"},
		{"bad length", wiretest.UwsgiPacket("CONTENT_LENGTH", "-1"), "400"},
		{"bad protocol", wiretest.UwsgiPacket("SERVER_PROTOCOL", "FTP/1"), "400"},
		{"bad header name", wiretest.UwsgiPacket("HTTP_A:B", "1"), "400"},
		{"empty header name", wiretest.UwsgiPacket("HTTP_", "1"), "400"},
		{"bad header value", wiretest.UwsgiPacket("HTTP_A", "1\r\nB: 2"), "400"},
		{"space in the target", wiretest.UwsgiPacket("REQUEST_URI", "/a b"), "400"},
	} {
		if out := serveUwsgi(lim, test.packet, 4096, wiretest.Echo); !strings.HasPrefix(out, "HTTP/1.1 "+test.status+" ") {
			t.Errorf("%s: answered %q, want %s", test.name, out, test.status)
		}
	}
}

// SERVER_PROTOCOL reaches the app as sent when it looks like an HTTP version, and anything
// else is refused.
func TestUwsgiProtocols(t *testing.T) {
	for value, want := range map[string]string{
		"HTTP/1.0": "HTTP/1.0", "HTTP/2.0": "HTTP/2.0", "HTTP/3": "HTTP/3", "HTTP/": "", "HTTP/1.1 ": "", "http/1.1": "",
	} {
		out := serveUwsgi(wiretest.DefaultLimits(), wiretest.UwsgiPacket("SERVER_PROTOCOL", value), 4096, wiretest.Echo)
		switch {
		case want == "" && !strings.HasPrefix(out, "HTTP/1.1 400 "):
			t.Errorf("%q: answered %q, want 400", value, out)
		case want != "" && !strings.Contains(out, "\nproto="+want+"\n"):
			t.Errorf("%q: answered %q, want SERVER_PROTOCOL %q", value, out, want)
		}
	}
}

// FuzzUwsgiPacket feeds arbitrary bytes through the engine as uwsgi: it must neither panic
// nor hang, answer only in HTTP, and pass on only headers HTTP could carry.
func FuzzUwsgiPacket(f *testing.F) {
	f.Add(append(bytes.Clone(wiretest.NginxPost), "hello"...), uint8(3))
	f.Add(wiretest.UwsgiPacket("REQUEST_METHOD", "HEAD", "HTTP_X", "y"), uint8(200))
	for _, packet := range wiretest.MalformedUwsgi {
		f.Add(packet, uint8(1))
	}
	lim := wiretest.DefaultLimits()
	lim.RequestLine, lim.Fields, lim.FieldSize = 200, 10, 100
	f.Fuzz(func(t *testing.T, input []byte, piece uint8) {
		out := serveUwsgi(lim, input, int(piece%64)+1, func(req *httpwire.Request, w httpwire.ResponseWriter) {
			for _, h := range req.Header {
				if !wiretest.IsToken(string(h.Name)) {
					t.Fatalf("header name %q passed", h.Name)
				}
			}
			wiretest.Echo(req, w)
		})
		if out != "" && !strings.HasPrefix(out, "HTTP/1.1 ") {
			t.Fatalf("not an HTTP answer: %q", out)
		}
	})
}
