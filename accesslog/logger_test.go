package accesslog

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

func TestLinesFromManyWritersStayWhole(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	// Two loggers on one file stand for two workers.
	var loggers []*Logger
	for range 2 {
		l, err := Open(path, "%(m)s %(U)s %({x-pad}i)s", false)
		if err != nil {
			t.Fatal(err)
		}
		loggers = append(loggers, l)
	}
	pad := strings.Repeat("p", 700)
	var wg sync.WaitGroup
	for i, l := range loggers {
		for range 4 {
			wg.Go(func() {
				r := &Record{Method: []byte("GET"), PathInfo: []byte("/" + string(rune('a'+i))),
					RequestHeaders: []Header{{Name: []byte("X-Pad"), Value: []byte(pad)}}}
				for range 500 {
					l.Log(r)
				}
			})
		}
	}
	wg.Wait()
	for _, l := range loggers {
		l.Close()
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	if len(lines) != 4000 {
		t.Fatalf("%d lines, want 4000", len(lines))
	}
	for _, line := range lines {
		if line != "GET /a "+pad && line != "GET /b "+pad {
			t.Fatalf("a broken line: %.80q…", line)
		}
	}
}

func TestCopyLinesWithAndWithoutAFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "access.log")
	for _, file := range []string{path, ""} {
		l, err := Open(file, "%(m)s %(U)s", false)
		if err != nil {
			t.Fatal(err)
		}
		var copied []string
		l.CopyLines(func(line []byte) { copied = append(copied, string(line)) })
		for _, p := range []string{"/a", "/b"} {
			l.Log(&Record{Method: []byte("GET"), PathInfo: []byte(p)})
		}
		l.Reopen() // flushes; no file to reopen with ""
		l.Close()
		if strings.Join(copied, "|") != "GET /a|GET /b" {
			t.Errorf("file %q: copied %q", file, copied)
		}
	}
	if data, err := os.ReadFile(path); err != nil || string(data) != "GET /a\nGET /b\n" {
		t.Errorf("the file has %q (%v)", data, err)
	}
}

func TestFlushWritesAndReopenFollowsARename(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "access.log")
	l, err := Open(path, "%(U)s", false)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	l.Log(&Record{PathInfo: []byte("/before")})
	if data, _ := os.ReadFile(path); len(data) != 0 {
		t.Fatalf("a line was written before its flush: %q", data)
	}
	FlushAll()
	if data, _ := os.ReadFile(path); string(data) != "/before\n" {
		t.Fatalf("after FlushAll the file holds %q", data)
	}
	rotated := filepath.Join(dir, "access.log.1")
	if err := os.Rename(path, rotated); err != nil {
		t.Fatal(err)
	}
	l.Log(&Record{PathInfo: []byte("/buffered")})
	if err := ReopenAll(); err != nil {
		t.Fatal(err)
	}
	l.Log(&Record{PathInfo: []byte("/after")})
	l.Flush()
	if data, _ := os.ReadFile(rotated); string(data) != "/before\n/buffered\n" {
		t.Errorf("the rotated file holds %q: lines logged before the reopen belong there", data)
	}
	if data, _ := os.ReadFile(path); string(data) != "/after\n" {
		t.Errorf("the new file holds %q", data)
	}
}

func TestCheckWritable(t *testing.T) {
	if err := CheckWritable(filepath.Join(t.TempDir(), "no", "dir", "access.log")); err == nil {
		t.Error("a path in a missing directory passed")
	}
	for _, path := range []string{"", "-", filepath.Join(t.TempDir(), "access.log")} {
		if err := CheckWritable(path); err != nil {
			t.Errorf("%q: %v", path, err)
		}
	}
}

// BenchmarkLog is the cost a request pays for its line: formatting, and handing full buffers
// to the writer.
func BenchmarkLog(b *testing.B) {
	l, err := Open(filepath.Join(b.TempDir(), "access.log"), DefaultFormat, false)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Close()
	r := sampleRecord()
	b.ReportAllocs()
	for b.Loop() {
		l.Log(r)
	}
}
