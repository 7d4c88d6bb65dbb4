package wiretest

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

var bigBody = bytes.Repeat([]byte("abcdefghij"), 100000)

// responder answers according to the request path, one behaviour per path.
func responder(req *httpwire.Request, w httpwire.ResponseWriter) {
	ok := []byte("200 OK")
	switch string(req.Path) {
	case "/stream":
		w.WriteHeader(ok, 200, Fields("Content-Type", "text/plain"))
		w.Write([]byte("hello"))
		w.Flush()
		w.Write([]byte(" world"))
	case "/length":
		w.WriteHeader(ok, 200, Fields("Content-Length", "12"))
		w.Write([]byte("hello"))
		w.Write([]byte(" world!"))
	case "/truncate":
		w.WriteHeader(ok, 200, Fields("Content-Length", "5"))
		w.Write([]byte("hello world"))
		w.Write([]byte("more"))
	case "/short":
		w.WriteHeader(ok, 200, Fields("Content-Length", "10"))
		w.Write([]byte("hello"))
	case "/204", "/304":
		code, _ := strconv.Atoi(string(req.Path[1:]))
		w.WriteHeader([]byte(string(req.Path[1:])+" X"), code, Fields("Content-Length", "5", "ETag", "x"))
		w.Write([]byte("hello"))
	case "/hop":
		w.WriteHeader(ok, 200, Fields("Connection", "keep-alive", "Keep-Alive", "timeout=5",
			"Proxy-Authenticate", "x", "proxy-authorization", "x", "TE", "x", "Trailer", "x",
			"Transfer-Encoding", "chunked", "UPGRADE", "h2c", "X-Custom", "kept"))
		w.Write([]byte("hop"))
	case "/close":
		w.WriteHeader(ok, 200, Fields("Content-Length", "2", "connection", "Close"))
		w.Write([]byte("ok"))
	case "/own":
		w.WriteHeader(ok, 200, Fields("Server", "mine", "date", "Tue, 01 Jan 2030 00:00:00 GMT", "Content-Length", "0"))
	case "/big":
		w.WriteHeader(ok, 200, nil)
		w.Write(bigBody)
	case "/big-length":
		w.WriteHeader(ok, 200, Fields("Content-Length", strconv.Itoa(len(bigBody))))
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
		WriteText(w, "200 OK", "default")
	}
}

func testResponseFraming(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), responder)
	c := Dial(t, addr)
	c.Send("GET /stream HTTP/1.1\r\n\r\nGET /length HTTP/1.1\r\n\r\nGET /truncate HTTP/1.1\r\n\r\n" +
		"GET /204 HTTP/1.1\r\n\r\nGET /304 HTTP/1.1\r\n\r\nHEAD /length HTTP/1.1\r\n\r\nHEAD /stream HTTP/1.1\r\n\r\n" +
		"GET /big HTTP/1.1\r\n\r\nGET /big-length HTTP/1.1\r\n\r\nGET /end HTTP/1.1\r\n\r\n")

	r := c.Read(false)
	if r.Proto != "HTTP/1.1" || r.Status != "200 OK" || !r.Chunked || r.Header("Content-Length") != "" {
		t.Errorf("/stream: %q %v", r.Status, r.Headers)
	}
	if r.RawBody != "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n" {
		t.Errorf("/stream framing %q", r.RawBody)
	}
	if r = c.Read(false); r.Body != "hello world!" || r.Chunked {
		t.Errorf("/length: %q %v", r.Body, r.Headers)
	}
	if r = c.Read(false); r.Body != "hello" {
		t.Errorf("/truncate: %q", r.Body)
	}
	r = c.Read(false)
	if r.Code != 204 || r.Header("Content-Length") != "" || r.Header("Transfer-Encoding") != "" || r.Header("ETag") != "x" {
		t.Errorf("/204: %q %v", r.Status, r.Headers)
	}
	r = c.Read(false)
	if r.Code != 304 || r.Header("Content-Length") != "5" || r.Header("Transfer-Encoding") != "" {
		t.Errorf("/304: %q %v", r.Status, r.Headers)
	}
	r = c.Read(true)
	if r.Header("Content-Length") != "12" || r.Header("Transfer-Encoding") != "" {
		t.Errorf("HEAD /length: %v", r.Headers)
	}
	r = c.Read(true)
	if r.Header("Content-Length") != "" || r.Header("Transfer-Encoding") != "" || r.Header("Connection") != "" {
		t.Errorf("HEAD /stream: %v", r.Headers)
	}
	if r = c.Read(false); r.Body != string(bigBody) || !r.Chunked {
		t.Errorf("/big: %d bytes, chunked %v", len(r.Body), r.Chunked)
	}
	if r = c.Read(false); r.Body != string(bigBody) || r.Chunked {
		t.Errorf("/big-length: %d bytes, chunked %v", len(r.Body), r.Chunked)
	}
	if r = c.Read(false); r.Body != "default" {
		t.Errorf("/end: %q", r.Body)
	}
	c.ExpectOpen()
}

