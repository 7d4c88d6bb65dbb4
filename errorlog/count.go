package errorlog

import "sync/atomic"

// LineKind is what gowsgi's metrics count of the error log, as gunicorn's statsd counts its
// log: warning, error, exception and critical lines, whether --log-level writes them or not.
type LineKind int

const (
	WarningLine LineKind = iota
	ErrorLine
	ExceptionLine
	CriticalLine
	// LineKinds is how many kinds there are.
	LineKinds
)

var lineCounter atomic.Pointer[func(LineKind)]

// CountLines has count called for every line of a counted kind from now on.
func CountLines(count func(LineKind)) { lineCounter.Store(&count) }

func countLine(kind LineKind) {
	if count := lineCounter.Load(); count != nil {
		(*count)(kind)
	}
}

// Exception logs an exception the app raised, with its traceback: an error line, counted as an
// exception, as gunicorn's log.exception is.
func Exception(format string, args ...any) {
	countLine(ExceptionLine)
	if enabled(LevelError) {
		write(LevelError, format, args)
	}
}
