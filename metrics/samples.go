package metrics

import (
	"math"
	"sync/atomic"
	"time"
)

// ringSize is how many durations a worker's ring holds. The master empties the rings every
// statsdInterval, so a worker would have to answer over 80,000 requests a second for one to
// fill; a full ring drops the durations that do not fit, never waits.
const ringSize = 8192

// sampleRing carries each request's duration from a worker to the master, which sends it as a
// statsd timer: statsd computes its percentiles from every sample, so the worker cannot sum
// them up itself. Any of the worker's threads may put; only the master takes.
type sampleRing struct {
	// head is the next entry a request claims; tail the next the master reads. They sit on
	// cache lines of their own, as the worker writes one and the master the other.
	head uint64
	_    [56]byte
	tail uint64
	_    [56]byte
	// entries hold a duration in microseconds plus one, or 0 while the request that claimed
	// the entry has not written it yet.
	entries [ringSize]uint32
}

func (r *sampleRing) put(took time.Duration) {
	value := uint32(min(took.Microseconds(), math.MaxUint32-1)) + 1
	for {
		head := atomic.LoadUint64(&r.head)
		if head-atomic.LoadUint64(&r.tail) >= ringSize {
			return
		}
		if atomic.CompareAndSwapUint64(&r.head, head, head+1) {
			atomic.StoreUint32(&r.entries[head%ringSize], value)
			return
		}
	}
}

// take appends the durations written since the last take, in microseconds, to to. It stops at
// an entry claimed but not written yet, which the next take reads.
func (r *sampleRing) take(to []uint32) []uint32 {
	tail, head := atomic.LoadUint64(&r.tail), atomic.LoadUint64(&r.head)
	for ; tail < head; tail++ {
		entry := &r.entries[tail%ringSize]
		value := atomic.LoadUint32(entry)
		if value == 0 {
			break
		}
		to = append(to, value-1)
		atomic.StoreUint32(entry, 0)
	}
	atomic.StoreUint64(&r.tail, tail)
	return to
}
