package metrics

import (
	"testing"
	"time"

	"gowsgi/balance"
	"gowsgi/errorlog"
)

func newBoard(t *testing.T, samples bool) (*Board, *balance.Table) {
	t.Helper()
	table, err := balance.Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { table.File().Close() })
	return NewBoard(table, samples), table
}

// startWorker claims a slot as the master does for a new worker and returns the worker's
// recorder and slot number.
func startWorker(t *testing.T, b *Board, table *balance.Table) (*Recorder, int) {
	t.Helper()
	n := table.Claim()
	b.Prepare(n)
	r := NewRecorder(table.Slot(n))
	if r == nil {
		t.Fatal("no recorder for a prepared slot")
	}
	return r, n
}

func read(b *Board) *Totals {
	var t Totals
	b.Read(&t)
	return &t
}

func TestAWorkerCountsNothingInAnAreaTheMasterDoesNotRead(t *testing.T) {
	_, table := newBoard(t, false)
	if r := NewRecorder(table.Slot(table.Claim())); r != nil {
		t.Fatal("a recorder for an area no board prepared")
	}
	var r *Recorder
	r.Begin()
	r.End([]byte("GET"), 200, time.Millisecond, 10)
	r.Accepted()
	r.CountLine(errorlog.ErrorLine)
}

func TestTotalsAddUpWorkersAndSurviveTheirExit(t *testing.T) {
	b, table := newBoard(t, false)
	one, slotOne := startWorker(t, b, table)
	two, _ := startWorker(t, b, table)
	one.Accepted()
	one.Begin()
	one.End([]byte("GET"), 200, 3*time.Millisecond, 100)
	one.Begin() // still running when the worker dies
	two.Begin()
	two.End([]byte("BREW"), 418, 2*time.Second, 5)
	one.CountLine(errorlog.ExceptionLine)
	b.CountLine(errorlog.WarningLine)

	got := read(b)
	if got.Requests[0][1] != 1 || got.Requests[otherMethod][3] != 1 || got.TotalRequests() != 2 {
		t.Errorf("requests %v", got.Requests)
	}
	if got.Statuses[200] != 1 || got.Statuses[418] != 1 {
		t.Errorf("statuses 200: %d, 418: %d", got.Statuses[200], got.Statuses[418])
	}
	if got.Latency[2] != 1 || got.Latency[10] != 1 || got.LatencySum != uint64(2003*time.Millisecond) {
		t.Errorf("latency %v, sum %d", got.Latency, got.LatencySum)
	}
	if got.Accepted != 1 || got.BodyBytes != 105 || got.InFlight != 1 {
		t.Errorf("accepted %d, body bytes %d, in flight %d", got.Accepted, got.BodyBytes, got.InFlight)
	}
	if got.LogLines[errorlog.ExceptionLine] != 1 || got.LogLines[errorlog.WarningLine] != 1 {
		t.Errorf("log lines %v", got.LogLines)
	}

	b.Fold(slotOne)
	table.Release(slotOne)
	after := read(b)
	if after.TotalRequests() != 2 || after.Accepted != 1 || after.BodyBytes != 105 || after.LogLines != got.LogLines {
		t.Errorf("after the worker's exit: %d requests, %d accepted, %d bytes, lines %v",
			after.TotalRequests(), after.Accepted, after.BodyBytes, after.LogLines)
	}
	if after.InFlight != 0 {
		t.Errorf("the dead worker's request is still in flight: %d", after.InFlight)
	}

	// Its replacement gets the slot back, cleared, and counts on from the totals.
	three, slotThree := startWorker(t, b, table)
	if slotThree != slotOne {
		t.Fatalf("replacement got slot %d, want %d", slotThree, slotOne)
	}
	three.Begin()
	three.End([]byte("GET"), 200, time.Millisecond, 1)
	if last := read(b); last.TotalRequests() != 3 || last.Requests[0][1] != 2 || last.InFlight != 0 {
		t.Errorf("after the replacement's request: %d requests, GET 2xx %d, in flight %d",
			last.TotalRequests(), last.Requests[0][1], last.InFlight)
	}
}

