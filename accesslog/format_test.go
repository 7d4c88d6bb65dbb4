package accesslog

import (
	"encoding/base64"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"
)

// sampleRecord is a request with a value for every atom; its times are in a zone 7 hours
// west of UTC, which the tests make the local one.
func sampleRecord() *Record {
	start := time.Date(2000, 10, 10, 20, 55, 36, 0, time.UTC)
	return &Record{
		RemoteAddr: "192.0.2.7",
		Method:     []byte("POST"),
		RawURI:     []byte("/a%20b?x=1&y=2"),
		Path:       []byte("/a%20b"),
		PathInfo:   []byte("/a b"),
		Query:      []byte("x=1&y=2"),
		Protocol:   "HTTP/1.1",
		Status:     201,
		BodyBytes:  1234,
		Start:      start,
		End:        start.Add(2*time.Second + 345678*time.Microsecond),
		RequestHeaders: []Header{
			{Name: []byte("Referer"), Value: []byte("http://example.com/from")},
			{Name: []byte("User-Agent"), Value: []byte("curl/8.0")},
			{Name: []byte("Authorization"), Value: []byte("Basic " + base64.StdEncoding.EncodeToString([]byte("alice:secret:x")))},
			{Name: []byte("X-Request-Id"), Value: []byte("first")},
			{Name: []byte("x-request-id"), Value: []byte("abc-123")},
		},
		ResponseHeaders: []Header{{Name: []byte("Content-Type"), Value: []byte("text/html")}},
		Environ:         [][]byte{[]byte("bob"), nil},
	}
}

func withLocalZone(t *testing.T) {
	saved := time.Local
	time.Local = time.FixedZone("test", -7*3600)
	t.Cleanup(func() { time.Local = saved })
}

func formatText(t *testing.T, format string, r *Record) string {
	t.Helper()
	l, err := newLogger(format, false)
	if err != nil {
		t.Fatalf("ParseFormat(%q): %v", format, err)
	}
	line := string(l.appendText(nil, r))
	if !strings.HasSuffix(line, "\n") || strings.Count(line, "\n") != 1 {
		t.Fatalf("format %q gave %q, not one line", format, line)
	}
	return strings.TrimSuffix(line, "\n")
}

func TestEveryAtom(t *testing.T) {
	withLocalZone(t)
	pid := os.Getpid()
	cases := map[string]string{
		"%(h)s":                 "192.0.2.7",
		"%(l)s":                 "-",
		"%(u)s":                 "alice",
		"%(t)s":                 "[10/Oct/2000:13:55:38 -0700]",
		"%(r)s":                 "POST /a%20b?x=1&y=2 HTTP/1.1",
		"%(s)s":                 "201",
		"%(m)s":                 "POST",
		"%(U)s":                 "/a b",
		"%(q)s":                 "x=1&y=2",
		"%(H)s":                 "HTTP/1.1",
		"%(b)s":                 "1234",
		"%(B)s":                 "1234",
		"%(f)s":                 "http://example.com/from",
		"%(a)s":                 "curl/8.0",
		"%(T)s":                 "2",
		"%(D)s":                 "2345678",
		"%(M)s":                 "2345",
		"%(L)s":                 "2.345678",
		"%(p)s":                 "<" + strconv.Itoa(pid) + ">",
		"%({X-REQUEST-ID}i)s":   "abc-123",
		"%({missing}i)s":        "-",
		"%({content-type}o)s":   "text/html",
		"%({Content-Length}o)s": "-",
		"%({REMOTE_USER}e)s":    "bob",
		"%({other}e)s":          "-",
		"%(nonsense)s":          "-",
		"%(s)d %(B)i":           "201 1234",
		"100%% %(s)s":           "100% 201",
	}
	for format, want := range cases {
		r := sampleRecord()
		if strings.Contains(format, "{other}e") {
			r.Environ = [][]byte{nil}
		}
		if got := formatText(t, format, r); got != want {
			t.Errorf("%s: got %q, want %q", format, got, want)
		}
	}
}

