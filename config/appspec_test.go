package config

import (
	"strings"
	"testing"
)

func TestParseAppSpecAcceptsGunicornForms(t *testing.T) {
	cases := []struct {
		raw  string
		want AppSpec
	}{
		{"myapp:app", AppSpec{Module: "myapp", Attr: "app"}},
		{"myapp", AppSpec{Module: "myapp", Attr: "application"}},
		{"pkg.sub.wsgi:application", AppSpec{Module: "pkg.sub.wsgi", Attr: "application"}},
		{"_private:_app2", AppSpec{Module: "_private", Attr: "_app2"}},
		{"café:app", AppSpec{Module: "café", Attr: "app"}},
		{"myapp:create_app()", AppSpec{Module: "myapp", Attr: "create_app", Call: true}},
		{"myapp:create_app('x', debug=True)", AppSpec{Module: "myapp", Attr: "create_app", Call: true, Args: "'x', debug=True"}},
		{`m:f({"a": (1, 2)}, "b:c")`, AppSpec{Module: "m", Attr: "f", Call: true, Args: `{"a": (1, 2)}, "b:c"`}},
		{"m:f( )", AppSpec{Module: "m", Attr: "f", Call: true, Args: " "}},
	}
	for _, c := range cases {
		got, err := ParseAppSpec(c.raw)
		if err != nil {
			t.Errorf("ParseAppSpec(%q): %v", c.raw, err)
			continue
		}
		c.want.Raw = c.raw
		if got != c.want {
			t.Errorf("ParseAppSpec(%q) = %+v, want %+v", c.raw, got, c.want)
		}
	}
}

func TestParseAppSpecRejectsMalformedSpecs(t *testing.T) {
	cases := map[string]string{
		"":                  "empty",
		"myapp:":            `no variable name after ":"`,
		":app":              `no module name before ":"`,
		"my-app:app":        `"my-app" is not a valid Python module name`,
		"pkg..mod:app":      `"pkg..mod" is not a valid Python module name`,
		"pkg.:app":          `"pkg." is not a valid Python module name`,
		"1app:app":          `"1app" is not a valid Python module name`,
		"myapp:app.attr":    `"app.attr" is not a valid Python variable name`,
		"myapp: app":        `" app" is not a valid Python variable name`,
		"myapp:9lives":      `"9lives" is not a valid Python variable name`,
		"myapp:create_app(": `must end with ")"`,
		"myapp:(1)":         `"" is not a valid Python variable name`,
		"a:b:c":             `"b:c" is not a valid Python variable name`,
	}
	for raw, want := range cases {
		_, err := ParseAppSpec(raw)
		if err == nil {
			t.Errorf("ParseAppSpec(%q) succeeded, want an error mentioning %q", raw, want)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, want) || !strings.Contains(msg, "APP_MODULE") || strings.Contains(msg, "\n") {
			t.Errorf("ParseAppSpec(%q) error %q, want one line mentioning APP_MODULE and %q", raw, msg, want)
		}
	}
}
