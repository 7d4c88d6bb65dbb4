package worker

import (
	"syscall"
	"time"

	"gowsgi/balance"
)

// acceptPause is how long a worker that holds more connections than another waits before it
// accepts again, and maxAcceptPauses how many such waits in a row it makes at most: a worker
// that is ahead still takes a connection every millisecond when the others do not (a sync
// worker busy with a long request does not accept).
const (
	acceptPause     = 100 * time.Microsecond
	maxAcceptPauses = 10
)

// waitWhileAhead lets the other workers take the next connections while this one holds more
// than one connection beyond the least loaded of them (package balance says why).
func waitWhileAhead(load *balance.Slot) {
	for i := 0; i < maxAcceptPauses && load.Ahead(1); i++ {
		pauseAfterAccept()
	}
}

// pauseAfterAccept waits acceptPause in a system call: Go's timers wake about a millisecond
// late when the process is otherwise idle (measured), ten times the pause.
func pauseAfterAccept() {
	ts := syscall.NsecToTimespec(int64(acceptPause))
	syscall.Nanosleep(&ts, nil)
}
