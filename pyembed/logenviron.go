package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
*/
import "C"

import (
	"encoding/binary"
	"strings"
	"unsafe"
)

// EnvironKeys are environ keys read from each request's environ once the app has returned, for
// the access log's {key}e atoms: what the app or a middleware stored there (REMOTE_USER, say)
// is seen. The call must have been started with StartKeepingEnviron.
type EnvironKeys struct {
	c     *C.gw_environ_keys
	count int
}

// NewEnvironKeys makes the Python strings for names once. Call it before serving requests.
func NewEnvironKeys(names []string) *EnvironKeys {
	packed := C.CString(strings.Join(names, "\x00") + "\x00")
	defer C.free(unsafe.Pointer(packed))
	return &EnvironKeys{c: C.gw_environ_keys_new(packed, C.int(len(names))), count: len(names)}
}

// ReadEnviron appends to values the value of each key in this request's environ as UTF-8 text
// (str() of what is not a string), nil for a missing key, with the bytes appended to buf; the
// values point into the returned buf. A key matches as written or else ignoring case. Call it
// between Start and Finish, on the thread that started the call.
func (call *Call) ReadEnviron(keys *EnvironKeys, values [][]byte, buf []byte) ([][]byte, []byte) {
	var n C.Py_ssize_t
	var packed *C.char
	switch {
	case call.c == nil || keys.c == nil:
	case call.task != nil:
		packed, n = call.readEnvironOnHub(keys)
	default:
		packed = C.gw_call_read_environ(call.c, keys.c, &n)
	}
	if packed == nil {
		for range keys.count {
			values = append(values, nil)
		}
		return values, buf
	}
	start := len(buf)
	buf = append(buf, unsafe.Slice((*byte)(unsafe.Pointer(packed)), int(n))...)
	rest := buf[start:]
	for range keys.count {
		size := int64(binary.NativeEndian.Uint64(rest))
		rest = rest[8:]
		if size < 0 {
			values = append(values, nil)
			continue
		}
		values = append(values, rest[:size:size])
		rest = rest[size:]
	}
	return values, buf
}
