package httpwire

import (
	"sync"
	"sync/atomic"
	"time"
)

// currentDate is the Date header line, formatted once a second by one goroutine so that a
// response only copies it.
var (
	currentDate   atomic.Pointer[[]byte]
	dateClockOnce sync.Once
)

func startDateClock() {
	dateClockOnce.Do(func() {
		setDate(time.Now())
		go func() {
			for {
				now := time.Now()
				time.Sleep(now.Truncate(time.Second).Add(time.Second).Sub(now))
				setDate(time.Now())
			}
		}()
	})
}

func setDate(now time.Time) {
	line := now.UTC().AppendFormat([]byte("Date: "), "Mon, 02 Jan 2006 15:04:05 GMT")
	line = append(line, crlf...)
	currentDate.Store(&line)
}

func appendDate(w []byte) []byte { return append(w, *currentDate.Load()...) }
