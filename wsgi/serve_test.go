package wsgi

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"gowsgi/httpwire"
)

var testHandler *Handler

func TestMain(m *testing.M) {
	runtime.LockOSThread()
	dir, _ := filepath.Abs("testdata")
	flask, _ := filepath.Abs("../examples/flask-hello") // for BenchmarkServeFlask
	h, err := Load(Options{Paths: []string{dir, flask}, Module: "apps", Attr: "app", Multiprocess: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "cannot load the test apps:", err)
		os.Exit(1)
	}
	testHandler = h
	os.Exit(m.Run())
}

// recorder is an httpwire.ResponseWriter that keeps what it is given.
type recorder struct {
	status  string
	code    int
	header  []string
	body    bytes.Buffer
	sent    bool
	aborted bool
	flushes int
}

func (r *recorder) WriteHeader(status []byte, code int, header []httpwire.HeaderField) error {
	r.status, r.code, r.header = string(status), code, nil
	for _, h := range header {
		r.header = append(r.header, string(h.Name)+": "+string(h.Value))
	}
	return nil
}

func (r *recorder) Write(p []byte) (int, error) { r.sent = true; return r.body.Write(p) }
func (r *recorder) Flush() error                { r.sent = true; r.flushes++; return nil }
func (r *recorder) HeaderSent() bool            { return r.sent }
func (r *recorder) Abort()                      { r.aborted = true }
func (r *recorder) SendFile(f *os.File, off, n int64) error {
	r.sent = true
	_, err := io.Copy(&r.body, io.NewSectionReader(f, off, 1<<40))
	return err
}

func serve(t *testing.T, target string, body string, header ...string) *recorder {
	t.Helper()
	path, query, _ := strings.Cut(target, "?")
	req := &httpwire.Request{
		Method: []byte("POST"), RawURI: []byte(target), Path: []byte(path), Query: []byte(query),
		Proto: "HTTP/1.1", ContentLength: int64(len(body)), Body: strings.NewReader(body),
		RemoteAddr: "127.0.0.1", RemotePort: "5555", ServerName: "localhost", ServerPort: "8000",
		Scheme: "http",
	}
	for _, h := range header {
		name, value, _ := strings.Cut(h, ": ")
		req.Header = append(req.Header, httpwire.HeaderField{Name: []byte(name), Value: []byte(value)})
	}
	rec := &recorder{}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	testHandler.Serve(req, rec)
	return rec
}

func TestHelloList(t *testing.T) {
	rec := serve(t, "/hello", "")
	if rec.code != 200 || rec.status != "200 OK" || rec.body.String() != "Hello world!" {
		t.Fatalf("got %d %q %q", rec.code, rec.status, rec.body.String())
	}
	if strings.Join(rec.header, "|") != "Content-Type: text/plain|Content-Length: 12" {
		t.Fatalf("headers %q", rec.header)
	}
	if rec.flushes != 0 {
		t.Fatalf("a complete Content-Length body was flushed %d times", rec.flushes)
	}
}

func TestEnviron(t *testing.T) {
	rec := serve(t, "/environ_dump%20x?a=1&b=%20", "xy",
		"Host: example.com", "X-Custom: one", "x-custom: two", "Content-Type: text/x",
		"Content-Length: 2", "Accept: */*")
	var env map[string]any
	if err := json.Unmarshal(rec.body.Bytes(), &env); err != nil {
		t.Fatalf("%v: %s", err, rec.body.String())
	}
	want := map[string]any{
		"REQUEST_METHOD": "POST", "PATH_INFO": "/environ_dump x", "QUERY_STRING": "a=1&b=%20",
		"RAW_URI": "/environ_dump%20x?a=1&b=%20", "SERVER_PROTOCOL": "HTTP/1.1",
		"SERVER_NAME": "localhost", "SERVER_PORT": "8000", "REMOTE_ADDR": "127.0.0.1",
		"REMOTE_PORT": "5555", "wsgi.url_scheme": "http", "HTTP_HOST": "example.com",
		"HTTP_X_CUSTOM": "one,two", "CONTENT_TYPE": "text/x", "CONTENT_LENGTH": "2",
		"HTTP_ACCEPT": "*/*", "SCRIPT_NAME": "", "wsgi.multithread": false,
		"wsgi.multiprocess": true, "wsgi.run_once": false, "wsgi.input_terminated": true,
		"input_type": "Input",
	}
	for k, v := range want {
		if fmt.Sprint(env[k]) != fmt.Sprint(v) {
			t.Errorf("%s = %v, want %v", k, env[k], v)
		}
	}
	for _, k := range []string{"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"} {
		if _, ok := env[k]; ok {
			t.Errorf("%s must not be in the environ", k)
		}
	}
	if fmt.Sprint(env["wsgi.version"]) != "[1 0]" {
		t.Errorf("wsgi.version = %v", env["wsgi.version"])
	}
}

