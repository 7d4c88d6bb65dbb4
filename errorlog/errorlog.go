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

	"golang.org/x/sys/unix"
)

var (
	mu  sync.Mutex
	out io.Writer = os.Stderr
	pid           = os.Getpid()
	// file is the error log file, or "" for standard error.
	file string
	// captureOutput makes the file take the place of standard output too (--capture-output).
	captureOutput bool
	// errorSyslog gets every line too, with --log-syslog (see StartSyslog).
	errorSyslog *Syslog
)

// Open makes path ("-" for standard error) this process's error log. The file takes the place
// of standard error itself (descriptor 2), so that everything written there lands in it:
// these lines, Python's sys.stderr and wsgi.errors, a crash's last words. Workers inherit it.
func Open(path string) error {
	if path == "-" {
		path = ""
	}
	mu.Lock()
	file = path
	mu.Unlock()
	return Reopen()
}

// Reopen opens the error log file again, for USR1: once logrotate has moved the file away, the
// next lines go to a new file at the same path.
func Reopen() error {
	mu.Lock()
	defer mu.Unlock()
	if file == "" {
		return nil
	}
	f, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if captureOutput {
		if err := unix.Dup3(int(f.Fd()), 1, 0); err != nil {
			return err
		}
	}
	return unix.Dup3(int(f.Fd()), 2, 0)
}

// CaptureOutput makes Open and Reopen put the error log file in the place of standard output
// as well (descriptor 1), so that the app's print() lands in it, as gunicorn's --capture-output
// does. It has no effect while the error log is standard error. Call it before Open.
func CaptureOutput(on bool) {
	mu.Lock()
	captureOutput = on
	mu.Unlock()
}

// SetOutput sends the log to w (stderr by default).
func SetOutput(w io.Writer) {
	mu.Lock()
	out = w
	mu.Unlock()
}

// levelTitles are the levels as the lines name them.
var levelTitles = map[Level]string{
	LevelDebug: "DEBUG", LevelInfo: "INFO", LevelWarning: "WARNING", LevelError: "ERROR", LevelCritical: "CRITICAL",
}

func write(level Level, format string, args []any) {
	emit(level, fmt.Sprintf(format, args...), true)
}

// emit writes the line, and sends it to syslog too when toSyslog is set and the error log goes
// there.
func emit(level Level, msg string, toSyslog bool) {
	msg = strings.TrimRight(msg, "\n")
	stamp := time.Now().Format("2006-01-02 15:04:05 -0700")
	mu.Lock()
	defer mu.Unlock()
	fmt.Fprintf(out, "[%s] [%d] [%s] %s\n", stamp, pid, levelTitles[level], msg)
	if toSyslog && errorSyslog != nil {
		errorSyslog.Send(level, []byte(msg))
	}
}

// Info logs lifecycle events.
func Info(format string, args ...any) {
	if enabled(LevelInfo) {
		write(LevelInfo, format, args)
	}
}

// Warning logs what went wrong without losing work.
func Warning(format string, args ...any) {
	countLine(WarningLine)
	if enabled(LevelWarning) {
		write(LevelWarning, format, args)
	}
}

// Error logs failures. A multi-line message (a traceback) keeps its lines as they are after the
// first, as gunicorn prints them.
func Error(format string, args ...any) {
	countLine(ErrorLine)
	if enabled(LevelError) {
		write(LevelError, format, args)
	}
}
