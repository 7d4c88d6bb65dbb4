package worker

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"gowsgi/httpwire"
)

func fields(kv ...string) []httpwire.HeaderField {
	var out []httpwire.HeaderField
	for i := 0; i < len(kv); i += 2 {
		out = append(out, httpwire.HeaderField{Name: []byte(kv[i]), Value: []byte(kv[i+1])})
	}
	return out
}

var bigBody = bytes.Repeat([]byte("abcdefghij"), 100000)

// responder answers according to the request path, one behaviour per path.
func responder(req *httpwire.Request, w httpwire.ResponseWriter) {
	ok := []byte("200 OK")
	switch string(req.Path) {
	case "/stream":
		w.WriteHeader(ok, 200, fields("Content-Type", "text/plain"))
		w.Write([]byte("hello"))
		w.Flush()
		w.Write([]byte(" world"))
	case "/length":
		w.WriteHeader(ok, 200, fields("Content-Length", "12"))
		w.Write([]byte("hello"))
		w.Write([]byte(" world!"))
	case "/truncate":
		w.WriteHeader(ok, 200, fields("Content-Length", "5"))
		w.Write([]byte("hello world"))
		w.Write([]byte("more"))
	case "/short":
		w.WriteHeader(ok, 200, fields("Content-Length", "10"))
		w.Write([]byte("hello"))
	case "/204", "/304":
		code, _ := strconv.Atoi(string(req.Path[1:]))
		w.WriteHeader([]byte(string(req.Path[1:])+" X"), code, fields("Content-Length", "5", "ETag", "x"))
		w.Write([]byte("hello"))
	case "/hop":
		w.WriteHeader(ok, 200, fields("Connection", "keep-alive", "Keep-Alive", "timeout=5",
			"Proxy-Authenticate", "x", "proxy-authorization", "x", "TE", "x", "Trailer", "x",
			"Transfer-Encoding", "chunked", "UPGRADE", "h2c", "X-Custom", "kept"))
		w.Write([]byte("hop"))
	case "/close":
		w.WriteHeader(ok, 200, fields("Content-Length", "2", "connection", "Close"))
		w.Write([]byte("ok"))
	case "/own":
		w.WriteHeader(ok, 200, fields("Server", "mine", "date", "Tue, 01 Jan 2030 00:00:00 GMT", "Content-Length", "0"))
	case "/big":
		w.WriteHeader(ok, 200, nil)
		w.Write(bigBody)
	case "/big-length":
		w.WriteHeader(ok, 200, fields("Content-Length", strconv.Itoa(len(bigBody))))
		w.Write(bigBody)
	case "/abort":
		w.WriteHeader(ok, 200, nil)
		w.Write([]byte("partial"))
		w.Flush()
		w.Abort()
	case "/abort-early":
		w.WriteHeader(ok, 200, nil)
		w.Abort()
	case "/nothing":
	default:
		writeText(w, "200 OK", "default")
	}
}

func TestHTTPResponseFraming(t *testing.T) {
	addr, _ := startServer(t, testLimits, responder)
	c := dial(t, addr)
	c.send("GET /stream HTTP/1.1\r\n\r\nGET /length HTTP/1.1\r\n\r\nGET /truncate HTTP/1.1\r\n\r\n" +
		"GET /204 HTTP/1.1\r\n\r\nGET /304 HTTP/1.1\r\n\r\nHEAD /length HTTP/1.1\r\n\r\nHEAD /stream HTTP/1.1\r\n\r\n" +
		"GET /big HTTP/1.1\r\n\r\nGET /big-length HTTP/1.1\r\n\r\nGET /end HTTP/1.1\r\n\r\n")

	r := c.read(false)
	if r.proto != "HTTP/1.1" || r.status != "200 OK" || !r.chunked || r.header("Content-Length") != "" {
		t.Errorf("/stream: %q %v", r.status, r.headers)
	}
	if r.rawBody != "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" {
		t.Errorf("/stream framing %q", r.rawBody)
	}
	if r = c.read(false); r.body != "hello world!" || r.chunked {
		t.Errorf("/length: %q %v", r.body, r.headers)
	}
	if r = c.read(false); r.body != "hello" {
		t.Errorf("/truncate: %q", r.body)
	}
	r = c.read(false)
	if r.code != 204 || r.header("Content-Length") != "" || r.header("Transfer-Encoding") != "" || r.header("ETag") != "x" {
		t.Errorf("/204: %q %v", r.status, r.headers)
	}
	r = c.read(false)
	if r.code != 304 || r.header("Content-Length") != "5" || r.header("Transfer-Encoding") != "" {
		t.Errorf("/304: %q %v", r.status, r.headers)
	}
	r = c.read(true)
	if r.header("Content-Length") != "12" || r.header("Transfer-Encoding") != "" {
		t.Errorf("HEAD /length: %v", r.headers)
	}
	r = c.read(true)
	if r.header("Content-Length") != "" || r.header("Transfer-Encoding") != "" || r.header("Connection") != "" {
		t.Errorf("HEAD /stream: %v", r.headers)
	}
	if r = c.read(false); r.body != string(bigBody) || !r.chunked {
		t.Errorf("/big: %d bytes, chunked %v", len(r.body), r.chunked)
	}
	if r = c.read(false); r.body != string(bigBody) || r.chunked {
		t.Errorf("/big-length: %d bytes, chunked %v", len(r.body), r.chunked)
	}
	if r = c.read(false); r.body != "default" {
		t.Errorf("/end: %q", r.body)
	}
	c.expectOpen()
}

