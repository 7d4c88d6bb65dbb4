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
	// flushSize is the buffered size past which lines are handed to the writer at once.
	flushSize = 32 << 10
	// maxQueued bounds the buffers waiting for the writer: when the disk cannot keep up,
	// requests wait for it rather than the worker's memory growing.
	maxQueued = 8
	// pipeBuf is Linux's PIPE_BUF: a write of at most this many bytes to a pipe is never mixed
	// with another process's writes, so lines sent to a shared pipe go out in pieces this big.
	pipeBuf = 4096
)

// Logger is one process's access log. Every worker has its own, all appending to the same file:
// lines are written only whole, in single writes to a file opened with O_APPEND, so the lines of
// different workers never interleave. Requests only format lines into a buffer; full buffers go
// to a goroutine of the Logger's own that writes them, so that a slow disk never holds up a
// request's thread (with the sync worker class, Python's).
type Logger struct {
	format *Format
	json   bool
	// path is the file, "" for standard output.
	path    string
	pid     []byte
	pidAtom []byte // "<pid>"

	mu    sync.Mutex
	buf   []byte // lines not handed to the writer yet
	clock clock
	timer *time.Timer

	// queue carries full buffers to the writer, in order, and spare brings them back empty;
	// queued counts the buffers not written yet.
	queue  chan []byte
	spare  chan []byte
	queued sync.WaitGroup

	// The writer's own, under wmu: it is held while a buffer is written and while the file is
	// reopened.
	wmu sync.Mutex
	out *os.File
	// anySize says a single write lands whole whatever its size (a regular file); otherwise
	// writes are cut at line ends into pieces of at most pipeBuf bytes.
	anySize bool
	// failing is set while writes fail, so that the error log hears of it once.
	failing bool
	// copyTo gets each line too, on the writer goroutine (see CopyLines).
	copyTo func(line []byte)
}

// Open starts an access log to path ("-" for standard output, "" for no file: the lines go
// only where CopyLines sends them), in the given format, as JSON lines when json is set.
func Open(path, format string, json bool) (*Logger, error) {
	l, err := newLogger(format, json)
	if err != nil {
		return nil, err
	}
	if path != "" {
		if path != "-" {
			l.path = path
		}
		if l.out, err = l.open(); err != nil {
			return nil, err
		}
		l.anySize = isRegular(l.out)
	}
	l.queue = make(chan []byte, maxQueued)
	l.spare = make(chan []byte, maxQueued+1)
	go l.writeQueued()
	l.timer = time.AfterFunc(time.Hour, l.handOff)
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
		buf: newBuffer()}, nil
}

func newBuffer() []byte { return make([]byte, 0, flushSize+4096) }

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

// CopyLines sends each line to copyTo as well, without its newline, once the line is handed
// to the writer: on the writer's goroutine, never a request's (see Logger). copyTo may keep
// nothing of the line. Call it before the first Log.
func (l *Logger) CopyLines(copyTo func(line []byte)) { l.copyTo = copyTo }

// Format is the compiled format, for what callers must collect for each Record.
func (l *Logger) Format() *Format { return l.format }

// Log adds the line for r. It formats into the buffer under the lock; no system call happens on
// this path.
func (l *Logger) Log(r *Record) {
	l.mu.Lock()
	wasEmpty := len(l.buf) == 0
	if l.json {
		l.buf = l.appendJSON(l.buf, r)
	} else {
		l.buf = l.appendText(l.buf, r)
	}
	if len(l.buf) >= flushSize {
		l.handOffLocked()
	} else if wasEmpty {
		l.timer.Reset(flushDelay)
	}
	l.mu.Unlock()
}

// handOff gives the buffered lines to the writer; flushDelay after the first line, it is the
// timer's doing.
func (l *Logger) handOff() {
	l.mu.Lock()
	l.handOffLocked()
	l.mu.Unlock()
}

func (l *Logger) handOffLocked() {
	if len(l.buf) == 0 {
		return
	}
	l.queued.Add(1)
	l.queue <- l.buf
	select {
	case l.buf = <-l.spare:
	default:
		l.buf = newBuffer()
	}
}

// writeQueued is the writer: it writes the buffers in the order they were handed over.
func (l *Logger) writeQueued() {
	for data := range l.queue {
		l.wmu.Lock()
		l.write(data)
		l.wmu.Unlock()
		if cap(data) <= 4*flushSize { // one huge line must not keep its buffer
			select {
			case l.spare <- data[:0]:
			default:
			}
		}
		l.queued.Done()
	}
}

var newline = []byte{'\n'}

func (l *Logger) write(data []byte) {
	if l.copyTo != nil {
		for line := range bytes.Lines(data) {
			l.copyTo(bytes.TrimSuffix(line, newline))
		}
	}
	if l.out == nil {
		return
	}
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
			return
		}
		l.failing = false
		data = data[n:]
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

// Flush writes every line logged so far and returns once they are written.
func (l *Logger) Flush() {
	l.handOff()
	l.queued.Wait()
}

// Reopen writes what is buffered, then opens the file again: once logrotate has moved it away,
// the next lines go to a new file at the same path.
func (l *Logger) Reopen() error {
	l.Flush()
	if l.path == "" { // standard output, or no file
		return nil
	}
	f, err := l.open()
	if err != nil {
		return err
	}
	l.wmu.Lock()
	defer l.wmu.Unlock()
	l.out.Close()
	l.out = f
	l.anySize = isRegular(f)
	return nil
}

// Close writes what is buffered, stops the writer and closes the file. Nothing may be logged
// after it.
func (l *Logger) Close() {
	registry.Lock()
	registry.loggers = slices.DeleteFunc(registry.loggers, func(o *Logger) bool { return o == l })
	registry.Unlock()
	l.timer.Stop()
	l.Flush()
	close(l.queue)
	if l.path != "" {
		l.wmu.Lock()
		l.out.Close()
		l.wmu.Unlock()
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

// FlushAll writes what every access log of the process has buffered and returns once it is
// written; the process calls it before it exits.
func FlushAll() {
	registry.Lock()
	defer registry.Unlock()
	for _, l := range registry.loggers {
		l.Flush()
	}
}
