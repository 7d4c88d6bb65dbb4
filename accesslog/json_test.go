package accesslog

import (
	"encoding/json"
	"strings"
	"testing"
)

func formatJSON(t *testing.T, format string, r *Record) map[string]any {
	t.Helper()
	l, err := newLogger(format, true)
	if err != nil {
		t.Fatal(err)
	}
	line := l.appendJSON(nil, r)
	if lines := strings.Split(string(line), "\n"); len(lines) != 2 || lines[1] != "" {
		t.Fatalf("not one line: %q", line)
	}
	for _, breaking := range []string{"\u2028", "\u2029", "\u0085"} {
		if strings.Contains(string(line), breaking) {
			t.Fatalf("%q holds a character readers take for a line break", line)
		}
	}
	var out map[string]any
	if err := json.Unmarshal(line, &out); err != nil {
		t.Fatalf("invalid JSON %q: %v", line, err)
	}
	return out
}

func TestJSONFields(t *testing.T) {
	withLocalZone(t)
	got := formatJSON(t, DefaultFormat, sampleRecord())
	want := map[string]any{
		"time": "2000-10-10T13:55:38.345-07:00", "remote_addr": "192.0.2.7", "user": "alice",
		"method": "POST", "path": "/a%20b", "query": "x=1&y=2", "protocol": "HTTP/1.1",
		"status": 201.0, "bytes": 1234.0, "duration": 2.345678, "referer": "http://example.com/from",
		"user_agent": "curl/8.0",
	}
	for key, value := range want {
		if got[key] != value {
			t.Errorf("%s: got %#v, want %#v", key, got[key], value)
		}
	}
	if _, ok := got["pid"].(float64); !ok {
		t.Errorf("pid: got %#v, want a number", got["pid"])
	}
	for _, key := range []string{"request_headers", "response_headers", "environ"} {
		if _, ok := got[key]; ok {
			t.Errorf("%s is there though the format names none", key)
		}
	}
}

func TestJSONMissingValuesAreNull(t *testing.T) {
	got := formatJSON(t, DefaultFormat, &Record{Status: 400})
	for _, key := range []string{"remote_addr", "user", "method", "path", "query", "protocol", "referer", "user_agent"} {
		if v, ok := got[key]; !ok || v != nil {
			t.Errorf("%s: got %#v, want null", key, v)
		}
	}
}

func TestJSONCarriesTheHeadersAndEnvironTheFormatNames(t *testing.T) {
	got := formatJSON(t, `%({X-Request-Id}i)s %({x-request-id}i)s %({Nope}i)s %({Content-Type}o)s %({REMOTE_USER}e)s %({missing}e)s`, sampleRecord())
	check := func(object, key string, want any) {
		t.Helper()
		m, ok := got[object].(map[string]any)
		if !ok {
			t.Fatalf("%s: got %#v", object, got[object])
		}
		if v, ok := m[key]; !ok || v != want {
			t.Errorf("%s[%s]: got %#v, want %#v", object, key, v, want)
		}
	}
	check("request_headers", "x-request-id", "abc-123")
	check("request_headers", "nope", nil)
	check("response_headers", "content-type", "text/html")
	check("environ", "REMOTE_USER", "bob")
	check("environ", "missing", nil)
	if n := len(got["request_headers"].(map[string]any)); n != 2 {
		t.Errorf("request_headers has %d entries, want 2", n)
	}
}

func TestJSONEscapesHostileValues(t *testing.T) {
	hostile := map[string]string{
		"quotes":    `say "hi"`,
		"backslash": `C:\path\`,
		"controls":  "a\nb\rc\td\x00e\x1f\x7f",
		"utf8":      "caf\xc3\xa9 \xe2\x82\xac",
		"latin1":    "caf\xe9",
		"broken":    "\xff\xfe\xc3",
		"surrogate": "\xed\xa0\x80",
		"breaks":    "a\u2028b\u2029c\u0085d",
	}
	want := map[string]string{
		"quotes":    `say "hi"`,
		"backslash": `C:\path\`,
		"controls":  "a\nb\rc\td\x00e\x1f\x7f",
		"utf8":      "café €",
		"latin1":    "café",
		"broken":    "\u00ff\u00fe\u00c3",
		"surrogate": "\u00ed\u00a0\u0080",
		"breaks":    "a\u2028b\u2029c\u0085d",
	}
	for name, value := range hostile {
		r := &Record{Status: 200, RequestHeaders: []Header{{Name: []byte("User-Agent"), Value: []byte(value)}}}
		got := formatJSON(t, DefaultFormat, r)
		if got["user_agent"] != want[name] {
			t.Errorf("%s: got %q, want %q", name, got["user_agent"], want[name])
		}
	}
}
