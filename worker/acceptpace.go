package worker

import (
	"syscall"
	"time"
)

// acceptPause is how long a worker waits after taking a connection before it takes another,
// when other workers accept on the same sockets. A keep-alive connection stays with the worker
// that accepted it, and in a burst of new connections the worker whose accept loop is already
// running takes nearly all of them while the others are still waking up: measured with 64 wrk
// connections and 2 workers, 63/1, 52/10, 44/18 in some runs, so that one worker's clients
// waited twice as long and the other worker's CPU stood idle. With this pause, 27 to 35 each.
// It limits a worker to 10 000 new connections a second.
const acceptPause = 100 * time.Microsecond

// pauseAfterAccept waits acceptPause in a system call: Go's timers wake about a millisecond
// late when the process is otherwise idle (measured), ten times the pause.
func pauseAfterAccept() {
	ts := syscall.NsecToTimespec(int64(acceptPause))
	syscall.Nanosleep(&ts, nil)
}
