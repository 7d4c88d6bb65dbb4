package config

import (
	"path/filepath"
	"testing"
)

func TestProcessFlags(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := mustParse(t, nil, "-b", "unix:run/app.sock", "-b", "unix:///tmp/abs.sock", "-b", "unix://rel.sock", "-b", "fd://3",
		"--backlog", "64", "--reuse-port", "-p", "app.pid", "-D", "-u", "0", "-g", "0", "--initgroups",
		"-m", "022", "-n", "shop", "myapp:app")
	want := []string{"unix:" + filepath.Join(dir, "run/app.sock"), "unix:/tmp/abs.sock", "unix:" + filepath.Join(dir, "rel.sock"), "fd://3"}
	for i, bind := range want {
		if cfg.Binds[i] != bind {
			t.Errorf("bind %d = %q, want %q", i, cfg.Binds[i], bind)
		}
	}
	if cfg.Backlog != 64 || !cfg.ReusePort || cfg.Pidfile != filepath.Join(dir, "app.pid") || !cfg.Daemon ||
		cfg.User != "0" || cfg.Group != "0" || !cfg.Initgroups || cfg.Umask != 0o22 || cfg.ProcessName() != "shop" {
		t.Errorf("got %+v", cfg)
	}
	if name := mustParse(t, nil, "myapp:app").ProcessName(); name != "myapp:app" {
		t.Errorf("default process name %q", name)
	}
}

func TestUmaskIsReadAsGunicornReadsIt(t *testing.T) {
	for text, want := range map[string]int{"0": 0, "022": 0o22, "0o22": 0o22, "18": 0o22, "0x12": 0o22, "0o777": 0o777} {
		if cfg := mustParse(t, nil, "-m", text, "app"); cfg.Umask != want {
			t.Errorf("-m %s = %#o, want %#o", text, cfg.Umask, want)
		}
	}
}

func TestBadProcessFlags(t *testing.T) {
	cases := map[string][]string{
		`invalid value "0o1000" for -m/--umask: must be between 0 and 0o777`:                       {"-m", "0o1000", "app"},
		`invalid value "rw" for -m/--umask: not a number (use octal like 0o22 or 022, or decimal)`: {"-m", "rw", "app"},
		`invalid value "no-such-user-here" for -u/--user: no such user`:                            {"-u", "no-such-user-here", "app"},
		`invalid value "no-such-group-here" for -g/--group: no such group`:                         {"-g", "no-such-group-here", "app"},
		`invalid value "0" for --backlog: must be at least 1`:                                      {"--backlog", "0", "app"},
	}
	for want, args := range cases {
		if msg := parseError(t, nil, args...); msg != want {
			t.Errorf("Parse(%q):\n got %q\nwant %q", args, msg, want)
		}
	}
}