func TestHTTPResponseHeaders(t *testing.T) {
	addr, _ := startServer(t, testLimits, responder)
	r, c := roundTrip(t, addr, "GET /hop HTTP/1.1\r\n\r\n")
	var names []string
	for _, h := range r.headers {
		names = append(names, h[0])
	}
	if got := strings.Join(names, ","); got != "X-Custom,Server,Date,Transfer-Encoding" {
		t.Errorf("headers %s", got)
	}
	if r.header("Server") != "gowsgi" || r.body != "hop" {
		t.Errorf("%v %q", r.headers, r.body)
	}
	date, err := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", r.header("Date"))
	if err != nil || time.Since(date).Abs() > 5*time.Second {
		t.Errorf("Date %q: %v", r.header("Date"), err)
	}
	c.send("GET /own HTTP/1.1\r\n\r\n")
	r = c.read(false)
	if r.header("Server") != "mine" || r.count("Server") != 1 || r.header("Date") != "Tue, 01 Jan 2030 00:00:00 GMT" || r.count("Date") != 1 {
		t.Errorf("app's Server and Date: %v", r.headers)
	}
	c.send("GET /close HTTP/1.1\r\n\r\n")
	if r = c.read(false); r.header("Connection") != "close" || r.count("Connection") != 1 {
		t.Errorf("app's Connection: close: %v", r.headers)
	}
	c.expectClosed()
}

func TestHTTPShortContentLengthCloses(t *testing.T) {
	addr, _ := startServer(t, testLimits, responder)
	c := dial(t, addr)
	c.send("GET /short HTTP/1.1\r\n\r\n")
	r := c.read(true)
	if r.header("Content-Length") != "10" {
		t.Fatalf("%v", r.headers)
	}
	c.readN(new(bytes.Buffer), 5)
	c.expectClosed()
}

func TestHTTP10Responses(t *testing.T) {
	addr, _ := startServer(t, testLimits, responder)
	r, c := roundTrip(t, addr, "GET /stream HTTP/1.0\r\n\r\n")
	if r.proto != "HTTP/1.1" || r.chunked || r.body != "hello world" || r.header("Connection") != "close" {
		t.Errorf("HTTP/1.0 without length: %q %v %q", r.proto, r.headers, r.body)
	}
	c.expectClosed()

	c = dial(t, addr)
	c.send("GET /length HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if r = c.read(false); r.body != "hello world!" || r.header("Connection") != "keep-alive" {
		t.Errorf("HTTP/1.0 keep-alive: %v %q", r.headers, r.body)
	}
	c.send("GET /length HTTP/1.0\r\n\r\n")
	if r = c.read(false); r.header("Connection") != "close" {
		t.Errorf("HTTP/1.0 default: %v", r.headers)
	}
	c.expectClosed()
}

func TestHTTPAbort(t *testing.T) {
	addr, _ := startServer(t, testLimits, responder)
	c := dial(t, addr)
	c.send("GET /abort HTTP/1.1\r\n\r\n")
	r := c.read(true)
	if !strings.EqualFold(r.header("Transfer-Encoding"), "chunked") {
		t.Fatalf("%v", r.headers)
	}
	if c.line() != "7" || c.line() != "partial" {
		t.Fatal("the flushed chunk is missing")
	}
	c.expectClosed() // no terminating chunk

	// Aborted before its first byte, the response vanishes; the one before it does not.
	c = dial(t, addr)
	c.send("GET /first HTTP/1.1\r\n\r\nGET /abort-early HTTP/1.1\r\n\r\n")
	if r = c.read(false); r.body != "default" {
		t.Fatalf("%q", r.body)
	}
	c.expectClosed()
}

func TestHTTPNoResponseIs500(t *testing.T) {
	addr, _ := startServer(t, testLimits, responder)
	r, c := roundTrip(t, addr, "GET /nothing HTTP/1.1\r\n\r\n")
	if r.code != 500 || r.header("Connection") != "close" {
		t.Fatalf("%q %v", r.status, r.headers)
	}
	c.expectClosed()
}

