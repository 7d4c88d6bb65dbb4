// Package errorlog writes gowsgi's error log in gunicorn's shape, so that tools which parse
// gunicorn's log read ours: "[2006-01-02 15:04:05 +0000] [pid] [LEVEL] message".
package errorlog

import (
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
)

var (
	mu  sync.Mutex
	out io.Writer = os.Stderr
	pid           = os.Getpid()
)

// SetOutput sends the log to w (stderr by default).
func SetOutput(w io.Writer) {
	mu.Lock()
	out = w
	mu.Unlock()
}

func write(level, format string, args []any) {
	msg := fmt.Sprintf(format, args...)
	msg = strings.TrimRight(msg, "\n")
	stamp := time.Now().Format("2006-01-02 15:04:05 -0700")
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(out, "[%s] [%d] [%s] %s\n", stamp, pid, level, msg)
}

// Info logs lifecycle events.
func Info(format string, args ...any) { write("INFO", format, args) }

// Warning logs what went wrong without losing work.
func Warning(format string, args ...any) { write("WARNING", format, args) }

// Error logs failures. A multi-line message (a traceback) keeps its lines as they are after the
// first, as gunicorn prints them.
func Error(format string, args ...any) { write("ERROR", format, args) }