// The environ is built from a template that holds the keys every request sets; none of them
// reaches the app without its value.
func TestEnvironHasNoPlaceholders(t *testing.T) {
	for _, target := range []string{"/environ_none", "/environ_none?q"} {
		if got := serve(t, target, "").body.String(); got != "" {
			t.Errorf("%s: keys with None: %s", target, got)
		}
	}
}

func TestInput(t *testing.T) {
	body := "first line\nsecond\nthird"
	cases := map[string]string{
		"":          body,
		"lines":     "first line\n|second\n|third",
		"iter":      "first line\n|second\n|third",
		"readline3": "fir/st line\n/se/cond\nthird",
	}
	for mode, want := range cases {
		if got := serve(t, "/echo_body?"+mode, body).body.String(); got != want {
			t.Errorf("mode %q: got %q, want %q", mode, got, want)
		}
	}
	big := strings.Repeat("0123456789abcdef", 100000)
	if got := serve(t, "/echo_body", big).body.String(); got != big {
		t.Errorf("large body came back with %d bytes, want %d", len(got), len(big))
	}
}

func TestGeneratorStreamsEachChunk(t *testing.T) {
	rec := serve(t, "/generator", "")
	if rec.body.String() != "one two" || rec.flushes < 2 {
		t.Fatalf("body %q flushes %d", rec.body.String(), rec.flushes)
	}
}

func TestListIsWrittenWithoutFlushPerItem(t *testing.T) {
	rec := serve(t, "/list_parts", "")
	if rec.body.String() != "abc" || rec.flushes != 0 {
		t.Fatalf("body %q flushes %d: a list body is at hand, nothing to push early", rec.body.String(), rec.flushes)
	}
}

func TestCloseAlwaysCalled(t *testing.T) {
	before := serve(t, "/closed_count", "").body.String()
	serve(t, "/closing", "")
	after := serve(t, "/closed_count", "").body.String()
	if before == after {
		t.Fatalf("close() was not called: %s then %s", before, after)
	}
}

func TestAppErrorsAnswer500(t *testing.T) {
	for _, path := range []string{"/raises", "/bad_item", "/bad_second_item", "/no_start", "/bad_status", "/bad_header"} {
		rec := serve(t, path, "")
		if rec.code != 500 || !strings.Contains(rec.body.String(), "Internal Server Error") {
			t.Errorf("%s: got %d %q", path, rec.code, rec.body.String())
		}
	}
}

func TestErrorAfterBodyAborts(t *testing.T) {
	rec := serve(t, "/raises_in_body", "")
	if rec.code != 200 || rec.body.String() != "part" || !rec.aborted {
		t.Fatalf("got %d %q aborted=%v", rec.code, rec.body.String(), rec.aborted)
	}
}

func TestExcInfo(t *testing.T) {
	rec := serve(t, "/exc_before", "")
	if rec.status != "500 Oops" || strings.Join(rec.header, "|") != "X-Second: 2" {
		t.Fatalf("status %q headers %q", rec.status, rec.header)
	}
	rec = serve(t, "/exc_after", "")
	if rec.status != "200 OK" || rec.body.String() != "sent" || !rec.aborted {
		t.Fatalf("status %q body %q aborted=%v", rec.status, rec.body.String(), rec.aborted)
	}
}

