package worker

import (
	"fmt"
	"os"
	"runtime"
	"syscall"
	"time"

	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/wsgi"
)

// ExitReload is the exit code of a worker that stopped because a file it watches for --reload
// changed: the master starts a fresh worker at once, without counting the exit as a failure.
const ExitReload = 5

const (
	// reloadScanInterval is how often the list of files the app imported is refreshed (apps
	// import lazily), and how often the poll engine looks at every file.
	reloadScanInterval = time.Second
	// reloadSettle is the quiet time that follows the last change of a watched file before the
	// worker goes, within reloadSettleAtMost: editors save in several steps (a write then a
	// rename, a truncate then a write), and the next worker must import the file complete.
	reloadSettle       = 100 * time.Millisecond
	reloadSettleAtMost = time.Second
)

// fileWatcher tells when a watched file changes.
type fileWatcher interface {
	// add watches the paths not watched yet; a path may name a file that does not exist yet.
	add(paths []string)
	// changes delivers the paths of watched files as they change; nil for an engine that polls.
	changes() <-chan string
	// check returns a watched file that changed since the last check, or "", for an engine
	// that polls; it is called every reloadScanInterval.
	check() string
}

// watchForReload watches, under --reload, the files the app has imported and the extra files,
// and returns a channel that is closed once one of them has changed and the worker should
// stop for a fresh one to load the app again. Without --reload it returns nil, which never
// delivers.
func watchForReload(cfg *config.Config) <-chan struct{} {
	if !cfg.Reload {
		return nil
	}
	watcher := newFileWatcher(cfg.ReloadEngine)
	files := func() []string { return append(wsgi.ModuleFiles(), cfg.ReloadExtraFiles...) }
	// The files imported so far are watched before the worker serves: a change made as soon as
	// it answers must not come before the watch.
	watcher.add(files())
	changed := make(chan struct{})
	go func() {
		// One OS thread, so that asking Python for its modules uses one thread state.
		runtime.LockOSThread()
		path := waitForChange(watcher, files)
		errorlog.Info("Worker reloading: %s modified", path)
		close(changed)
	}()
	return changed
}

// newFileWatcher starts the engine named by --reload-engine: inotify, poll, or auto, which is
// inotify when the kernel offers it.
func newFileWatcher(engine string) fileWatcher {
	if engine == "poll" {
		return newPoller()
	}
	watcher, err := newInotifyWatcher()
	if err != nil {
		if engine == "inotify" {
			errorlog.Warning("Can't use inotify for --reload (%v); polling files every %s instead", err, reloadScanInterval)
		}
		return newPoller()
	}
	return watcher
}

// waitForChange returns the first watched file that changes, refreshing the list of files to
// watch every reloadScanInterval; the caller has added the first list.
func waitForChange(w fileWatcher, files func() []string) string {
	tick := time.NewTicker(reloadScanInterval)
	defer tick.Stop()
	for {
		select {
		case path := <-w.changes():
			settle(w.changes())
			return path
		case <-tick.C:
			if path := w.check(); path != "" {
				return path
			}
			w.add(files())
		}
	}
}

// settle returns once changes has been quiet for reloadSettle, or after reloadSettleAtMost.
func settle(changes <-chan string) {
	quiet := time.NewTimer(reloadSettle)
	defer quiet.Stop()
	atMost := time.NewTimer(reloadSettleAtMost)
	defer atMost.Stop()
	for {
		select {
		case <-changes:
			quiet.Reset(reloadSettle)
		case <-quiet.C:
			return
		case <-atMost.C:
			return
		}
	}
}

// poller is the poll engine: it compares what stat says about each file every check.
type poller struct {
	stamps map[string]fileStamp
}

// fileStamp is what tells that a file changed: a new inode (a file saved by renaming a new
// one over it), size or modification time, or the file appearing or going.
type fileStamp struct {
	exists  bool
	inode   uint64
	size    int64
	modTime time.Time
}

func newPoller() *poller { return &poller{stamps: map[string]fileStamp{}} }

func stampOf(path string) fileStamp {
	info, err := os.Stat(path)
	if err != nil {
		return fileStamp{}
	}
	stamp := fileStamp{exists: true, size: info.Size(), modTime: info.ModTime()}
	if st, ok := info.Sys().(*syscall.Stat_t); ok {
		stamp.inode = st.Ino
	}
	return stamp
}

func (p *poller) add(paths []string) {
	for _, path := range paths {
		if _, watched := p.stamps[path]; !watched {
			p.stamps[path] = stampOf(path)
		}
	}
}

func (p *poller) changes() <-chan string { return nil }

func (p *poller) check() string {
	for path, before := range p.stamps {
		if now := stampOf(path); now != before {
			p.stamps[path] = now
			return path
		}
	}
	return ""
}

// serveLoadFailure is what a worker under --reload does when its app fails to load, as
// gunicorn's does: instead of exiting, which would stop the master, it answers every request
// with 500 and the reason, while watchForReload watches the files the failed load went through,
// so that fixing them brings the app back.
func serveLoadFailure(cfg *config.Config, loadErr *wsgi.LoadError) (*wsgi.Handler, int) {
	handler, err := wsgi.FailingHandler(fmt.Sprintf("Failed to load application %q: %s: %s",
		cfg.App.Raw, loadErr.Kind, loadErr.Detail))
	if err != nil {
		errorlog.Error("Worker failed to boot: %v", err)
		return nil, ExitLoadError
	}
	errorlog.Warning("Answering every request with the error above until a watched file changes (--reload)")
	return handler, 0
}
