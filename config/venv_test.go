package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// makeVirtualenv writes a virtualenv's pyvenv.cfg with cfg in a new directory and returns it.
func makeVirtualenv(t *testing.T, cfg string) string {
	t.Helper()
	venv := t.TempDir()
	if err := os.WriteFile(filepath.Join(venv, "pyvenv.cfg"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	return venv
}

func TestVirtualenvAboveTheBinary(t *testing.T) {
	venv := makeVirtualenv(t, "home = /usr/bin\n")
	if got := virtualenvAbove(filepath.Join(venv, "bin", "gowsgi")); got != venv {
		t.Errorf("gowsgi in a virtualenv's bin: got %q, want %q", got, venv)
	}
	if got := virtualenvAbove(filepath.Join(t.TempDir(), "bin", "gowsgi")); got != "" {
		t.Errorf("gowsgi outside any virtualenv: got %q", got)
	}
}

func TestVirtualenvOfAnotherPython(t *testing.T) {
	t.Chdir(t.TempDir())
	t.Cleanup(func() { EmbeddedPythonVersion = "" })
	EmbeddedPythonVersion = "3.11.2"
	other := makeVirtualenv(t, "home = /usr/local/bin\nversion = 3.12.1\n")
	want := other + " was made from Python 3.12 and this gowsgi embeds Python 3.11: " +
		"use a virtualenv made from Python 3.11, or a gowsgi built for Python 3.12"
	if msg := parseError(t, nil, "--virtualenv", other, "app"); msg != `invalid value "`+other+`" for --virtualenv: `+want {
		t.Errorf("--virtualenv of Python 3.12:\n got %q\nwant the reason %q", msg, want)
	}
	if msg := parseError(t, map[string]string{"VIRTUAL_ENV": other}, "app"); msg != `invalid value "`+other+`" for VIRTUAL_ENV: `+want {
		t.Errorf("VIRTUAL_ENV of Python 3.12: %q", msg)
	}
	for _, cfg := range []string{"version = 3.11.7\n", "version_info = 3.11.7.final.0\n", "home = /usr/bin\n"} {
		venv := makeVirtualenv(t, cfg)
		if got := mustParse(t, nil, "--virtualenv", venv, "app").Virtualenv; got != venv {
			t.Errorf("a virtualenv with %q was not taken: %q", strings.TrimSpace(cfg), got)
		}
	}
	if msg := parseError(t, nil, "--virtualenv", makeVirtualenv(t, "version_info = 3.9.18.final.0\n"), "app"); !strings.Contains(msg, "made from Python 3.9 ") {
		t.Errorf("virtualenv's version_info ignored: %q", msg)
	}
}
