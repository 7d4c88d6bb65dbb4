package config

import (
	"reflect"
	"testing"
)

func TestSplitCommandLine(t *testing.T) {
	cases := map[string][]string{
		"":                          nil,
		"  -w 4\t--threads=2 ":      {"-w", "4", "--threads=2"},
		`--name "my site"`:          {"--name", "my site"},
		`--name 'it''s' -b a`:       {"--name", "its", "-b", "a"},
		`--name 'a "b" \c'`:         {"--name", `a "b" \c`},
		`--name "say \"hi\" \\ \n"`: {"--name", `say "hi" \ \n`},
		`--name my\ site`:           {"--name", "my site"},
		`--name ""`:                 {"--name", ""},
		`-b"127.0.0.1:1"'0'`:        {"-b127.0.0.1:10"},
	}
	for text, want := range cases {
		got, err := SplitCommandLine(text)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("SplitCommandLine(%q) = %q, %v; want %q", text, got, err, want)
		}
	}
}

func TestSplitCommandLineRefusesUnfinishedQuoting(t *testing.T) {
	for _, text := range []string{`--name "a`, `--name 'a`, `--name a\`} {
		if words, err := SplitCommandLine(text); err == nil {
			t.Errorf("SplitCommandLine(%q) = %q, want an error", text, words)
		}
	}
}
