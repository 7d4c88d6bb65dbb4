package errorlog

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestLevelFiltersLines(t *testing.T) {
	var out bytes.Buffer
	SetOutput(&out)
	t.Cleanup(func() { SetOutput(os.Stderr); SetLevel(LevelInfo) })
	for _, name := range []string{"debug", "INFO", "Warning", "error", "critical"} {
		level, err := ParseLevel(name)
		if err != nil {
			t.Fatalf("ParseLevel(%q): %v", name, err)
		}
		out.Reset()
		SetLevel(level)
		Debug("d")
		Info("i")
		Warning("w")
		Error("e")
		Critical("c")
		var got []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if line != "" {
				got = append(got, line[strings.LastIndex(line, "[")+1:strings.LastIndex(line, "]")])
			}
		}
		want := []string{"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}[(level/10)-1:]
		if strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("--log-level %s wrote %v, want %v", name, got, want)
		}
	}
	if _, err := ParseLevel("verbose"); err == nil {
		t.Error("ParseLevel accepted verbose")
	}
}
