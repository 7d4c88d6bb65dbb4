package pyembed

/*
#include "pyembed.h"
*/
import "C"

import "unsafe"

// Go's code lies between runtime.text and runtime.etext, the bounds Go's runtime itself takes
// for its own code. They are local symbols, which C code cannot link against in an externally
// linked cgo binary such as this one; Go code can name them.
//
//go:linkname goTextStart runtime.text
var goTextStart byte

//go:linkname goTextEnd runtime.etext
var goTextEnd byte

// The crash routing of Initialize and Preloaded (crash.c) leaves a fault to Go's runtime only
// when it happened in Go's code, which it tells by the program counter; it must know where
// that code is before it is installed.
func init() {
	C.gw_crash_note_go_text(C.uintptr_t(uintptr(unsafe.Pointer(&goTextStart))),
		C.uintptr_t(uintptr(unsafe.Pointer(&goTextEnd))))
}
