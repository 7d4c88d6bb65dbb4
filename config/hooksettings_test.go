package config

import (
	"reflect"
	"testing"
)

func TestSettingValueReadsPrintConfigBack(t *testing.T) {
	cases := map[string]any{
		"true":            true,
		"false":           false,
		"384":             384,
		`""`:              nil,
		`"my site"`:       "my site",
		"gunicorn":        "gunicorn",
		"[]":              []any{},
		"[A=1, B=2]":      []any{"A=1", "B=2"},
		`["a b", 3]`:      []any{"a b", 3},
		"localhost:8125":  "localhost:8125",
		"0o22":            "0o22",
		"{X-PROTO: http}": "{X-PROTO: http}",
	}
	for text, want := range cases {
		if got := settingValue(text); !reflect.DeepEqual(got, want) {
			t.Errorf("settingValue(%q) = %#v, want %#v", text, got, want)
		}
	}
}
