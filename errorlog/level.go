package errorlog

import (
	"fmt"
	"strings"
	"sync/atomic"
)

// Level is a line's severity. --log-level sets the least severe level that is written, as
// gunicorn's does: below it, a line costs one comparison and is never formatted.
type Level int32

// The levels, with Python's logging numbers so that they compare the same way.
const (
	LevelDebug    Level = 10
	LevelInfo     Level = 20
	LevelWarning  Level = 30
	LevelError    Level = 40
	LevelCritical Level = 50
)

var levelNames = map[Level]string{
	LevelDebug: "debug", LevelInfo: "info", LevelWarning: "warning", LevelError: "error", LevelCritical: "critical",
}

// threshold is the least severe level written; info until SetLevel says otherwise.
var threshold atomic.Int32

func init() { threshold.Store(int32(LevelInfo)) }

// ParseLevel reads a --log-level value: debug, info, warning, error or critical, in any case.
func ParseLevel(name string) (Level, error) {
	lower := strings.ToLower(name)
	for level, levelName := range levelNames {
		if levelName == lower {
			return level, nil
		}
	}
	return 0, fmt.Errorf("choose debug, info, warning, error or critical")
}

// String is the level's name as --log-level takes it.
func (l Level) String() string { return levelNames[l] }

// SetLevel drops lines less severe than l from now on.
func SetLevel(l Level) { threshold.Store(int32(l)) }

func enabled(l Level) bool { return int32(l) >= threshold.Load() }

// Debug logs details that help find out what the server does; written with --log-level debug.
func Debug(format string, args ...any) {
	if enabled(LevelDebug) {
		write(LevelDebug, format, args)
	}
}

// Critical logs failures that stop the server.
func Critical(format string, args ...any) {
	countLine(CriticalLine)
	if enabled(LevelCritical) {
		write(LevelCritical, format, args)
	}
}
