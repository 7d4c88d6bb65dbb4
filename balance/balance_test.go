package balance

import (
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"
)

func newTable(t *testing.T) *Table {
	t.Helper()
	table, err := Create()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { table.File().Close() })
	return table
}

func TestClaimTakesTheLowestFreeSlotAndReleaseFreesIt(t *testing.T) {
	table := newTable(t)
	if a, b, c := table.Claim(), table.Claim(), table.Claim(); a != 1 || b != 2 || c != 3 {
		t.Fatalf("claims %d %d %d, want 1 2 3", a, b, c)
	}
	table.Release(2)
	if n := table.Claim(); n != 2 {
		t.Fatalf("claim after release = %d, want 2", n)
	}
	for n := 4; n <= Slots; n++ {
		table.Claim()
	}
	if n := table.Claim(); n != 0 {
		t.Fatalf("claim of a full table = %d, want 0", n)
	}
}

func TestAheadComparesWithTheLeastLoadedAcceptingWorker(t *testing.T) {
	table := newTable(t)
	a, b, c := table.Slot(table.Claim()), table.Slot(table.Claim()), table.Slot(table.Claim())
	if a.Ahead(1) {
		t.Fatal("a worker alone in the comparison is ahead")
	}
	a.Publish(5)
	b.Publish(3)
	// c is still booting: claimed, not accepting, so not compared with.
	if !a.Ahead(1) || a.Ahead(2) {
		t.Fatalf("5 against 3: Ahead(1) = %v, Ahead(2) = %v, want true, false", a.Ahead(1), a.Ahead(2))
	}
	if b.Ahead(0) {
		t.Fatal("the least loaded worker is ahead")
	}
	c.Publish(0)
	if !b.Ahead(1) {
		t.Fatal("3 against a new worker's 0 is not ahead")
	}
	c.Leave()
	c.Publish(0) // a stopping worker's connections closing must not bring it back
	if b.Ahead(1) {
		t.Fatal("a worker that left is still compared with")
	}
}

func TestAHeldWorkerIsNotComparedWithUntilItResumes(t *testing.T) {
	table := newTable(t)
	a, b := table.Slot(table.Claim()), table.Slot(table.Claim())
	a.Publish(4)
	b.Publish(0)
	b.Hold()
	b.Publish(0) // a connection closing while held
	if a.Ahead(1) {
		t.Fatal("a worker that does not accept is compared with")
	}
	b.Resume()
	b.Publish(0)
	if !a.Ahead(1) {
		t.Fatal("a worker that accepts again is not compared with")
	}
}

func TestAheadInWorkComparesPythonWorkWithHeldWorkersToo(t *testing.T) {
	table := newTable(t)
	a, b, c := table.Slot(table.Claim()), table.Slot(table.Claim()), table.Slot(table.Claim())
	a.PublishWork(2)
	// b and c have published no work yet: not compared with.
	if a.AheadInWork() {
		t.Fatal("a worker alone in the comparison is ahead in work")
	}
	b.PublishWork(2)
	if a.AheadInWork() || b.AheadInWork() {
		t.Fatal("workers level in work are ahead")
	}
	b.Hold() // busy with a slow request: its queue still counts
	b.PublishWork(1)
	if !a.AheadInWork() || b.AheadInWork() {
		t.Fatalf("2 against a held worker's 1: a ahead %v, b ahead %v; want true, false", a.AheadInWork(), b.AheadInWork())
	}
	c.PublishWork(0)
	c.Leave()
	c.PublishWork(0)
	b.PublishWork(2)
	if a.AheadInWork() {
		t.Fatal("a worker that left is still compared with")
	}
	table.Release(2)
	if a.AheadInWork() || a.Ahead(0) {
		t.Fatal("a released slot is still compared with")
	}
}

func TestANilSlotDoesNothing(t *testing.T) {
	var table *Table
	s := table.Slot(table.Claim())
	s.Publish(3)
	s.PublishWork(3)
	s.Leave()
	if s.Ahead(0) || s.AheadInWork() {
		t.Fatal("a nil slot is ahead")
	}
	table.Release(1)
}

func TestInheritMapsTheMastersTable(t *testing.T) {
	table := newTable(t)
	n := table.Claim()
	fd, err := unix.Dup(int(table.File().Fd()))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(Env, strconv.Itoa(fd)+":"+strconv.Itoa(n))
	slot, err := Inherit()
	if err != nil || slot == nil {
		t.Fatalf("Inherit() = %v, %v", slot, err)
	}
	if _, set := os.LookupEnv(Env); set {
		t.Fatalf("%s is left for the app to see", Env)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); err != unix.EBADF {
		t.Fatalf("the inherited descriptor is still open (%v)", err)
	}
	slot.Publish(7)
	other := table.Slot(table.Claim())
	other.Publish(2)
	if !table.Slot(n).Ahead(1) {
		t.Fatal("a count published through the inherited mapping is not seen in the master's")
	}
}

func TestInheritWithoutATable(t *testing.T) {
	os.Unsetenv(Env)
	if slot, err := Inherit(); slot != nil || err != nil {
		t.Fatalf("Inherit() = %v, %v, want nil, nil", slot, err)
	}
	t.Setenv(Env, "five")
	if slot, err := Inherit(); slot != nil || err == nil {
		t.Fatalf("Inherit() of %q = %v, %v, want an error", "five", slot, err)
	}
}
