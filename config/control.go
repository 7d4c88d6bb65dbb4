package config

import (
	"os"
	"os/user"
	"path/filepath"
)

// ControlSocket is where the master takes commands from `gowsgi ctl` and gunicornc.
type ControlSocket struct {
	// Path is the socket file, absolute: --control-socket against --chdir, or by default
	// DefaultControlSocket; "" when no directory could be found for the default.
	Path string
	// Mode is the socket file's permission bits: who may connect (the master refuses other
	// users whatever the mode says).
	Mode os.FileMode
	// Disabled is --no-control-socket.
	Disabled bool
}

// controlSocketName is gunicorn's, so that gunicornc finds gowsgi where it looks by default.
const controlSocketName = "gunicorn.ctl"

// DefaultControlSocket is gunicorn's default control socket: in $XDG_RUNTIME_DIR when that is
// a directory, else in ~/.gunicorn, which the master creates. It is "" when neither can be
// found.
func DefaultControlSocket(getenv func(string) string) string {
	if dir := getenv("XDG_RUNTIME_DIR"); dir != "" {
		if info, err := os.Stat(dir); err == nil && info.IsDir() {
			return filepath.Join(dir, controlSocketName)
		}
	}
	home := getenv("HOME")
	if home == "" {
		if account, err := user.Current(); err == nil {
			home = account.HomeDir
		}
	}
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".gunicorn", controlSocketName)
}

// controlSocket resolves --control-socket, --control-socket-mode and --no-control-socket.
func (e *extraOptions) controlSocket(chdir string, getenv func(string) string) ControlSocket {
	path := DefaultControlSocket(getenv)
	if e.controlPath != "" {
		path = absolute(chdir, e.controlPath)
	}
	return ControlSocket{Path: path, Mode: os.FileMode(e.controlMode.value), Disabled: e.noControlSocket}
}

// modeFlag is a file mode read as gunicorn reads one: octal with a leading 0 ("0600") or 0o,
// else decimal.
type modeFlag struct{ umaskFlag }

func (m *modeFlag) Type() string { return "mode" }
