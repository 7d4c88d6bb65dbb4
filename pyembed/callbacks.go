package pyembed

/*
#include "pyembed.h"
*/
import "C"

import (
	"io"
	"unsafe"
)

// goWSGIRead serves wsgi.input: it runs with the GIL released, so a slow client blocks only the
// request that reads from it.
//
//export goWSGIRead
func goWSGIRead(h C.uintptr_t, p *C.char, n C.Py_ssize_t) C.Py_ssize_t {
	return C.Py_ssize_t(readBody(callIO(h), unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))))
}

// readBody reads at least one body byte into buf, and returns how many: 0 at the end of the
// body, -1 when it cannot be read.
func readBody(req IO, buf []byte) int {
	total := 0
	for total == 0 {
		got, err := req.ReadBody(buf)
		total += got
		if err != nil {
			if total > 0 || err == io.EOF {
				break
			}
			return -1
		}
	}
	return total
}

// goWSGIWrite serves the write() callable of start_response, with the GIL released.
//
//export goWSGIWrite
func goWSGIWrite(h C.uintptr_t, head *C.char, headLen C.Py_ssize_t, p *C.char, n C.Py_ssize_t) C.int {
	req := callIO(h)
	var hb []byte
	if head != nil {
		hb = unsafe.Slice((*byte)(unsafe.Pointer(head)), int(headLen))
	}
	if err := req.WriteNow(hb, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(n))); err != nil {
		return -1
	}
	return 0
}
