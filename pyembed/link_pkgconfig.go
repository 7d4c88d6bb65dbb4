//go:build !pystatic && !pyshared

// A plain `go build` links the shared libpython that pkg-config's python3-embed describes
// (Debian's python3-dev installs it). The Makefile never builds this way: it names the chosen
// Python's own flags (pyembed/linkflags.py), so that another python3-embed on the search path
// cannot mix its headers or library into the build.

package pyembed

/*
#cgo pkg-config: python3-embed
*/
import "C"
