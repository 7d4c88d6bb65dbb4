package wsgi

import (
	"runtime"
	"strings"
	"testing"

	"gowsgi/httpwire"
)

func TestFailingHandlerAnswers500WithTheReason(t *testing.T) {
	h, err := FailingHandler("Failed to load application \"x:app\": import raised:\nTraceback … ✗")
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		req := &httpwire.Request{Method: []byte("GET"), RawURI: []byte("/"), Path: []byte("/"), Proto: "HTTP/1.1",
			Body: strings.NewReader(""), Scheme: "http"}
		rec := &recorder{}
		runtime.LockOSThread()
		h.Serve(req, rec)
		runtime.UnlockOSThread()
		if rec.code != 500 || !strings.HasSuffix(rec.body.String(), "Traceback … ✗") {
			t.Fatalf("got %d %q", rec.code, rec.body.String())
		}
		if !strings.Contains(strings.Join(rec.header, "|"), "Content-Type: text/plain; charset=utf-8") {
			t.Errorf("headers %q", rec.header)
		}
	}
}
