package worker

import (
	"sync/atomic"
	"testing"
	"time"
)

func TestAdmissionHoldsBackWhilePythonStalls(t *testing.T) {
	var stalled atomic.Bool
	stalled.Store(true)
	gate := admission{
		limit:       1000,
		progressing: func(time.Duration) bool { return true },
		stalled:     func(time.Duration) bool { return stalled.Load() },
	}
	admitted := make(chan struct{})
	go func() {
		gate.waitFree()
		close(admitted)
	}()
	select {
	case <-admitted:
		t.Fatal("the accept loop went on while Python stalled")
	case <-time.After(50 * time.Millisecond):
	}
	stalled.Store(false)
	select {
	case <-admitted:
	case <-time.After(5 * time.Second):
		t.Fatal("the accept loop was still held back after Python came back")
	}
}