func TestDefaultFormatIsTheCombinedLog(t *testing.T) {
	withLocalZone(t)
	got := formatText(t, DefaultFormat, sampleRecord())
	want := `192.0.2.7 - alice [10/Oct/2000:13:55:38 -0700] "POST /a%20b?x=1&y=2 HTTP/1.1" 201 1234 "http://example.com/from" "curl/8.0"`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func TestMissingValuesShowAsDash(t *testing.T) {
	r := &Record{Status: 400, Start: time.Unix(0, 0), End: time.Unix(0, 0)}
	got := formatText(t, `%(h)s %(u)s "%(r)s" %(s)s %(b)s %(B)s "%(f)s" "%(a)s" %(m)s %(U)s %(q)s %(H)s`, r)
	if want := `- - "-" 400 - 0 "-" "-" - - - -`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestUserOnlyFromBasicAuthorization(t *testing.T) {
	for auth, want := range map[string]string{
		"Basic " + base64.StdEncoding.EncodeToString([]byte("carol:pw")): "carol",
		"basic " + base64.StdEncoding.EncodeToString([]byte("dan:")):     "dan",
		"Basic " + base64.StdEncoding.EncodeToString([]byte("no-colon")): "-",
		"Basic !!!not-base64": "-",
		"Bearer abc.def":      "-",
		"Basic":               "-",
		"Basic " + base64.StdEncoding.EncodeToString([]byte(`q"e:pw`)): `q\"e`,
	} {
		r := &Record{RequestHeaders: []Header{{Name: []byte("AUTHORIZATION"), Value: []byte(auth)}}}
		if got := formatText(t, "%(u)s", r); got != want {
			t.Errorf("Authorization %q: got %q, want %q", auth, got, want)
		}
	}
}

func TestTextEscapesQuotesBackslashesAndControlCharacters(t *testing.T) {
	r := &Record{RequestHeaders: []Header{{Name: []byte("user-agent"), Value: []byte("a\"b\\c\td\x01e\x7f\xc3\xa9\xff")}}}
	got := formatText(t, `"%(a)s"`, r)
	if want := `"a\"b\\c\x09d\x01e\x7f` + "\xc3\xa9\xff" + `"`; got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestWidthAndAlignment(t *testing.T) {
	r := &Record{Status: 200, BodyBytes: 42, Method: []byte("GET")}
	for format, want := range map[string]string{
		"[%(s)5s]":  "[  200]",
		"[%(m)-6s]": "[GET   ]",
		"[%(B)05d]": "[00042]",
		"[%(m)2s]":  "[GET]",
	} {
		if got := formatText(t, format, r); got != want {
			t.Errorf("%s: got %q, want %q", format, got, want)
		}
	}
}

func TestFormatsPythonWouldRefuseAreErrors(t *testing.T) {
	for _, format := range []string{"%s", "%(h", "%(h)", "%(h)x", "100%", "%(h)5.2s", "%(h)*s", "%(h)9999s"} {
		if _, err := ParseFormat(format); err == nil {
			t.Errorf("ParseFormat(%q) accepted it", format)
		}
	}
}

func TestFormatCollectsWhatItNeeds(t *testing.T) {
	f, err := ParseFormat(`%(u)s %({X-Id}i)s %({x-id}i)s %({Remote_User}e)s %({REMOTE_USER}e)s %({ID}e)s %({Server}o)s`)
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Authorization", "x-id", "X-ID"} {
		if !f.WantsRequestHeader([]byte(name)) {
			t.Errorf("the format does not want %s", name)
		}
	}
	if f.WantsRequestHeader([]byte("Cookie")) {
		t.Error("the format wants Cookie, which it never reads")
	}
	if !f.WantsResponseHeaders() {
		t.Error("the format does not want response headers")
	}
	if keys := f.EnvironKeys(); len(keys) != 2 || keys[0] != "Remote_User" || keys[1] != "ID" {
		t.Errorf("environ keys %q, want [Remote_User ID]", keys)
	}
	plain, _ := ParseFormat(`%(h)s %(s)s`)
	if plain.WantsResponseHeaders() || len(plain.EnvironKeys()) > 0 || plain.WantsRequestHeader([]byte("referer")) {
		t.Error("a format without header or environ atoms asks for them")
	}
}

func TestPipeWritesEndAtLineEnds(t *testing.T) {
	line := strings.Repeat("x", 99) + "\n"
	data := []byte(strings.Repeat(line, 100))
	if n := pipeWriteSize(data); n > pipeBuf || n%len(line) != 0 {
		t.Errorf("a pipe write of %d bytes", n)
	}
	long := []byte(strings.Repeat("y", 3*pipeBuf) + "\n" + line)
	if n := pipeWriteSize(long); n != 3*pipeBuf+1 {
		t.Errorf("a long line went out in %d bytes, not alone and whole", n)
	}
	if n := pipeWriteSize([]byte(line)); n != len(line) {
		t.Errorf("a short buffer went out in %d bytes", n)
	}
}

func BenchmarkDefaultFormat(b *testing.B) {
	l, _ := newLogger(DefaultFormat, false)
	r := sampleRecord()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = l.appendText(buf[:0], r)
	}
}

func BenchmarkJSON(b *testing.B) {
	l, _ := newLogger(DefaultFormat, true)
	r := sampleRecord()
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = l.appendJSON(buf[:0], r)
	}
}