func TestRestartsAndGauges(t *testing.T) {
	b, _ := newBoard(t, false)
	if got := read(b); got.Backlog != -1 {
		t.Errorf("backlog %d before it was measured", got.Backlog)
	}
	b.CountRestart(RestartTimeout)
	b.CountRestart(RestartTimeout)
	b.CountRestart(RestartMemory)
	b.SetWorkers(3)
	b.SetBacklog(7)
	got := read(b)
	if got.Restarts[RestartTimeout] != 2 || got.Restarts[RestartMemory] != 1 || got.Restarts[RestartCrash] != 0 {
		t.Errorf("restarts %v", got.Restarts)
	}
	if got.Workers != 3 || got.Backlog != 7 {
		t.Errorf("workers %d, backlog %d", got.Workers, got.Backlog)
	}
}

func TestIndexes(t *testing.T) {
	for method, want := range map[string]int{"GET": 0, "OPTIONS": 6, "get": otherMethod, "": otherMethod, "PROPFIND": otherMethod} {
		if got := methodIndex([]byte(method)); got != want {
			t.Errorf("method %q: %d, want %d", method, got, want)
		}
	}
	for status, want := range map[int]int{100: 0, 204: 1, 399: 2, 404: 3, 599: 4, 600: otherClass, 99: otherClass} {
		if got := classIndex(status); got != want {
			t.Errorf("status %d: %d, want %d", status, got, want)
		}
	}
	// A bucket holds the durations up to and including its bound, as Prometheus' le does.
	for took, want := range map[time.Duration]int{0: 0, time.Millisecond: 0, time.Millisecond + 1: 1,
		10 * time.Second: buckets - 2, time.Minute: buckets - 1} {
		if got := bucketIndex(took); got != want {
			t.Errorf("%s: bucket %d, want %d", took, got, want)
		}
	}
}

func TestDurationsReachTheMasterOnceEach(t *testing.T) {
	b, table := newBoard(t, true)
	r, n := startWorker(t, b, table)
	for _, took := range []time.Duration{1500 * time.Microsecond, 0, 7 * time.Millisecond} {
		r.Begin()
		r.End([]byte("GET"), 200, took, 0)
	}
	if got := b.takeSamples(nil); len(got) != 3 || got[0] != 1500 || got[1] != 0 || got[2] != 7000 {
		t.Fatalf("samples %v, want [1500 0 7000]", got)
	}
	if got := b.takeSamples(nil); len(got) != 0 {
		t.Fatalf("samples taken twice: %v", got)
	}
	r.Begin()
	r.End([]byte("GET"), 200, time.Millisecond, 0)
	b.Fold(n)
	if got := b.takeSamples(nil); len(got) != 1 || got[0] != 1000 {
		t.Fatalf("the samples a worker left at its exit: %v", got)
	}
}

func TestTheRingDropsWhatDoesNotFitAndWaitsForUnwrittenEntries(t *testing.T) {
	var ring sampleRing
	for i := range ringSize + 10 {
		ring.put(time.Duration(i) * time.Microsecond)
	}
	got := ring.take(nil)
	if len(got) != ringSize || got[ringSize-1] != ringSize-1 {
		t.Fatalf("%d samples, last %d; want %d, the first ones", len(got), got[len(got)-1], ringSize)
	}
	// An entry claimed by a request that has not written it yet stops the master there.
	ring.head++
	ring.put(5 * time.Microsecond)
	if got := ring.take(nil); len(got) != 0 {
		t.Fatalf("took %v past an unwritten entry", got)
	}
	ring.entries[0] = 4 + 1 // index ringSize, where the ring wrapped
	if got := ring.take(nil); len(got) != 2 || got[0] != 4 || got[1] != 5 {
		t.Fatalf("took %v, want [4 5]", got)
	}
}
