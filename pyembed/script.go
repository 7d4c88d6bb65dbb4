package pyembed

/*
#include <stdlib.h>
#include "pyembed.h"
*/
import "C"

import (
	_ "embed"
	"encoding/json"
	"errors"
	"unsafe"
)

//go:embed pyconfig.py
var pyconfigSource string

// Script is Python source run once in a namespace of its own, whose functions take a str and
// return one: the way Go and the Python helpers that speak JSON talk.
type Script struct {
	globals *C.PyObject
}

// LoadScript runs source; an error holds the traceback.
func LoadScript(source string) (*Script, error) {
	csrc := C.CString(source)
	defer C.free(unsafe.Pointer(csrc))
	var cerr *C.char
	globals := C.gw_script_load(csrc, &cerr)
	if globals == nil {
		return nil, errors.New(takeString(cerr))
	}
	return &Script{globals: globals}, nil
}

// Call calls the script's function with arg; an error holds the traceback of what it raised.
func (s *Script) Call(function, arg string) (string, error) {
	cfn, carg := C.CString(function), C.CString(arg)
	defer C.free(unsafe.Pointer(cfn))
	defer C.free(unsafe.Pointer(carg))
	var cerr *C.char
	out := C.gw_script_call(s.globals, cfn, carg, &cerr)
	if out == nil {
		return "", errors.New(takeString(cerr))
	}
	return takeString(out), nil
}

// ReadConfig runs a Python config file ("file:PATH" or "python:MODULE") and describes its
// top-level names as JSON: {"names": [{"name", "line", "kind", "value", "type", "arity"}]},
// or {"error", "line"} when running it raised. hooks are the names that are hooks, whose text
// values name a function to import.
func ReadConfig(source string, hooks []string) (string, error) {
	script, err := LoadScript(pyconfigSource)
	if err != nil {
		return "", err
	}
	request, _ := json.Marshal(map[string]any{"source": source, "hooks": hooks})
	return script.Call("_read", string(request))
}
