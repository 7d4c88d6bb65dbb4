package wsgi

import (
	"os"
	"runtime"
	"strings"
	"testing"

	"gowsgi/httpwire"
	"gowsgi/pyembed"
)

// discard is an httpwire.ResponseWriter that costs next to nothing, so that a benchmark measures the
// request path and not the recording of its output.
type discard struct {
	code    int
	written int
	sent    bool
}

func (d *discard) WriteHeader(status []byte, code int, header []httpwire.HeaderField) error {
	d.code = code
	return nil
}
func (d *discard) Write(p []byte) (int, error) {
	d.sent = true
	d.written += len(p)
	return len(p), nil
}
func (d *discard) Flush() error                            { d.sent = true; return nil }
func (d *discard) HeaderSent() bool                        { return d.sent }
func (d *discard) Abort()                                  {}
func (d *discard) SendFile(f *os.File, off, n int64) error { d.sent = true; return nil }
func (d *discard) reset()                                  { *d = discard{} }
func (d *discard) check(b *testing.B, code int, written int) {
	if d.code != code || d.written != written {
		b.Fatalf("got %d with %d body bytes, want %d with %d", d.code, d.written, code, written)
	}
}

// benchmarkHello serves the hello app (apps.hello: a list body of 12 bytes, no router) through
// Handler.Serve in process: environ build, app call and response collection, with no socket.
func benchmarkHello(b *testing.B, header ...string) {
	app, err := pyembed.LoadApp("apps", "hello", false, "")
	if err != nil {
		b.Fatal(err)
	}
	h := NewHandler(app, "")
	req := &httpwire.Request{
		Method: []byte("GET"), RawURI: []byte("/"), Path: []byte("/"), Proto: "HTTP/1.1",
		Body: strings.NewReader(""), RemoteAddr: "127.0.0.1", RemotePort: "40000",
		ServerName: "127.0.0.1", ServerPort: "8000", Scheme: "http",
	}
	for _, field := range header {
		name, value, _ := strings.Cut(field, ": ")
		req.Header = append(req.Header, httpwire.HeaderField{Name: []byte(name), Value: []byte(value)})
	}
	serveRepeatedly(b, h, req)
}

// BenchmarkServeHello is the request wrk sends: a Host header and nothing else.
func BenchmarkServeHello(b *testing.B) {
	benchmarkHello(b, "Host: 127.0.0.1:8000")
}

// BenchmarkServeHelloBrowser is the request a browser sends, with its usual headers.
func BenchmarkServeHelloBrowser(b *testing.B) {
	benchmarkHello(b, "Host: example.com",
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
		"Accept: text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
		"Accept-Language: en-US,en;q=0.5", "Accept-Encoding: gzip, deflate, br",
		"Connection: keep-alive", "Cookie: session=abc123; theme=dark",
		"Upgrade-Insecure-Requests: 1", "Sec-Fetch-Dest: document", "Sec-Fetch-Mode: navigate",
		"Sec-Fetch-Site: none", "Priority: u=0, i")
}

// BenchmarkServeFlask serves examples/flask-hello in process.
func BenchmarkServeFlask(b *testing.B) {
	app, err := pyembed.LoadApp("app", "app", false, "") // examples/flask-hello, on sys.path
	if err != nil {
		b.Fatal(err)
	}
	h := NewHandler(app, "")
	req := &httpwire.Request{
		Method: []byte("GET"), RawURI: []byte("/"), Path: []byte("/"), Proto: "HTTP/1.1",
		Body: strings.NewReader(""), RemoteAddr: "127.0.0.1", RemotePort: "40000",
		ServerName: "127.0.0.1", ServerPort: "8000", Scheme: "http",
		Header: []httpwire.HeaderField{{Name: []byte("Host"), Value: []byte("127.0.0.1:8000")}},
	}
	serveRepeatedly(b, h, req)
}

// serveRepeatedly measures h serving req on one locked thread, then checks the last answer.
func serveRepeatedly(b *testing.B, h *Handler, req *httpwire.Request) {
	w := &discard{}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	b.ReportAllocs()
	for b.Loop() {
		w.reset()
		h.Serve(req, w)
	}
	w.check(b, 200, len("Hello world!"))
}