func TestWriteCallable(t *testing.T) {
	rec := serve(t, "/writer", "")
	if rec.body.String() != "written returned" || strings.Join(rec.header, "|") != "X-W: 1" {
		t.Fatalf("body %q headers %q", rec.body.String(), rec.header)
	}
}

func TestFileWrapperFromPosition(t *testing.T) {
	f := filepath.Join(t.TempDir(), "data.txt")
	os.WriteFile(f, []byte("0123456789"), 0o644)
	rec := serve(t, "/file_wrapper?"+f, "")
	if rec.body.String() != "23456789" {
		t.Fatalf("body %q", rec.body.String())
	}
}

func TestLoadErrorKinds(t *testing.T) {
	err := &LoadError{Kind: "module not found", Detail: "x"}
	if err.Error() != "module not found: x" {
		t.Fatal(err.Error())
	}
}

func TestInputReadSizes(t *testing.T) {
	if got := serve(t, "/read_sizes", "abcdefgh").body.String(); got != "abc//defgh" {
		t.Errorf("read(3), read(0), read(None): got %q", got)
	}
	if got := serve(t, "/read_sizes?huge", "abcdefgh").body.String(); got != "abcdefgh//" {
		t.Errorf("read(10**12) must return the body without allocating the size: got %q", got)
	}
}

// TestCommonHeaderKeys checks that Go's index of each interned header key names the same key
// in the C table.
func TestCommonHeaderKeys(t *testing.T) {
	var header []string
	for name := range commonHeaders {
		header = append(header, name+": v-"+name)
	}
	var env map[string]any
	if err := json.Unmarshal(serve(t, "/environ_dump", "", header...).body.Bytes(), &env); err != nil {
		t.Fatal(err)
	}
	for name := range commonHeaders {
		key := "HTTP_" + strings.ToUpper(strings.ReplaceAll(name, "-", "_"))
		if env[key] != "v-"+name {
			t.Errorf("%s = %v, want %q", key, env[key], "v-"+name)
		}
	}
}

// watchUntil calls Watch from a locked goroutine, as the worker's watchdog does, until done
// closes, and reports whether Watch ever said the request was stuck.
func watchUntil(done <-chan *recorder, timeout, grace time.Duration) (*recorder, bool) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	stuck := false
	for {
		select {
		case rec := <-done:
			return rec, stuck
		case <-time.After(20 * time.Millisecond):
			stuck = stuck || testHandler.Watch(timeout, grace) != nil
		}
	}
}

func serveAsync(t *testing.T, target string) <-chan *recorder {
	done := make(chan *recorder, 1)
	go func() { done <- serve(t, target, "") }()
	return done
}

func TestTimeoutInterruptsPythonCode(t *testing.T) {
	rec, stuck := watchUntil(serveAsync(t, "/spin"), 100*time.Millisecond, 5*time.Second)
	if rec.code != 503 || stuck {
		t.Fatalf("got %d (stuck=%v), want 503 from an interrupted loop", rec.code, stuck)
	}
	if rec := serve(t, "/hello", ""); rec.code != 200 {
		t.Fatalf("the next request on the thread got %d", rec.code)
	}
}

func TestTimeoutReportsThreadStuckInC(t *testing.T) {
	rec, stuck := watchUntil(serveAsync(t, "/sleep_in_c?0.6"), 50*time.Millisecond, 200*time.Millisecond)
	if !stuck || rec.code != 503 {
		t.Fatalf("got %d, stuck=%v: a sleep in C must be reported stuck, then answered 503", rec.code, stuck)
	}
}

func TestWatchReportsOldestRequest(t *testing.T) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	if busy := testHandler.Oldest(); busy != nil {
		t.Fatalf("idle handler reported %+v", busy)
	}
	done := serveAsync(t, "/sleep_in_c?0.3")
	time.Sleep(100 * time.Millisecond)
	busy := testHandler.Oldest()
	<-done
	if busy == nil || busy.Method != "POST" || busy.Path != "/sleep_in_c?0.3" {
		t.Fatalf("busy = %+v", busy)
	}
}
