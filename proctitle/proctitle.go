// Package proctitle sets the title that ps and top show for a gowsgi process, such as
// "gowsgi: master [myapp:app]", as gunicorn's processes show theirs.
//
// ps reads a process's command line from the memory that held its arguments when it started
// (and, once the last argument's NUL is overwritten, the environment strings after them), so the
// title is written over that memory. Go's os.Args strings live in the same memory, so the package
// gives os.Args copies of its own before anything can parse them; the environment strings are
// copies already in Go, and the C library's copies are moved to the heap before their memory is
// reused.
package proctitle

import (
	"os"
	"strconv"
	"strings"
	"sync"
	"unsafe"
)

// commLimit is how many bytes of the short name (/proc/PID/comm) the kernel keeps.
const commLimit = 15

var (
	mu sync.Mutex
	// area is the memory the kernel shows as the command line; nil when it could not be found.
	area []byte
	// environMoved says whether the environment strings after the arguments may be reused.
	environMoved bool
	// environArea is the whole span, arguments plus environment strings.
	environArea []byte
)

func init() {
	area, environArea = findArgumentMemory()
	for i, arg := range os.Args {
		os.Args[i] = strings.Clone(arg)
	}
}

// Title is the title gowsgi gives a process with role "master" or "worker".
func Title(role, name string) string {
	return "gowsgi: " + role + " [" + name + "]"
}

// Set shows title as the process's command line, truncated to the memory available (the
// arguments and environment the process started with), and its first 15 bytes as its short
// name. It never fails: a title is cosmetic.
func Set(title string) {
	mu.Lock()
	defer mu.Unlock()
	_ = os.WriteFile("/proc/self/comm", []byte(strings.TrimRight(truncate(title, commLimit), " ")), 0)
	target := area
	if len(title) >= len(area) && environArea != nil {
		if !environMoved {
			environMoved = moveEnvironment()
		}
		if environMoved {
			target = environArea
		}
	}
	if len(target) == 0 {
		return
	}
	// The last byte stays NUL so that the kernel ends the command line inside the area.
	n := copy(target[:len(target)-1], title)
	clear(target[n:])
}

func truncate(s string, limit int) string {
	if len(s) > limit {
		return s[:limit]
	}
	return s
}

// findArgumentMemory locates the arguments' memory from the addresses the kernel reports in
// /proc/self/stat, and checks that os.Args really points into it before trusting it.
func findArgumentMemory() (args, argsAndEnv []byte) {
	stat, err := os.ReadFile("/proc/self/stat")
	if err != nil || len(os.Args) == 0 || len(os.Args[0]) == 0 {
		return nil, nil
	}
	end := strings.LastIndexByte(string(stat), ')')
	if end < 0 {
		return nil, nil
	}
	// Fields after the command name start at field 3; arg_start is field 48.
	fields := strings.Fields(string(stat[end+1:]))
	const argStartField = 48 - 3
	if len(fields) < argStartField+4 {
		return nil, nil
	}
	var addr [4]uintptr
	for i := range addr {
		v, err := strconv.ParseUint(fields[argStartField+i], 10, 64)
		if err != nil {
			return nil, nil
		}
		addr[i] = uintptr(v)
	}
	argStart, argEnd, envStart, envEnd := addr[0], addr[1], addr[2], addr[3]
	base := unsafe.StringData(os.Args[0])
	if argEnd <= argStart || uintptr(unsafe.Pointer(base)) != argStart {
		return nil, nil
	}
	args = unsafe.Slice(base, argEnd-argStart)
	if envStart == argEnd && envEnd > envStart {
		argsAndEnv = unsafe.Slice(base, envEnd-argStart)
	}
	return args, argsAndEnv
}

// moveEnvironment makes the C library keep its own copies of the environment, so that its
// original strings can be overwritten. In a binary with cgo, os.Setenv also sets the variable in
// the C library, which copies it; without cgo nothing reads the original strings. A variable that
// appears twice cannot be moved this way (only its first copy would be), so then the environment
// stays where it is.
func moveEnvironment() bool {
	env := os.Environ()
	seen := make(map[string]bool, len(env))
	for _, kv := range env {
		key, _, _ := strings.Cut(kv, "=")
		if seen[key] {
			return false
		}
		seen[key] = true
	}
	for _, kv := range env {
		key, value, _ := strings.Cut(kv, "=")
		if err := os.Setenv(key, value); err != nil {
			return false
		}
	}
	return true
}
