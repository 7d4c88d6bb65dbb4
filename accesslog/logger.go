package accesslog

import (
	"bytes"
	"os"
	"slices"
	"strconv"
	"sync"
	"time"

	"gowsgi/errorlog"
)

const (
	// flushDelay is the longest a line waits in the buffer: short enough that someone tailing
	// the log sees requests as they happen, long enough to collect many lines per write.
	flushDelay = 100 * time.Millisecond
	// flushSize is the buffered size past which lines are written at once.
	flushSize = 32 << 10
	// pipeBuf is Linux's PIPE_BUF: a write of at most this many bytes to a pipe is never mixed
	// with another process's writes, so lines sent to a shared pipe go out in pieces this big.
	pipeBuf = 4096
)

// Logger is one process's access log. Every worker has its own, all appending to the same file:
// lines are written only whole, in single writes to a file opened with O_APPEND, so the lines of
// different workers never interleave.
type Logger struct {
	format *Format
	json   bool
	// path is the file, "" for standard output.
	path    string
	pid     []byte
	pidAtom []byte // "<pid>"

	mu  sync.Mutex
	out *os.File
	// anySize says a single write lands whole whatever its size (a regular file); otherwise
	// writes are cut at line ends into pieces of at most pipeBuf bytes.
	anySize bool
	buf     []byte
	clock   clock
	timer   *time.Timer
	// failing is set while writes fail, so that the error log hears of it once.
	failing bool
}

// Open starts an access log to path ("-" for standard output), in the given format, as JSON
// lines when json is set.
func Open(path, format string, json bool) (*Logger, error) {
	l, err := newLogger(format, json)
	if err != nil {
		return nil, err
	}
	if path != "-" {
		l.path = path
	}
	if l.out, err = l.open(); err != nil {
		return nil, err
	}
	l.anySize = isRegular(l.out)
	l.timer = time.AfterFunc(time.Hour, l.Flush)
	l.timer.Stop()
	registry.Lock()
	registry.loggers = append(registry.loggers, l)
	registry.Unlock()
	return l, nil
}

// newLogger is a Logger that formats but has nowhere to write yet.
func newLogger(format string, json bool) (*Logger, error) {
	f, err := ParseFormat(format)
	if err != nil {
		return nil, err
	}
	if json {
		// The JSON object always carries the user, referer and user agent.
		f.needRequestHeader(nameAuthorization)
		f.needRequestHeader(nameReferer)
		f.needRequestHeader(nameUserAgent)
	}
	pid := strconv.Itoa(os.Getpid())
	return &Logger{format: f, json: json, pid: []byte(pid), pidAtom: []byte("<" + pid + ">"),
		buf: make([]byte, 0, flushSize+4096)}, nil
}

func (l *Logger) open() (*os.File, error) {
	if l.path == "" {
		return os.Stdout, nil
	}
	return os.OpenFile(l.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
}

func isRegular(f *os.File) bool {
	info, err := f.Stat()
	return err == nil && info.Mode().IsRegular()
}

// CheckWritable opens path as the access log would and closes it again, so that the master can
// refuse to start when no worker could open it; "" (no access log) and "-" need no check.
func CheckWritable(path string) error {
	if path == "" || path == "-" {
		return nil
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return err
	}
	return f.Close()
}

// Format is the compiled format, for what callers must collect for each Record.
func (l *Logger) Format() *Format { return l.format }

// Log adds the line for r. It formats into the shared buffer under the lock: there is no system
// call on this path unless the buffer is full.
func (l *Logger) Log(r *Record) {
	l.mu.Lock()
	wasEmpty := len(l.buf) == 0
	if l.json {
		l.buf = l.appendJSON(l.buf, r)
	} else {
		l.buf = l.appendText(l.buf, r)
	}
	if len(l.buf) >= flushSize {
		l.flushLocked()
	} else if wasEmpty {
		l.timer.Reset(flushDelay)
	}
	l.mu.Unlock()
}

// Flush writes the buffered lines.
func (l *Logger) Flush() {
	l.mu.Lock()
	l.flushLocked()
	l.mu.Unlock()
}

func (l *Logger) flushLocked() {
	data := l.buf
	for len(data) > 0 {
		n := len(data)
		if !l.anySize {
			n = pipeWriteSize(data)
		}
		if _, err := l.out.Write(data[:n]); err != nil {
			if !l.failing {
				errorlog.Error("Can't write the access log %s: %v", l.name(), err)
			}
			l.failing = true
			break
		}
		l.failing = false
		data = data[n:]
	}
	l.buf = l.buf[:0]
	if cap(l.buf) > 4*flushSize {
		l.buf = make([]byte, 0, flushSize+4096) // one huge line must not keep its buffer
	}
}

// pipeWriteSize is how much of data, whole lines, goes in one write that must not exceed pipeBuf;
// a line longer than that goes alone.
func pipeWriteSize(data []byte) int {
	if len(data) <= pipeBuf {
		return len(data)
	}
	if n := bytes.LastIndexByte(data[:pipeBuf], '\n') + 1; n > 0 {
		return n
	}
	if n := bytes.IndexByte(data, '\n') + 1; n > 0 {
		return n
	}
	return len(data)
}

func (l *Logger) name() string {
	if l.path == "" {
		return "on standard output"
	}
	return l.path
}

// Reopen writes what is buffered, then opens the file again: once logrotate has moved it away,
// the next lines go to a new file at the same path.
func (l *Logger) Reopen() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.flushLocked()
	if l.path == "" {
		return nil
	}
	f, err := l.open()
	if err != nil {
		return err
	}
	l.out.Close()
	l.out = f
	l.anySize = isRegular(f)
	return nil
}

// Close writes what is buffered and closes the file.
func (l *Logger) Close() {
	registry.Lock()
	registry.loggers = slices.DeleteFunc(registry.loggers, func(o *Logger) bool { return o == l })
	registry.Unlock()
	l.mu.Lock()
	defer l.mu.Unlock()
	l.timer.Stop()
	l.flushLocked()
	if l.path != "" {
		l.out.Close()
	}
}

// registry holds the open loggers, for USR1 and for exits.
var registry struct {
	sync.Mutex
	loggers []*Logger
}

// ReopenAll reopens every access log of the process, for USR1; it returns the first failure.
func ReopenAll() error {
	registry.Lock()
	defer registry.Unlock()
	var first error
	for _, l := range registry.loggers {
		if err := l.Reopen(); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// FlushAll writes what every access log of the process has buffered; the process calls it
// before it exits.
func FlushAll() {
	registry.Lock()
	defer registry.Unlock()
	for _, l := range registry.loggers {
		l.Flush()
	}
}
