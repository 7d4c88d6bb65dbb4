package pyembed

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

func TestMain(m *testing.M) {
	runtime.LockOSThread()
	dir, _ := filepath.Abs("testdata")
	if err := Initialize(Options{Paths: []string{dir}}); err != nil {
		fmt.Fprintln(os.Stderr, "cannot start Python:", err)
		os.Exit(1)
	}
	if err := SetupWSGI(false, false); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	crashIfAsked()
	os.Exit(m.Run())
}

func TestVersionAndExecutable(t *testing.T) {
	if v := Version(); !strings.HasPrefix(v, "3.") {
		t.Fatalf("version %q", v)
	}
	exe := BaseExecutable()
	if _, err := os.Stat(exe); err != nil {
		t.Fatalf("base executable %q: %v", exe, err)
	}
	if got := Executable(); got != exe {
		t.Fatalf("sys.executable = %q, want %q (the interpreter beside libpython)", got, exe)
	}
	if d := Describe(); !strings.Contains(d, Version()) || !strings.Contains(d, exe) {
		t.Fatalf("Describe() = %q", d)
	}
}

func TestLoadApp(t *testing.T) {
	for _, c := range []struct {
		module, attr string
		call         bool
		args         string
		kind         string
	}{
		{"loadme", "application", false, "", ""},
		{"loadme", "create_app", true, "", ""},
		{"loadme", "create_app", true, `"x", debug=True`, ""},
		{"no_such_module", "app", false, "", "module not found"},
		{"imports_missing", "app", false, "", "import raised"},
		{"raises_on_import", "app", false, "", "import raised"},
		{"loadme", "missing", false, "", "attribute missing"},
		{"loadme", "not_a_function", false, "", "not callable"},
		{"loadme", "returns_int", true, "", "not callable"},
		{"loadme", "broken_factory", true, "", "factory failed"},
		{"loadme", "create_app", true, "os.getcwd()", "factory failed"},
	} {
		app, err := LoadApp(c.module, c.attr, c.call, c.args)
		var le *LoadError
		switch {
		case c.kind == "" && err != nil:
			t.Errorf("%s:%s(%s): %v", c.module, c.attr, c.args, err)
		case c.kind == "" && app == nil:
			t.Errorf("%s:%s: no app", c.module, c.attr)
		case c.kind != "" && (!errors.As(err, &le) || le.Kind != c.kind):
			t.Errorf("%s:%s(%s): got %v, want kind %q", c.module, c.attr, c.args, err, c.kind)
		}
	}
}

func TestImportErrorKeepsTraceback(t *testing.T) {
	_, err := LoadApp("raises_on_import", "app", false, "")
	if err == nil || !strings.Contains(err.Error(), "Traceback") ||
		!strings.Contains(err.Error(), "this module fails on import") {
		t.Fatalf("got %v", err)
	}
}