func testResponseHeaders(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), responder)
	r, c := RoundTrip(t, addr, "GET /hop HTTP/1.1\r\n\r\n")
	var names []string
	for _, h := range r.Headers {
		names = append(names, h[0])
	}
	if got := strings.Join(names, ","); got != "X-Custom,Server,Date,Transfer-Encoding" {
		t.Errorf("headers %s", got)
	}
	if r.Header("Server") != "gowsgi" || r.Body != "hop" {
		t.Errorf("%v %q", r.Headers, r.Body)
	}
	date, err := time.Parse("Mon, 02 Jan 2006 15:04:05 GMT", r.Header("Date"))
	if err != nil || time.Since(date).Abs() > 5*time.Second {
		t.Errorf("Date %q: %v", r.Header("Date"), err)
	}
	c.Send("GET /own HTTP/1.1\r\n\r\n")
	r = c.Read(false)
	if r.Header("Server") != "mine" || r.Count("Server") != 1 || r.Header("Date") != "Tue, 01 Jan 2030 00:00:00 GMT" || r.Count("Date") != 1 {
		t.Errorf("app's Server and Date: %v", r.Headers)
	}
	c.Send("GET /close HTTP/1.1\r\n\r\n")
	if r = c.Read(false); r.Header("Connection") != "close" || r.Count("Connection") != 1 {
		t.Errorf("app's Connection: close: %v", r.Headers)
	}
	c.ExpectClosed()
}

func testShortContentLengthCloses(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), responder)
	c := Dial(t, addr)
	c.Send("GET /short HTTP/1.1\r\n\r\n")
	r := c.Read(true)
	if r.Header("Content-Length") != "10" {
		t.Fatalf("%v", r.Headers)
	}
	c.ReadN(new(bytes.Buffer), 5)
	c.ExpectClosed()
}

func testHTTP10Responses(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), responder)
	r, c := RoundTrip(t, addr, "GET /stream HTTP/1.0\r\n\r\n")
	if r.Proto != "HTTP/1.1" || r.Chunked || r.Body != "hello world" || r.Header("Connection") != "close" {
		t.Errorf("HTTP/1.0 without length: %q %v %q", r.Proto, r.Headers, r.Body)
	}
	c.ExpectClosed()

	c = Dial(t, addr)
	c.Send("GET /length HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
	if r = c.Read(false); r.Body != "hello world!" || r.Header("Connection") != "keep-alive" {
		t.Errorf("HTTP/1.0 keep-alive: %v %q", r.Headers, r.Body)
	}
	c.Send("GET /length HTTP/1.0\r\n\r\n")
	if r = c.Read(false); r.Header("Connection") != "close" {
		t.Errorf("HTTP/1.0 default: %v", r.Headers)
	}
	c.ExpectClosed()
}

func testAbort(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), responder)
	c := Dial(t, addr)
	c.Send("GET /abort HTTP/1.1\r\n\r\n")
	r := c.Read(true)
	if !strings.EqualFold(r.Header("Transfer-Encoding"), "chunked") {
		t.Fatalf("%v", r.Headers)
	}
	if c.Line() != "7" || c.Line() != "partial" {
		t.Fatal("the flushed chunk is missing")
	}
	c.ExpectClosed() // no terminating chunk

	// Aborted before its first byte, the response vanishes; the one before it does not.
	c = Dial(t, addr)
	c.Send("GET /first HTTP/1.1\r\n\r\nGET /abort-early HTTP/1.1\r\n\r\n")
	if r = c.Read(false); r.Body != "default" {
		t.Fatalf("%q", r.Body)
	}
	c.ExpectClosed()
}

func testNoResponseIs500(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), responder)
	r, c := RoundTrip(t, addr, "GET /nothing HTTP/1.1\r\n\r\n")
	if r.Code != 500 || r.Header("Connection") != "close" {
		t.Fatalf("%q %v", r.Status, r.Headers)
	}
	c.ExpectClosed()
}

