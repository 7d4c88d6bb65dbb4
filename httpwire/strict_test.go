package httpwire

import (
	"strings"
	"testing"
)

// Each method takes only the target forms RFC 9112 §3.2 gives it, and absolute-form only when
// it parses; gunicorn refuses the same (and Python's urlsplit the broken authorities).
func TestHTTPTargetForms(t *testing.T) {
	cases := []struct {
		line string
		want *Refusal
	}{
		{"GET /", nil},
		{"GET //two/slashes", nil},
		{"OPTIONS *", nil},
		{"CONNECT example.com:443", nil},
		{"CONNECT [::1]:443", nil},
		{"CONNECT /tunnel", nil}, // origin-form, which gunicorn takes from any method
		{"GET http://example.com", nil},
		{"GET HTTP://user:pw@example.com:8080/p?q#f", nil},
		{"GET http://[::1]:8080/", nil},
		{"GET http://[fe80::1%25eth0]/", nil},
		{"GET http://[v1.fe:x]/", nil},
		{"GET http://ex%41mple.com/", nil},
		{"GET http://h:/", nil}, // RFC 3986's port may be empty
		{"GET file:///etc/passwd", nil},

		{"GET foo/bar", errTargetForm},
		{"GET example.com:443", errTargetForm},
		{"GET *", errTargetForm},
		{"CONNECT *", errTargetForm},
		{"POST foo", errTargetForm},
		{"GET foo/bar://x", errTargetForm},
		{"GET 1http://x/", errTargetForm},
		{"GET mailto:someone", errTargetForm},
		{"PUT s://]ufd/:", errTarget},
		{"GET http://[::1/", errTarget},
		{"GET http://[::1]x/", errTarget},
		{"GET http://[1.2.3.4]/", errTarget},
		{"GET http://[v.x]/", errTarget},
		{"GET http://h:80x/", errTarget},
		{"GET http://h%zz/", errTarget},
		{"GET http://us[er@h/", errTarget},
		{"GET http://h\xff/", errTarget},
		{"GET http:///path", errTarget}, // no host (RFC 9110 §4.2.1)
		{"GET https://?q", errTarget},
		{"CONNECT ]x:443", errTargetForm},
		{"CONNECT example.com", errTargetForm},
		{"CONNECT user@example.com:443", errTargetForm},
	}
	for _, c := range cases {
		var req Request
		var h headInfo
		if got := parseText(c.line+" HTTP/1.1\r\n\r\n", &req, &h); got != c.want {
			t.Errorf("%q: got %v, want %v", c.line, got, c.want)
		}
	}
}

// The form is checked against the method the app will see: after --casefold-http-method, as in
// gunicorn, and never against a lower-case spelling of CONNECT or OPTIONS without it.
func TestHTTPTargetFormAfterCaseFolding(t *testing.T) {
	for _, c := range []struct {
		on   Parsing
		line string
		want *Refusal
	}{
		{casefold, "connect example.com:443", nil},
		{casefold, "options *", nil},
		{permitMethod, "connect example.com:443", errTargetForm},
		{permitMethod, "options *", errTargetForm},
		{Parsing{}, "connect example.com:443", errMethod},
	} {
		if _, got := parseWith(c.on, c.line+" HTTP/1.1\r\n\r\n"); got != c.want {
			t.Errorf("%+v %q: got %v, want %v", c.on, c.line, got, c.want)
		}
	}
}

// Blanks after a chunk size are BWS before an extension, and nothing else (RFC 9112 §7.1,
// §7.1.1; gunicorn strips them only when a ";" follows).
func TestHTTPChunkSizeBlanks(t *testing.T) {
	for line, want := range map[string]bool{
		"0": true, "a;x": true, "a ;x": true, "a\t;x=1": true, "A \t ;": true,
		"0 ": false, "0\t": false, "a  ": false, " a": false, "a x": false, "a x;y": false, ";x": false,
	} {
		if _, ok := parseChunkSize([]byte(line)); ok != want {
			t.Errorf("%q: ok %v, want %v", line, ok, want)
		}
	}
}

