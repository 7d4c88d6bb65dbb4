package worker

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// memoryCheckInterval is how often a worker with --max-worker-memory looks at its size.
const memoryCheckInterval = time.Second

// retirement asks the master, once, to replace this worker: after --max-requests (plus
// jitter) requests, or when its resident memory grows past --max-worker-memory. The worker
// keeps serving until the master has a replacement ready and sends TERM, except under
// --preload, where it stops accepting at once (see Run).
type retirement struct {
	hb    *heartbeat
	limit int64
	count atomic.Int64
	once  sync.Once
	// then, if set, runs once the worker has asked.
	then func()
}

// newRetirement draws the request limit as gunicorn does: maxRequests plus a random number
// from 0 to jitter, so that workers started together do not all retire together. A
// maxRequests of 0 means no limit.
func newRetirement(hb *heartbeat, maxRequests, jitter int) *retirement {
	r := &retirement{hb: hb}
	if maxRequests > 0 {
		r.limit = int64(maxRequests)
		if jitter > 0 {
			r.limit += rand.Int64N(int64(jitter) + 1)
		}
	}
	return r
}

// starting counts a request towards the limit as it starts, so that under --preload, where
// asking stops the worker accepting and keeping connections alive, the request that reaches
// the limit is the last one the worker serves: its answer already closes the connection.
func (r *retirement) starting() {
	if r.limit > 0 && r.count.Add(1) == r.limit {
		r.ask(fmt.Sprintf("served %d requests (--max-requests)", r.limit))
	}
}

// watchMemory checks the resident size every second and asks to retire once it is over
// limitMiB; 0 disables the check.
func (r *retirement) watchMemory(limitMiB int) {
	if limitMiB <= 0 {
		return
	}
	limit := int64(limitMiB) << 20
	go func() {
		tick := time.NewTicker(memoryCheckInterval)
		defer tick.Stop()
		for range tick.C {
			rss, err := residentBytes()
			if err != nil || rss <= limit {
				continue
			}
			r.ask(fmt.Sprintf("resident memory %d MiB is over --max-worker-memory %d MiB", rss>>20, limitMiB))
			return
		}
	}()
}

func (r *retirement) ask(reason string) {
	r.once.Do(func() {
		r.hb.retire(reason)
		if r.then != nil {
			r.then()
		}
	})
}

// residentBytes reads the resident set size from /proc/self/statm (its second field, in pages).
func residentBytes() (int64, error) {
	statm, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0, err
	}
	fields := bytes.Fields(statm)
	if len(fields) < 2 {
		return 0, fmt.Errorf("unexpected /proc/self/statm: %q", statm)
	}
	pages, err := strconv.ParseInt(string(fields[1]), 10, 64)
	if err != nil {
		return 0, err
	}
	return pages * int64(os.Getpagesize()), nil
}