func testHeaderReplacedBeforeFirstByte(t *testing.T, serve Server) {
	g := NewGate(false)
	sent := make(chan [2]bool, 1)
	sentEarly := make(chan bool, 1)
	addr := serve(t, DefaultLimits(), func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader([]byte("200 OK"), 200, Fields("X-First", "1", "Content-Length", "3"))
		w.Flush() // commits: later WriteHeader calls are refused
		before := w.HeaderSent()
		sent <- [2]bool{before, w.WriteHeader([]byte("500 Oops"), 500, nil) == nil}
		w.Write([]byte("abc"))
	})
	addr2 := serve(t, DefaultLimits(), func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader([]byte("200 OK"), 200, Fields("X-First", "1"))
		g.Entered <- struct{}{}
		<-g.Proceed
		sentEarly <- w.HeaderSent()
		w.WriteHeader([]byte("503 Busy"), 503, Fields("Content-Length", "4"))
		w.Write([]byte("busy"))
	})
	c := Dial(t, addr2)
	c.Send("GET / HTTP/1.1\r\n\r\n")
	WaitFor(t, g.Entered)
	c.ExpectOpen() // nothing on the wire yet
	g.Proceed <- struct{}{}
	r := c.Read(false)
	if <-sentEarly {
		t.Error("HeaderSent true before any Write or Flush")
	}
	if r.Code != 503 || r.Header("X-First") != "" || r.Body != "busy" {
		t.Errorf("replaced header: %q %v %q", r.Status, r.Headers, r.Body)
	}

	r, _ = RoundTrip(t, addr, "GET / HTTP/1.1\r\n\r\n")
	if s := <-sent; !s[0] || s[1] || r.Code != 200 || r.Body != "abc" {
		t.Errorf("after Flush: sent %v, rewrite accepted %v, response %q %q", s[0], s[1], r.Status, r.Body)
	}
}

func testWriteErrorWhenClientGone(t *testing.T, serve Server) {
	result := make(chan error, 1)
	addr := serve(t, DefaultLimits(), func(req *httpwire.Request, w httpwire.ResponseWriter) {
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
	c := Dial(t, addr)
	c.Send("GET / HTTP/1.1\r\n\r\n")
	c.Conn.Close()
	select {
	case err := <-result:
		if err == nil {
			t.Fatal("writes to a closed client kept succeeding")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("write did not fail")
	}
}

func testSendFile(t *testing.T, serve Server) {
	content := bytes.Repeat([]byte("0123456789"), 300000)
	path := filepath.Join(t.TempDir(), "data")
	if err := os.WriteFile(path, content, 0o600); err != nil {
		t.Fatal(err)
	}
	app := func(req *httpwire.Request, w httpwire.ResponseWriter) {
		q := strings.Split(string(req.Query), ",") // offset,count,declared length ("" for none)
		off, _ := strconv.ParseInt(q[0], 10, 64)
		n, _ := strconv.ParseInt(q[1], 10, 64)
		var h []httpwire.HeaderField
		if q[2] != "" {
			h = Fields("Content-Length", q[2])
		}
		f, _ := os.Open(path)
		defer f.Close()
		w.WriteHeader([]byte("200 OK"), 200, h)
		w.SendFile(f, off, n)
	}
	for _, sendfile := range []bool{true, false} {
		lim := DefaultLimits()
		lim.Sendfile = sendfile
		addr := serve(t, lim, app)
		c := Dial(t, addr)
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
			c.Send("GET /?" + tc.query + " HTTP/1.1\r\n\r\n")
			r := c.Read(false)
			if r.Body != string(tc.want) || r.Chunked != tc.chunked {
				t.Errorf("sendfile %v, %s: %d bytes, chunked %v", sendfile, tc.query, len(r.Body), r.Chunked)
			}
		}
		c.Send("HEAD /?0,100,100 HTTP/1.1\r\n\r\n")
		if r := c.Read(true); r.Header("Content-Length") != "100" {
			t.Errorf("HEAD: %v", r.Headers)
		}
		c.ExpectOpen()
		// A file that ends before the promised count breaks the framing: the connection closes.
		c.Send("GET /?" + strconv.Itoa(len(content)-10) + ",100, HTTP/1.1\r\n\r\n")
		r := c.Read(true)
		if c.Line() != "64" {
			t.Errorf("sendfile %v: chunk header for the promised size missing (%v)", sendfile, r.Headers)
		}
		c.ReadN(new(bytes.Buffer), 10)
		c.ExpectClosed()
	}
}
