package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestDefaultControlSocketIsGunicorns(t *testing.T) {
	runtime := t.TempDir()
	for _, c := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"XDG_RUNTIME_DIR": runtime, "HOME": "/home/u"}, filepath.Join(runtime, "gunicorn.ctl")},
		{map[string]string{"XDG_RUNTIME_DIR": filepath.Join(runtime, "absent"), "HOME": "/home/u"}, "/home/u/.gunicorn/gunicorn.ctl"},
		{map[string]string{"HOME": "/home/u"}, "/home/u/.gunicorn/gunicorn.ctl"},
	} {
		if got := DefaultControlSocket(envOf(c.env)); got != c.want {
			t.Errorf("%v: %q, want %q", c.env, got, c.want)
		}
	}
}

func TestControlSocketSettings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.Mkdir("site", 0o755); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		args []string
		want ControlSocket
	}{
		{nil, ControlSocket{Path: "/home/u/.gunicorn/gunicorn.ctl", Mode: 0o600}},
		{[]string{"--control-socket", "run/c.sock", "--chdir", "site"}, ControlSocket{Path: filepath.Join(dir, "site/run/c.sock"), Mode: 0o600}},
		{[]string{"--control-socket-mode", "0660"}, ControlSocket{Path: "/home/u/.gunicorn/gunicorn.ctl", Mode: 0o660}},
		{[]string{"--control-socket-mode", "0o640"}, ControlSocket{Path: "/home/u/.gunicorn/gunicorn.ctl", Mode: 0o640}},
		{[]string{"--control-socket-mode", "432"}, ControlSocket{Path: "/home/u/.gunicorn/gunicorn.ctl", Mode: 0o660}},
		{[]string{"--no-control-socket"}, ControlSocket{Path: "/home/u/.gunicorn/gunicorn.ctl", Mode: 0o600, Disabled: true}},
	} {
		cfg := mustParse(t, map[string]string{"HOME": "/home/u"}, append(c.args, "a:b")...)
		if cfg.ControlSocket != c.want {
			t.Errorf("%q: %+v, want %+v", c.args, cfg.ControlSocket, c.want)
		}
		if len(cfg.Notices) > 0 {
			t.Errorf("%q: notices %q; the control socket settings have an effect", c.args, cfg.Notices)
		}
	}
	if msg := parseError(t, nil, "--control-socket-mode", "rw", "a:b"); !strings.Contains(msg, "not a number") {
		t.Errorf("bad mode: %s", msg)
	}
}

func TestControlSocketSettingsInTheConfigFile(t *testing.T) {
	dir := inTempDirWith(t, "control_socket: c.sock\ncontrol_socket_mode: 0o660\ncontrol_socket_disable: true\n")
	cfg := mustParse(t, nil, "a:b")
	if want := (ControlSocket{Path: filepath.Join(dir, "c.sock"), Mode: 0o660, Disabled: true}); cfg.ControlSocket != want {
		t.Errorf("%+v, want %+v", cfg.ControlSocket, want)
	}
}
