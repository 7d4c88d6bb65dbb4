// Package balance keeps keep-alive connections spread evenly over the workers. A connection
// stays with the worker that accepted it, and in a burst of new connections whichever worker's
// accept loop runs first takes most of them: measured with 64 wrk connections and 2 workers,
// 44/20 and 42/22 in some runs even with a fixed pause after each accept, so that one worker's
// clients waited twice as long as the other's while the other's CPU had time to spare.
//
// The master shares a small table with its workers (a memfd every worker maps), in which each
// worker publishes how many connections it holds. A worker that holds more than the least
// loaded of the others waits briefly before accepting again, so the others take the next ones;
// a worker level with the others accepts without waiting.
//
// Each worker also publishes its Python work: the requests running in or waiting for its
// Python. A worker whose Python has no thread free lets a worker with less work take the next
// connection, held workers included, so that a burst of slow requests is shared by the Pythons
// that will serve it (see AheadInWork).
//
// Past the balance words, each slot has an area of its own (Area), where its worker keeps the
// counters that package metrics defines: the master reads them from the same mapping, so
// recording a request costs the worker no system call.
package balance

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Slots is how many workers the table holds. Workers started beyond it (more than that many
// alive at once) accept without consulting it.
const Slots = 1023

// The table is int32 words: word 0 is one past the highest slot ever claimed, so that readers
// scan only that far; word n (1…Slots) is free (0), claimed by a worker that does not accept
// (reserved: booting or stopping), or 1 + the connections its accepting worker holds. After
// them, each slot has a cache line of its own for its work word, which its worker writes at
// every request: 0 when the worker is not compared (free, booting or stopping), else 1 + its
// Python work.
const (
	workStride = 64 / 4
	workBase   = Slots + 1
	tableWords = workBase + (Slots+1)*workStride
	// AreaBytes is the room of each slot's area; areas start on a page boundary after the
	// words, so that a worker that never writes its area costs no memory for it.
	AreaBytes  = 64 << 10
	areasBase  = (tableWords*4 + 4095) &^ 4095
	tableBytes = areasBase + (Slots+1)*AreaBytes
	free       = 0
	reserved   = -1
	uncounted  = 0
)

// Table is the shared table, as the master and each worker map it.
type Table struct {
	file  *os.File
	words []int32
	mem   []byte
}

// Create makes a new table, for the master.
func Create() (*Table, error) {
	fd, err := unix.MemfdCreate("gowsgi-balance", unix.MFD_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "gowsgi-balance")
	if err := f.Truncate(tableBytes); err != nil {
		f.Close()
		return nil, err
	}
	t, err := mapTable(f)
	if err != nil {
		f.Close()
	}
	return t, err
}

// openTable maps the table a worker inherited as f.
func openTable(f *os.File) (*Table, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if st.Size() != tableBytes {
		return nil, fmt.Errorf("balance table is %d bytes, want %d", st.Size(), tableBytes)
	}
	return mapTable(f)
}

func mapTable(f *os.File) (*Table, error) {
	mem, err := unix.Mmap(int(f.Fd()), 0, tableBytes, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap: %w", err)
	}
	return &Table{file: f, words: unsafe.Slice((*int32)(unsafe.Pointer(&mem[0])), tableWords), mem: mem}, nil
}

// Area is slot n's area, nil for no slot; its worker writes it, the master reads it, and it
// outlives the worker until the master has read it for the last time.
func (t *Table) Area(n int) []byte {
	if t == nil || n < 1 || n > Slots {
		return nil
	}
	return t.mem[areasBase+n*AreaBytes : areasBase+(n+1)*AreaBytes : areasBase+(n+1)*AreaBytes]
}

// Claimed is one past the highest slot ever claimed: areas from there on were never written.
func (t *Table) Claimed() int {
	if t == nil {
		return 0
	}
	return min(int(atomic.LoadInt32(&t.words[0])), Slots+1)
}

// File is the descriptor to hand to workers; nil in a worker.
func (t *Table) File() *os.File { return t.file }

// Claim gives a new worker the lowest free slot, or 0 when none is free. The master calls it
// before starting the worker, and Release once the worker has exited (a worker that crashed
// cannot clear its own slot).
func (t *Table) Claim() int {
	if t == nil {
		return 0
	}
	for n := 1; n <= Slots; n++ {
		if atomic.CompareAndSwapInt32(&t.words[n], free, reserved) {
			for high := atomic.LoadInt32(&t.words[0]); int32(n) >= high; high = atomic.LoadInt32(&t.words[0]) {
				if atomic.CompareAndSwapInt32(&t.words[0], high, int32(n+1)) {
					break
				}
			}
			return n
		}
	}
	return 0
}

// Release frees slot n.
func (t *Table) Release(n int) {
	if t != nil && n >= 1 && n <= Slots {
		atomic.StoreInt32(&t.words[workBase+n*workStride], uncounted)
		atomic.StoreInt32(&t.words[n], free)
	}
}

// Env hands a worker its table and slot, as "DESCRIPTOR:SLOT".
const Env = "GOWSGI_BALANCE"

// EnvValue is Env's value for a worker that inherits the table as descriptor fd.
func EnvValue(fd, slot int) string { return Env + "=" + strconv.Itoa(fd) + ":" + strconv.Itoa(slot) }

// Inherit maps the table the master passed in Env and returns the worker's slot: nil, with no
// error, when there is none (a worker started by hand, or one past Slots). It removes the
// variable, so that processes the app starts do not see it.
func Inherit() (*Slot, error) {
	text, ok := os.LookupEnv(Env)
	os.Unsetenv(Env)
	if !ok {
		return nil, nil
	}
	fdText, slotText, _ := strings.Cut(text, ":")
	fd, err1 := strconv.Atoi(fdText)
	n, err2 := strconv.Atoi(slotText)
	if err1 != nil || err2 != nil || fd < 3 {
		return nil, fmt.Errorf("%s=%q: want DESCRIPTOR:SLOT", Env, text)
	}
	f := os.NewFile(uintptr(fd), "gowsgi-balance")
	t, err := openTable(f)
	f.Close() // the mapping stays; the descriptor must not reach the app's children
	if err != nil {
		return nil, err
	}
	t.file = nil // a worker has no table to hand on
	return t.Slot(n), nil
}

// Slot is one worker's entry. A nil *Slot (no table, or no free slot) does nothing.
type Slot struct {
	t *Table
	n int
	// left is set for good once the worker stops accepting; held while it holds its accept
	// loops back for a while (a sync worker busy with a long request).
	left, held atomic.Bool
}

// Slot is the worker's view of slot n.
func (t *Table) Slot(n int) *Slot {
	if t == nil || n < 1 || n > Slots {
		return nil
	}
	return &Slot{t: t, n: n}
}

// Area is the worker's area of the table.
func (s *Slot) Area() []byte {
	if s == nil {
		return nil
	}
	return s.t.Area(s.n)
}

// Publish records how many connections the worker holds; the first call puts an accepting
// worker into the comparison.
func (s *Slot) Publish(conns int) {
	if s == nil || conns < 0 || s.outside() {
		return
	}
	atomic.StoreInt32(&s.t.words[s.n], int32(conns)+1)
	// A Hold or Leave that raced with the store above may have been overwritten by it.
	if s.outside() {
		atomic.StoreInt32(&s.t.words[s.n], reserved)
	}
}

func (s *Slot) outside() bool { return s.left.Load() || s.held.Load() }

// Leave takes the worker out of the comparison for good once it no longer accepts (a
// graceful stop), so that the others do not wait for it.
func (s *Slot) Leave() {
	if s != nil {
		s.left.Store(true)
		atomic.StoreInt32(&s.t.words[s.n], reserved)
		atomic.StoreInt32(s.work(), uncounted)
	}
}

func (s *Slot) work() *int32 { return &s.t.words[workBase+s.n*workStride] }

// PublishWork records the requests running in or waiting for the worker's Python. It goes on
// while the worker is held: a held worker's Python is busy, and work queued there counts.
func (s *Slot) PublishWork(requests int) {
	if s == nil || requests < 0 || s.left.Load() {
		return
	}
	atomic.StoreInt32(s.work(), int32(requests)+1)
	// A Leave that raced with the store above may have been overwritten by it.
	if s.left.Load() {
		atomic.StoreInt32(s.work(), uncounted)
	}
}

// AheadInWork reports whether another worker in the comparison, held or not, has less Python
// work than this one.
func (s *Slot) AheadInWork() bool {
	if s == nil {
		return false
	}
	mine := atomic.LoadInt32(s.work())
	if mine == uncounted {
		return false
	}
	high := s.t.Claimed()
	for n := 1; n < high; n++ {
		if n == s.n {
			continue
		}
		if w := atomic.LoadInt32(&s.t.words[workBase+n*workStride]); w != uncounted && w < mine {
			return true
		}
	}
	return false
}

// Hold takes the worker out of the comparison while it does not accept; Resume, then Publish,
// puts it back.
func (s *Slot) Hold() {
	if s != nil {
		s.held.Store(true)
		atomic.StoreInt32(&s.t.words[s.n], reserved)
	}
}

func (s *Slot) Resume() {
	if s != nil {
		s.held.Store(false)
	}
}

// Ahead reports whether the worker holds more than margin connections beyond the least loaded
// other worker in the table.
func (s *Slot) Ahead(margin int) bool {
	if s == nil {
		return false
	}
	mine := atomic.LoadInt32(&s.t.words[s.n])
	if mine <= free {
		return false
	}
	high := s.t.Claimed()
	for n := 1; n < high; n++ {
		if n == s.n {
			continue
		}
		if w := atomic.LoadInt32(&s.t.words[n]); w > free && mine > w+int32(margin) {
			return true
		}
	}
	return false
}
