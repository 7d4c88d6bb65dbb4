package worker

import (
	"encoding/binary"
	"sync/atomic"
	"testing"
	"time"

	"gowsgi/httpwire"
	"gowsgi/httpwire/wiretest"
)

// answered reads until the answer on stream is complete, giving back the connection window its
// body takes, and reports false if the connection ends first, with GOAWAY or by closing.
func (r *h2Raw) answered(stream uint32) bool {
	for {
		typ, flags, id, payload, err := r.readFrame()
		switch {
		case err != nil || typ == h2GoAway:
			return false
		case typ == h2Data && len(payload) > 0:
			r.c.Write(h2Frame(nil, h2WindowUpdate, 0, 0, binary.BigEndian.AppendUint32(nil, uint32(len(payload)))))
		}
		if id == stream && (typ == h2Reset || (typ == h2Data || typ == h2Headers) && flags&h2EndStream != 0) {
			return true
		}
	}
}

// A client that opens streams and resets them at once (CVE-2023-44487) is cut off once over its
// budget, and the app sees no more of those requests than that. The client paces itself with a
// request the app must answer after each few resets, as an attacker who knows net/http's own
// bound would: handlers then never wait to start, so that bound (4 × the streams waiting) never
// trips, and only the count of resets can stop it.
func TestHTTP2RapidResetIsCutOff(t *testing.T) {
	const streams = 10
	var calls atomic.Int32
	lim := testLimits
	lim.HTTP2.MaxConcurrentStreams = streams
	addr, client, _ := startTLSServer(t, lim, h2First, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		if string(req.Path) == "/work" {
			calls.Add(1)
			time.Sleep(time.Millisecond) // at work when the reset arrives
		}
		wiretest.Echo(req, w)
	})
	r := dialH2Raw(t, addr)
	r.start()
	work := h2Block(":method", "GET", ":scheme", "https", ":path", "/work", ":authority", "x")
	plain := h2Block(":method", "GET", ":scheme", "https", ":path", "/", ":authority", "x")
	cancel := []byte{0, 0, 0, 8}
	budget := h2ResetBudget(streams)
	resets, stream := 0, uint32(1)
	for resets < 20*budget {
		var b []byte
		for range streams / 2 {
			b = h2Frame(b, h2Headers, h2EndStream|h2EndHeaders, stream, work)
			b = h2Frame(b, h2Reset, 0, stream, cancel)
			stream += 2
		}
		b = h2Frame(b, h2Headers, h2EndStream|h2EndHeaders, stream, plain)
		if _, err := r.c.Write(b); err != nil || !r.answered(stream) {
			break
		}
		resets += streams / 2
		stream += 2
	}
	if resets < budget || resets >= 20*budget {
		t.Errorf("the connection ended after %d resets, want after %d and well before %d", resets, budget, 20*budget)
	}
	if n := int(calls.Load()); n > budget+streams {
		t.Errorf("the app ran %d reset requests, want at most %d", n, budget+streams)
	}
	if _, body, err := get(t, client, newRequest(t, "GET", "https://"+addr+"/", nil)); err != nil || body == "" {
		t.Errorf("another client: %q, %v", body, err)
	}
}

// A HEAD stream ends when its header goes out, which the app may flush and then go on: that is
// a complete answer, and many of them on one connection are no reason to cut it off.
func TestHTTP2HeadAnswersAreNotResets(t *testing.T) {
	addr, _, _ := startTLSServer(t, testLimits, h2First, func(req *httpwire.Request, w httpwire.ResponseWriter) {
		w.WriteHeader([]byte("200 OK"), 200, []httpwire.HeaderField{{Name: []byte("Content-Length"), Value: []byte("5")}})
		w.Flush()
		time.Sleep(time.Millisecond) // the stream ends meanwhile
		w.Write([]byte("hello"))
	})
	r := dialH2Raw(t, addr)
	r.start()
	head := h2Block(":method", "HEAD", ":scheme", "https", ":path", "/", ":authority", "x")
	for i := range uint32(2 * h2ResetBudget(0)) {
		stream := 2*i + 1
		r.write(h2Headers, h2EndStream|h2EndHeaders, stream, head)
		if !r.answered(stream) {
			t.Fatalf("the connection ended after %d HEAD requests", i)
		}
	}
}