func TestHTTPHeaderReplacedBeforeFirstByte(t *testing.T) {
	g := newGate(false)
	sent := make(chan [2]bool, 1)
	sentEarly := make(chan bool, 1)
	addr, _ := startServer(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader([]byte("200 OK"), 200, fields("X-First", "1", "Content-Length", "3"))
		w.Flush() // commits: later WriteHeader calls are refused
		before := w.HeaderSent()
		sent <- [2]bool{before, w.WriteHeader([]byte("500 Oops"), 500, nil) == nil}
		w.Write([]byte("abc"))
	})
	addr2, _ := startServer(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader([]byte("200 OK"), 200, fields("X-First", "1"))
		g.entered <- struct{}{}
		<-g.proceed
		sentEarly <- w.HeaderSent()
		w.WriteHeader([]byte("503 Busy"), 503, fields("Content-Length", "4"))
		w.Write([]byte("busy"))
	})
	c := dial(t, addr2)
	c.send("GET / HTTP/1.1\r\n\r\n")
	waitFor(t, g.entered)
	c.expectOpen() // nothing on the wire yet
	g.proceed <- struct{}{}
	r := c.read(false)
	if <-sentEarly {
		t.Error("HeaderSent true before any Write or Flush")
	}
	if r.code != 503 || r.header("X-First") != "" || r.body != "busy" {
		t.Errorf("replaced header: %q %v %q", r.status, r.headers, r.body)
	}

	r, _ = roundTrip(t, addr, "GET / HTTP/1.1\r\n\r\n")
	if s := <-sent; !s[0] || s[1] || r.code != 200 || r.body != "abc" {
		t.Errorf("after Flush: sent %v, rewrite accepted %v, response %q %q", s[0], s[1], r.status, r.body)
	}
}

func TestHTTPWriteErrorWhenClientGone(t *testing.T) {
	result := make(chan error, 1)
	addr, _ := startServer(t, testLimits, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader([]byte("200 OK"), 200, nil)
		chunk := make([]byte, 64<<10)
		for range 2000 {
			if _, err := w.Write(chunk); err != nil {
				result <- err
				return
			}
		}
		result <- nil
	})
	c := dial(t, addr)
	c.send("GET / HTTP/1.1\r\n\r\n")
	c.nc.Close()
	select {
	case err := <-result:
		if err == nil {
			t.Fatal("writes to a closed client kept succeeding")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write did not fail")
	}
}

func TestHTTPSendFile(t *testing.T) {
	content := bytes.Repeat([]byte("0123456789"), 300000)
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	serve := func(req *httpwire.Request, w httpwire.ResponseWriter) {
		q := strings.Split(string(req.Query), ",") // offset,count,declared length ("" for none)
		off, _ := strconv.ParseInt(q[0], 10, 64)
		n, _ := strconv.ParseInt(q[1], 10, 64)
		var h []httpwire.HeaderField
		if q[2] != "" {
			h = fields("Content-Length", q[2])
		}
		f, _ := os.Open(path)
		defer f.Close()
		w.WriteHeader([]byte("200 OK"), 200, h)
		w.SendFile(f, off, n)
	}
	for _, sendfile := range []bool{true, false} {
		lim := testLimits
		lim.Sendfile = sendfile
		addr, _ := startServer(t, lim, serve)
		c := dial(t, addr)
		for _, tc := range []struct {
			query   string
			want    []byte
			chunked bool
		}{
			{"10,100,100", content[10:110], false},
			{"7,-1,", content[7:], true},
			{"0,2000000,", content[:2000000], true},
			{"5,100,50", content[5:55], false},
			{"0,-1," + strconv.Itoa(len(content)), content, false},
		} {
			c.send("GET /?" + tc.query + " HTTP/1.1\r\n\r\n")
			r := c.read(false)
			if r.body != string(tc.want) || r.chunked != tc.chunked {
				t.Errorf("sendfile %v, %s: %d bytes, chunked %v", sendfile, tc.query, len(r.body), r.chunked)
			}
		}
		c.send("HEAD /?0,100,100 HTTP/1.1\r\n\r\n")
		if r := c.read(true); r.header("Content-Length") != "100" {
			t.Errorf("HEAD: %v", r.headers)
		}
		c.expectOpen()
		// A file that ends before the promised count breaks the framing: the connection closes.
		c.send("GET /?" + strconv.Itoa(len(content)-10) + ",100, HTTP/1.1\r\n\r\n")
		r := c.read(true)
		if c.line() != "64" {
			t.Errorf("sendfile %v: chunk header for the promised size missing (%v)", sendfile, r.headers)
		}
		c.readN(new(bytes.Buffer), 10)
		c.expectClosed()
	}
}
