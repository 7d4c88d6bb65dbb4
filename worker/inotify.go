package worker

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"golang.org/x/sys/unix"

	"gowsgi/errorlog"
)

// inotifyEvents are the changes of a directory entry that can change a module: its content
// written, its metadata (touch), or the entry created, removed or renamed, as editors that save
// by renaming a new file over the old one do.
const inotifyEvents = unix.IN_MODIFY | unix.IN_CLOSE_WRITE | unix.IN_ATTRIB | unix.IN_CREATE |
	unix.IN_DELETE | unix.IN_MOVED_FROM | unix.IN_MOVED_TO

// inotifyWatcher is the inotify engine. It watches the directories of the files rather than
// the files, so that a file replaced by a rename, or one that does not exist yet, is seen too,
// and reports only the files it was asked to watch.
type inotifyWatcher struct {
	// fd is the inotify instance; file wraps it for reading (its Fd method would make it
	// blocking).
	fd     int
	file   *os.File
	events chan string
	mu     sync.Mutex
	dirs   map[string]int   // watched directory → watch descriptor
	byWD   map[int32]string // the reverse
	files  map[string]bool  // the paths to report
	failed map[string]bool  // directories that cannot be watched, tried once
	// warned is set once a directory that exists could not be watched (the kernel's limit on
	// watches, most likely): said once, not for every directory.
	warned bool
}

func newInotifyWatcher() (*inotifyWatcher, error) {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC | unix.IN_NONBLOCK)
	if err != nil {
		return nil, err
	}
	w := &inotifyWatcher{
		fd: fd,
		// Non-blocking, so that reads wait in Go's poller instead of holding an OS thread.
		file:   os.NewFile(uintptr(fd), "inotify"),
		events: make(chan string, 64),
		dirs:   map[string]int{},
		byWD:   map[int32]string{},
		files:  map[string]bool{},
		failed: map[string]bool{},
	}
	go w.read()
	return w, nil
}

func (w *inotifyWatcher) add(paths []string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, path := range paths {
		path = filepath.Clean(path)
		if w.files[path] {
			continue
		}
		dir := filepath.Dir(path)
		if _, watched := w.dirs[dir]; !watched && !w.failed[dir] {
			wd, err := unix.InotifyAddWatch(w.fd, dir, inotifyEvents|unix.IN_ONLYDIR)
			if err != nil {
				w.failed[dir] = true
				if !w.warned && !errors.Is(err, unix.ENOENT) && !errors.Is(err, unix.ENOTDIR) {
					w.warned = true
					errorlog.Warning("Can't watch %s for --reload: %v; its files are not watched "+
						"(try --reload-engine poll)", dir, err)
				}
				continue
			}
			w.dirs[dir], w.byWD[int32(wd)] = wd, dir
		}
		w.files[path] = true
	}
}

func (w *inotifyWatcher) changes() <-chan string { return w.events }

func (w *inotifyWatcher) check() string { return "" }

// read turns the kernel's events into paths on the events channel. The channel only needs to
// say that something changed: when it is full, an event is dropped.
func (w *inotifyWatcher) read() {
	buf := make([]byte, 64<<10)
	for {
		n, err := w.file.Read(buf)
		if err != nil {
			return
		}
		for _, path := range w.parse(buf[:n]) {
			select {
			case w.events <- path:
			default:
			}
		}
	}
}

// parse reads struct inotify_event records (wd, mask, cookie, len, then a NUL-padded name)
// and returns the watched paths they concern.
func (w *inotifyWatcher) parse(buf []byte) []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	var paths []string
	for len(buf) >= unix.SizeofInotifyEvent {
		wd := int32(binary.NativeEndian.Uint32(buf[0:]))
		mask := binary.NativeEndian.Uint32(buf[4:])
		end := unix.SizeofInotifyEvent + int(binary.NativeEndian.Uint32(buf[12:]))
		if end > len(buf) {
			break
		}
		name := strings.TrimRight(string(buf[unix.SizeofInotifyEvent:end]), "\x00")
		buf = buf[end:]
		dir, known := w.byWD[wd]
		switch {
		case !known:
		case mask&unix.IN_IGNORED != 0:
			// The directory is gone; a later add watches it again if it comes back.
			delete(w.byWD, wd)
			delete(w.dirs, dir)
			for path := range w.files {
				if filepath.Dir(path) == dir {
					delete(w.files, path)
				}
			}
		case name != "" && w.files[filepath.Join(dir, name)]:
			paths = append(paths, filepath.Join(dir, name))
		}
	}
	return paths
}
