// Package metrics counts what gowsgi's workers do where the master can read it: each worker
// adds to counters in its own area of the balance table (shared memory, see package balance)
// with atomic additions, and the master adds the areas up for Prometheus and statsd. A request
// costs its worker a few atomic additions and no system call or lock, and the master reads
// every worker without asking it anything. When a worker exits, the master folds its counts
// into its own (Board.Fold), so that totals never go back.
package metrics

import (
	"sync/atomic"
	"time"
	"unsafe"

	"gowsgi/balance"
	"gowsgi/errorlog"
)

// The methods and status classes requests are counted by. Methods outside the list count as
// "other", so that a client inventing methods cannot grow the table.
var (
	methodNames = [...]string{"GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "other"}
	classNames  = [...]string{"1xx", "2xx", "3xx", "4xx", "5xx", "other"}
)

const (
	methods     = len(methodNames)
	classes     = len(classNames)
	otherMethod = methods - 1
	otherClass  = classes - 1
	// statusCodes covers every three-digit status an app can give start_response.
	statusCodes = 1000
)

// bucketBounds are the upper bounds of the latency histogram: Prometheus' default buckets,
// with two below 5 ms, where a plain WSGI app answers, and none beyond 10 s.
var bucketBounds = [...]time.Duration{
	time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond, 10 * time.Millisecond,
	25 * time.Millisecond, 50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond,
	500 * time.Millisecond, time.Second, 2500 * time.Millisecond, 5 * time.Second, 10 * time.Second,
}

// buckets has one more than the bounds, for the requests slower than all of them.
const buckets = len(bucketBounds) + 1

// Counts are one worker's counters, laid out in its area as they are here: every field is a
// uint64 that only grows, except inFlight, so the master can add up areas word by word.
type Counts struct {
	Requests [methods][classes]uint64
	// Statuses counts requests by status code, for statsd's gunicorn.request.status.<code>.
	Statuses [statusCodes]uint64
	// Latency counts requests by the first bucket whose bound their duration does not
	// exceed (not cumulative); LatencySum is their durations' sum in nanoseconds.
	Latency    [buckets]uint64
	LatencySum uint64
	Accepted   uint64
	BodyBytes  uint64
	LogLines   [errorlog.LineKinds]uint64
	// InFlight is requests begun minus requests ended, two's complement: a gauge, which
	// Fold leaves behind with the worker.
	InFlight uint64
}

func (c *Counts) words() []uint64 {
	return unsafe.Slice((*uint64)(unsafe.Pointer(c)), unsafe.Sizeof(*c)/8)
}

// add adds the counters of a live area to c, each read atomically.
func (c *Counts) add(from *Counts) {
	dst, src := c.words(), from.words()
	for i := range src {
		dst[i] += atomic.LoadUint64(&src[i])
	}
}

// TotalRequests is every request counted.
func (c *Counts) TotalRequests() uint64 {
	var n uint64
	for m := range c.Requests {
		for _, count := range c.Requests[m] {
			n += count
		}
	}
	return n
}

// The area's flags, which the master sets before the worker starts (Board.Prepare).
const (
	// flagCounted: the master reads the area; a worker whose area is not read counts nothing.
	flagCounted = 1 << iota
	// flagSamples: the master sends statsd timers, so the worker keeps each request's duration.
	flagSamples
)

// area is the layout of a slot's area of the balance table.
type area struct {
	flags   uint32
	_       [60]byte
	counts  Counts
	samples sampleRing
}

// The layout must fit the room the balance table gives each slot.
var _ [balance.AreaBytes - unsafe.Sizeof(area{})]byte

func areaOf(mem []byte) *area {
	if len(mem) < int(unsafe.Sizeof(area{})) {
		return nil
	}
	return (*area)(unsafe.Pointer(&mem[0]))
}

// Recorder is a worker's writer of its area. A nil *Recorder (no area, or a master that reads
// none) records nothing.
type Recorder struct {
	area    *area
	samples bool
}

// NewRecorder writes into the area of slot, when the master reads it.
func NewRecorder(slot *balance.Slot) *Recorder {
	a := areaOf(slot.Area())
	if a == nil {
		return nil
	}
	flags := atomic.LoadUint32(&a.flags)
	if flags&flagCounted == 0 {
		return nil
	}
	return &Recorder{area: a, samples: flags&flagSamples != 0}
}

// Accepted counts a connection accepted.
func (r *Recorder) Accepted() {
	if r != nil {
		atomic.AddUint64(&r.area.counts.Accepted, 1)
	}
}

// Begin counts a request in flight until End.
func (r *Recorder) Begin() {
	if r != nil {
		atomic.AddUint64(&r.area.counts.InFlight, 1)
	}
}

// End counts a request begun with Begin as answered with status, after took, with bodyBytes
// of body sent.
func (r *Recorder) End(method []byte, status int, took time.Duration, bodyBytes int64) {
	if r == nil {
		return
	}
	took = max(took, 0)
	c := &r.area.counts
	atomic.AddUint64(&c.InFlight, ^uint64(0))
	atomic.AddUint64(&c.Requests[methodIndex(method)][classIndex(status)], 1)
	if uint(status) < statusCodes {
		atomic.AddUint64(&c.Statuses[status], 1)
	}
	atomic.AddUint64(&c.Latency[bucketIndex(took)], 1)
	atomic.AddUint64(&c.LatencySum, uint64(took))
	atomic.AddUint64(&c.BodyBytes, uint64(max(bodyBytes, 0)))
	if r.samples {
		r.area.samples.put(took)
	}
}

// Refused counts a request the engine answered in the app's place because it could not read
// it: by its status, under the method "other" (the method may not have been read), and not in
// the latency histogram, as no app ran.
func (r *Recorder) Refused(status int, bodyBytes int64) {
	if r == nil {
		return
	}
	c := &r.area.counts
	atomic.AddUint64(&c.Requests[otherMethod][classIndex(status)], 1)
	if uint(status) < statusCodes {
		atomic.AddUint64(&c.Statuses[status], 1)
	}
	atomic.AddUint64(&c.BodyBytes, uint64(max(bodyBytes, 0)))
}

// CountLine counts a line of the worker's error log; it is errorlog.CountLines' callback.
func (r *Recorder) CountLine(kind errorlog.LineKind) {
	if r != nil && kind >= 0 && kind < errorlog.LineKinds {
		atomic.AddUint64(&r.area.counts.LogLines[kind], 1)
	}
}

func methodIndex(method []byte) int {
	for i, name := range methodNames[:otherMethod] {
		if string(method) == name {
			return i
		}
	}
	return otherMethod
}

func classIndex(status int) int {
	if status >= 100 && status < 600 {
		return status/100 - 1
	}
	return otherClass
}

func bucketIndex(took time.Duration) int {
	for i, bound := range bucketBounds {
		if took <= bound {
			return i
		}
	}
	return buckets - 1
}
