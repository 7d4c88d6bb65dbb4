package config

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// EmbeddedPythonVersion is the version of the Python linked into this binary ("3.11.2"), which
// the command sets before resolving anything. A virtualenv made from another minor version
// cannot run in it: its site-packages hold extension modules built for that other version, and
// its pyvenv.cfg points at that version's standard library. Empty skips the check.
var EmbeddedPythonVersion string

// Where the virtualenv came from, first found wins: the flag, the variable an activated
// virtualenv sets, then the virtualenv this binary was installed in.
const (
	fromFlag = iota
	fromVirtualEnvVar
	fromInstallation
)

// chooseVirtualenv picks the virtualenv to run in ("" for none) and says where it came from.
func chooseVirtualenv(flagValue, virtualEnvVar string) (string, int) {
	switch {
	case flagValue != "":
		return flagValue, fromFlag
	case virtualEnvVar != "":
		return virtualEnvVar, fromVirtualEnvVar
	}
	return installedIn(), fromInstallation
}

// installedIn is the virtualenv this binary lives in, or "". pip puts gowsgi in the
// virtualenv's bin directory, beside its python, so that running it serves that virtualenv's
// packages with no flag, as a gunicorn installed there does. The real path counts: a symlink to
// a virtualenv's gowsgi still serves that virtualenv.
func installedIn() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return virtualenvAbove(exe)
}

// virtualenvAbove is the virtualenv whose bin directory holds the executable exe, or "".
func virtualenvAbove(exe string) string {
	dir := filepath.Dir(filepath.Dir(exe))
	if isVirtualenv(dir) {
		return dir
	}
	return ""
}

func isVirtualenv(dir string) bool {
	info, err := os.Stat(filepath.Join(dir, "pyvenv.cfg"))
	return err == nil && !info.IsDir()
}

// resolveVirtualenv sets cfg.Virtualenv from the flag, VIRTUAL_ENV or the binary's own
// virtualenv, and refuses one that is not a virtualenv or was made from another Python.
func resolveVirtualenv(cfg *Config, cwd, flagValue, virtualEnvVar string) error {
	venv, origin := chooseVirtualenv(flagValue, virtualEnvVar)
	if venv == "" {
		return nil
	}
	cfg.Virtualenv = absolute(cwd, venv)
	reason := ""
	if !isVirtualenv(cfg.Virtualenv) {
		reason = cfg.Virtualenv + " is not a virtualenv (no pyvenv.cfg)"
	} else if err := checkVirtualenvPython(cfg.Virtualenv); err != nil {
		reason = err.Error()
	}
	switch {
	case reason == "":
		return nil
	case origin == fromFlag:
		return invalidValue("virtualenv", venv, reason)
	case origin == fromVirtualEnvVar:
		return fmt.Errorf("invalid value %q for VIRTUAL_ENV: %s", venv, reason)
	}
	return fmt.Errorf("the virtualenv gowsgi is installed in cannot be used: %s", reason)
}

// checkVirtualenvPython refuses a virtualenv made from a Python other than the embedded one,
// whose interpreter would otherwise fail to start, or crash in the first extension module.
func checkVirtualenvPython(venv string) error {
	made, embedded := minorVersion(virtualenvPython(venv)), minorVersion(EmbeddedPythonVersion)
	if made == "" || embedded == "" || made == embedded {
		return nil
	}
	return fmt.Errorf("%s was made from Python %s and this gowsgi embeds Python %s: "+
		"use a virtualenv made from Python %s, or a gowsgi built for Python %s", venv, made, embedded, embedded, made)
}

// virtualenvPython is the version of the Python a virtualenv was made from, as its pyvenv.cfg
// records it: "version" from python -m venv, "version_info" from virtualenv and uv; "" when it
// says neither.
func virtualenvPython(venv string) string {
	f, err := os.Open(filepath.Join(venv, "pyvenv.cfg"))
	if err != nil {
		return ""
	}
	defer f.Close()
	lines := bufio.NewScanner(f)
	for lines.Scan() {
		key, value, ok := strings.Cut(lines.Text(), "=")
		if key = strings.TrimSpace(key); ok && (key == "version" || key == "version_info") {
			return strings.TrimSpace(value)
		}
	}
	return ""
}

// minorVersion is "3.12" of "3.12.1" or "3.12.1.final.0", or "" when version is not one.
func minorVersion(version string) string {
	parts := strings.SplitN(version, ".", 3)
	if len(parts) < 2 || parts[0] == "" || parts[1] == "" {
		return ""
	}
	return parts[0] + "." + parts[1]
}
