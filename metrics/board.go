package metrics

import (
	"sync"
	"sync/atomic"

	"gowsgi/balance"
	"gowsgi/errorlog"
)

// Restart is why the master replaced a worker.
type Restart int

const (
	// RestartMaxRequests: the worker served its --max-requests.
	RestartMaxRequests Restart = iota
	// RestartMemory: the worker grew past --max-worker-memory.
	RestartMemory
	// RestartTimeout: the worker was silent past --timeout and the master aborted it.
	RestartTimeout
	// RestartCrash: the worker exited on its own, by a signal or an exit code.
	RestartCrash
	// RestartReload: a file the worker watched for --reload changed.
	RestartReload
	restartKinds
)

var restartNames = [restartKinds]string{"max-requests", "memory", "timeout", "crash", "reload"}

// Board is the master's view of every worker's counters, and the counts only the master
// knows. A nil *Board counts nothing.
type Board struct {
	table *balance.Table
	// samples says whether workers keep request durations for statsd.
	samples bool
	// mu makes Fold's move of a worker's counts into gone one step for readers: totals read
	// while a worker is folded would count it twice, or not at all.
	mu   sync.Mutex
	gone Counts
	// goneSamples are durations that exited workers left in their rings, not sent yet.
	goneSamples []uint32

	masterLines [errorlog.LineKinds]atomic.Uint64
	restarts    [restartKinds]atomic.Uint64
	workers     atomic.Int64
	// backlog is the connections waiting to be accepted, -1 when not measured.
	backlog atomic.Int64
}

// NewBoard reads the areas of table; samples keeps request durations for statsd's timers.
func NewBoard(table *balance.Table, samples bool) *Board {
	if table == nil {
		return nil
	}
	b := &Board{table: table, samples: samples}
	b.backlog.Store(-1)
	return b
}

// Prepare marks the area of slot n for a worker about to start, so that it counts.
func (b *Board) Prepare(n int) {
	if b == nil {
		return
	}
	if a := areaOf(b.table.Area(n)); a != nil {
		flags := uint32(flagCounted)
		if b.samples {
			flags |= flagSamples
		}
		atomic.StoreUint32(&a.flags, flags)
	}
}

// Fold moves the counts of slot n, whose worker has exited, into the master's own, and clears
// the area for the next worker. Call it before the slot is released.
func (b *Board) Fold(n int) {
	a := b.area(n)
	if a == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gone.add(&a.counts)
	b.gone.InFlight = 0
	flags := atomic.LoadUint32(&a.flags)
	if flags&flagSamples != 0 {
		b.goneSamples = a.samples.take(b.goneSamples)
		// Pages the worker never touched stay unallocated: cleared only when used.
		a.samples = sampleRing{}
	}
	a.counts = Counts{}
	atomic.StoreUint32(&a.flags, 0)
}

func (b *Board) area(n int) *area {
	if b == nil {
		return nil
	}
	return areaOf(b.table.Area(n))
}

// Totals are every count at one moment.
type Totals struct {
	Counts
	Restarts [restartKinds]uint64
	Workers  int64
	// Backlog is -1 when not measured.
	Backlog int64
}

// Read sets t to the counts of every worker, live or gone, and the master's.
func (b *Board) Read(t *Totals) {
	b.mu.Lock()
	t.Counts = b.gone
	for n := 1; n < b.table.Claimed(); n++ {
		if a := areaOf(b.table.Area(n)); atomic.LoadUint32(&a.flags) != 0 {
			t.add(&a.counts)
		}
	}
	b.mu.Unlock()
	for kind := range t.LogLines {
		t.LogLines[kind] += b.masterLines[kind].Load()
	}
	for kind := range t.Restarts {
		t.Restarts[kind] = b.restarts[kind].Load()
	}
	t.Workers, t.Backlog = b.workers.Load(), b.backlog.Load()
}

// takeSamples appends the durations every worker has kept since the last call, in
// microseconds.
func (b *Board) takeSamples(to []uint32) []uint32 {
	b.mu.Lock()
	defer b.mu.Unlock()
	to = append(to, b.goneSamples...)
	b.goneSamples = b.goneSamples[:0]
	for n := 1; n < b.table.Claimed(); n++ {
		if a := areaOf(b.table.Area(n)); atomic.LoadUint32(&a.flags)&flagSamples != 0 {
			to = a.samples.take(to)
		}
	}
	return to
}

// CountLine counts a line of the master's error log; it is errorlog.CountLines' callback.
func (b *Board) CountLine(kind errorlog.LineKind) {
	if b != nil && kind >= 0 && kind < errorlog.LineKinds {
		b.masterLines[kind].Add(1)
	}
}

// CountRestart counts a worker replaced for reason.
func (b *Board) CountRestart(reason Restart) {
	if b != nil {
		b.restarts[reason].Add(1)
	}
}

// SetWorkers records how many workers serve or are starting.
func (b *Board) SetWorkers(n int) {
	if b != nil {
		b.workers.Store(int64(n))
	}
}

// SetBacklog records how many connections wait to be accepted.
func (b *Board) SetBacklog(n int) {
	if b != nil {
		b.backlog.Store(int64(n))
	}
}
