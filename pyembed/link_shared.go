//go:build !pystatic

// The shared builds load libpython at run time: the one pyembed/linkflags.py names (the pyshared
// tag), or the one pkg-config's python3-embed names in a plain `go build` (link_pkgconfig.go).

package pyembed

/*
#include "pyembed.h"
*/
import "C"

import (
	"os"
	"path/filepath"
)

// linkage names the shared libpython this binary runs.
func linkage() string { return "library " + libraryPath() }

func libraryPath() string { return C.GoString(C.gw_library_path()) }

// baseExecutable finds the pythonX.Y that belongs to the shared libpython: the first
// bin/pythonX.Y in the directories above its real location (/lib/x86_64-linux-gnu/… is
// /usr/lib/x86_64-linux-gnu/… → /usr/bin/python3.11), so that an interpreter installed under
// another prefix, or found through LD_LIBRARY_PATH, gets its own prefix and site-packages.
func baseExecutable(version string) string {
	lib := libraryPath()
	if real, err := filepath.EvalSymlinks(lib); err == nil {
		lib = real
	}
	for dir := filepath.Dir(lib); dir != "/" && dir != "."; dir = filepath.Dir(dir) {
		exe := filepath.Join(dir, "bin", "python"+version)
		if st, err := os.Stat(exe); err == nil && !st.IsDir() {
			return exe
		}
	}
	return "python" + version
}
