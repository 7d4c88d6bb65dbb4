package worker

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// engines are the two ways of watching files, each made fresh for a test.
var engines = map[string]func(t *testing.T) fileWatcher{
	"poll": func(*testing.T) fileWatcher { return newPoller() },
	"inotify": func(t *testing.T) fileWatcher {
		w, err := newInotifyWatcher()
		if err != nil {
			t.Fatalf("inotify: %v", err)
		}
		t.Cleanup(func() { w.file.Close() })
		return w
	},
}

func write(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// changed waits up to 10 s for the watcher to report a change, as waitForChange would.
func changed(w fileWatcher) string {
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case path := <-w.changes():
			return path
		case <-tick.C:
			if path := w.check(); path != "" {
				return path
			}
		case <-deadline:
			return ""
		}
	}
}

func TestWatchersSeeEveryWayOfChangingAFile(t *testing.T) {
	edits := map[string]func(t *testing.T, path string){
		"written in place": func(t *testing.T, path string) { write(t, path, "MSG = 'two, longer'\n") },
		"replaced by a rename": func(t *testing.T, path string) {
			write(t, path+".tmp", "MSG = 'two'\n")
			if err := os.Rename(path+".tmp", path); err != nil {
				t.Fatal(err)
			}
		},
		"removed": func(t *testing.T, path string) {
			if err := os.Remove(path); err != nil {
				t.Fatal(err)
			}
		},
	}
	for engine, start := range engines {
		for edit, change := range edits {
			t.Run(engine+"/"+edit, func(t *testing.T) {
				dir := t.TempDir()
				module, other := filepath.Join(dir, "module.py"), filepath.Join(dir, "other.txt")
				write(t, module, "MSG = 'one'\n")
				w := start(t)
				w.add([]string{module})
				// A file nobody asked to watch, in the same directory, changes nothing.
				write(t, other, "x")
				change(t, module)
				if got := changed(w); got != module {
					t.Errorf("reported %q, want %q", got, module)
				}
			})
		}
	}
}

func TestWatchersSeeAFileThatAppears(t *testing.T) {
	for engine, start := range engines {
		t.Run(engine, func(t *testing.T) {
			missing := filepath.Join(t.TempDir(), "app.py")
			w := start(t)
			w.add([]string{missing})
			write(t, missing, "def app(e, s): pass\n")
			if got := changed(w); got != missing {
				t.Errorf("reported %q, want %q", got, missing)
			}
		})
	}
}

func TestWaitForChangeWatchesFilesImportedLater(t *testing.T) {
	dir := t.TempDir()
	first, later := filepath.Join(dir, "first.py"), filepath.Join(dir, "later.py")
	write(t, first, "")
	write(t, later, "")
	imported := make(chan []string, 1)
	imported <- []string{first}
	files := func() []string {
		select {
		case list := <-imported:
			return list
		default:
			return []string{first, later}
		}
	}
	w := newPoller()
	w.add(files())
	done := make(chan string, 1)
	go func() { done <- waitForChange(w, files) }()
	// The second scan adds later.py; changing it until it is seen avoids guessing when that is.
	for i := 0; ; i++ {
		write(t, later, string(make([]byte, i)))
		select {
		case got := <-done:
			if got != later {
				t.Fatalf("reported %q, want %q", got, later)
			}
			return
		case <-time.After(reloadScanInterval / 2):
		}
		if i > 40 {
			t.Fatal("a file imported after the first scan was never watched")
		}
	}
}