// scanTrailers runs a trailer section through trailerScan and returns its error, or
// errTrailerSize when the section never ends.
func scanTrailers(lim Limits, section string) error {
	scan := trailerScan{lim: &lim}
	for i := 0; i < len(section); i++ {
		if done, err := scan.step(section[i]); done || err != nil {
			return err
		}
	}
	return errTrailerSize
}

// Trailer fields are held to gunicorn's rules for them: field lines within the header limits,
// none of the fields it forbids in trailers (RFC 9110 §6.5.1), one Content-Type at most.
func TestHTTPTrailerFields(t *testing.T) {
	lim := testLimits
	lim.Fields, lim.FieldSize = 3, 30
	atLimit := "X-At-The-Limit: " + strings.Repeat("v", 30-len("X-At-The-Limit: \r\n")) + "\r\n"
	cases := []struct {
		section string
		want    error
	}{
		{"\r\n", nil},
		{"X-Checksum: abc\r\nContent-Type: text/plain\r\nX-Empty:\r\n\r\n", nil},
		{"X-TE: 1\r\nTE-X: 1\r\nContent-Length-Extra: 1\r\n\r\n", nil},
		{atLimit + "\r\n", nil},

		{"Content-Length: 5\r\n\r\n", errTrailerForbidden},
		{"transfer-encoding: chunked\r\n\r\n", errTrailerForbidden},
		{"HOST: evil.example\r\n\r\n", errTrailerForbidden},
		{"Trailer: X\r\n\r\n", errTrailerForbidden},
		{"Authorization: Basic eA==\r\n\r\n", errTrailerForbidden},
		{"TE: trailers\r\n\r\n", errTrailerForbidden},
		{"Content-Type: a\r\ncontent-type: b\r\n\r\n", errTrailerTypeTwice},
		{"NoColon\r\n\r\n", errTrailerLine},
		{"X : 1\r\n\r\n", errTrailerLine},
		{"X(: 1\r\n\r\n", errTrailerLine},
		{": 1\r\n\r\n", errTrailerLine},
		{"X: 1\r\n 2\r\n\r\n", errTrailerFolding},
		{" X: 1\r\n\r\n", errTrailerFolding},
		{"X" + atLimit + "\r\n", errTrailerFieldSize},
		{"A: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", errTrailerSize},
		{"X: 1\n\r\n", errChunkLineEnd},
		{"X: \x00\r\n\r\n", errChunkLineByte},
	}
	for _, c := range cases {
		if got := scanTrailers(lim, c.section); got != c.want {
			t.Errorf("%q: got %v, want %v", c.section, got, c.want)
		}
	}

	// The switches relax trailers as they relax headers; a fold still counts in full.
	lim.Parsing = everySwitch
	for section, want := range map[string]error{
		"X \t: 1\r\n\r\n":                              nil,
		"X: 1\r\n 2\r\n\t3\r\n\r\n":                    nil,
		"Host : x\r\n\r\n":                             errTrailerForbidden,
		" X: 1\r\n\r\n":                                errTrailerFolding,
		"X-A: 12345678\r\n           12345678\r\n\r\n": errTrailerFieldSize,
	} {
		if got := scanTrailers(lim, section); got != want {
			t.Errorf("switches on, %q: got %v, want %v", section, got, want)
		}
	}
}

// A folded header counts its lines as sent, blanks and CRLFs included, not as joined.
func TestHTTPFoldedFieldSizeCountsTheLinesAsSent(t *testing.T) {
	lim := testLimits
	lim.FieldSize = len("X-A: a\r\n b\r\n")
	lim.Parsing = permitFolding
	var req Request
	h := headInfo{lim: &lim}
	if rerr := parseText("GET / HTTP/1.1\r\nX-A: a\r\n b\r\n\r\n", &req, &h); rerr != nil {
		t.Fatalf("at the limit: %s", rerr.Reason)
	}
	if rerr := parseText("GET / HTTP/1.1\r\nX-A: a\r\n  b\r\n\r\n", &req, &h); rerr != ErrFieldTooLarge {
		t.Fatalf("one blank over the limit: %v", rerr)
	}
}
