//go:build pystatic

// The pystatic build links libpython statically: the Makefile passes the archive and its
// libraries in CGO_LDFLAGS, the headers in CGO_CFLAGS and the interpreter's path with -X
// (pyembed/linkflags.py). Python's calls to itself are then direct instead of going through
// the shared library's PLT and GOT: 10% fewer instructions per Flask request (callgrind), as
// in Debian's /usr/bin/python3, which is linked the same way.

package pyembed

/*
#cgo LDFLAGS: -Wl,--export-dynamic
*/
import "C"

// staticExecutable is the python executable of the interpreter whose libpython was linked in,
// set at link time. Its path decides sys.prefix, and so the standard library and site-packages.
var staticExecutable string

// linkage says the library is inside this binary. --export-dynamic above lets extension
// modules find the C API in it, as they find it in /usr/bin/python3.
func linkage() string { return "linked statically" }

func baseExecutable(version string) string {
	if staticExecutable != "" {
		return staticExecutable
	}
	return "python" + version
}
