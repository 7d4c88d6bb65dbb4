package wiretest

import (
	"testing"
	"time"
)

func testPipelining(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	c := Dial(t, addr)
	c.Send("GET /1 HTTP/1.1\r\n\r\nPOST /2 HTTP/1.1\r\nContent-Length: 4\r\n\r\nbody" +
		"POST /3 HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\nGET /4 HTTP/1.1\r\n\r\n")
	for _, want := range []string{"/1 ", "/2 body", "/3 ab", "/4 "} {
		r := c.Read(false)
		if got := r.BodyField("path") + " " + r.BodyField("body"); got != want {
			t.Fatalf("got %q, want %q", got, want)
		}
	}
	time.Sleep(50 * time.Millisecond)
	c.Send("GET /5 HTTP/1.1\r\n\r\n")
	if r := c.Read(false); r.BodyField("path") != "/5" {
		t.Fatalf("keep-alive request: %q", r.Body)
	}
}

// A response is not held back while the next pipelined request is still arriving.
func testFlushBeforeWaiting(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	c := Dial(t, addr)
	c.Send("GET /a HTTP/1.1\r\n\r\nGET /b HT")
	if r := c.Read(false); r.BodyField("path") != "/a" {
		t.Fatalf("%q", r.Body)
	}
	c.Send("TP/1.1\r\n\r\n")
	if r := c.Read(false); r.BodyField("path") != "/b" {
		t.Fatalf("%q", r.Body)
	}
}

func testConnectionCloseRequested(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	r, c := RoundTrip(t, addr, "GET / HTTP/1.1\r\nConnection: close\r\n\r\nGET /ignored HTTP/1.1\r\n\r\n")
	if r.Code != 200 || r.Header("Connection") != "close" {
		t.Fatalf("%q %v", r.Status, r.Headers)
	}
	c.ExpectClosed()
}

func testKeepaliveTimeout(t *testing.T, serve Server) {
	lim := DefaultLimits()
	lim.Keepalive = 300 * time.Millisecond
	addr := serve(t, lim, Echo)
	r, c := RoundTrip(t, addr, "GET / HTTP/1.1\r\n\r\n")
	if r.Code != 200 || r.Header("Connection") != "" {
		t.Fatalf("%q %v", r.Status, r.Headers)
	}
	start := time.Now()
	c.ExpectClosed()
	if waited := time.Since(start); waited < 200*time.Millisecond || waited > 2*time.Second {
		t.Fatalf("idle connection closed after %v, want about 300ms", waited)
	}
}

func testKeepaliveOff(t *testing.T, serve Server) {
	lim := DefaultLimits()
	lim.Keepalive = 0
	addr := serve(t, lim, Echo)
	r, c := RoundTrip(t, addr, "GET / HTTP/1.1\r\n\r\n")
	if r.Code != 200 || r.Header("Connection") != "close" {
		t.Fatalf("%q %v", r.Status, r.Headers)
	}
	c.ExpectClosed()
}

func testStalledClientsDoNotBlock(t *testing.T, serve Server) {
	addr := serve(t, DefaultLimits(), Echo)
	for range 50 {
		Dial(t, addr).Send("GET / HTTP/1.1\r\nHost: slow")
	}
	start := time.Now()
	if r, _ := RoundTrip(t, addr, "GET / HTTP/1.1\r\n\r\n"); r.Code != 200 {
		t.Fatalf("%q", r.Status)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Fatalf("normal request took %v behind stalled clients", elapsed)
	}
}
