package master

import (
	"os"
	"os/exec"
	"slices"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/balance"
	"gowsgi/errorlog"
)

// The master tells a re-executed gowsgi that it is a worker through these environment variables:
// its number, and how many listening sockets it inherited, starting at descriptor FirstListenFD.
const (
	WorkerIDEnv   = "GOWSGI_WORKER_ID"
	ListenFDsEnv  = "GOWSGI_LISTEN_FDS"
	FirstListenFD = 3
)

// Exit codes with which a worker tells the master that starting it again would not help, so the
// master stops instead of respawning in a loop (gunicorn's numbers).
const (
	ExitWorkerBootError = 3
	ExitAppLoadError    = 4
)

// ExitWorkerReload is the exit code of a worker that stopped because a file it watched for
// --reload changed; it is replaced at once, as a normal event.
const ExitWorkerReload = 5

// workerProcess is one worker as the master tracks it.
type workerProcess struct {
	id      int
	proc    *os.Process
	started time.Time
	// retiring is set once the master has asked the worker to stop: it no longer counts towards
	// the wanted number of workers and is not replaced when it exits. stopBy is when a worker
	// asked to stop gracefully gets killed; killed says SIGKILL was sent.
	retiring bool
	stopBy   time.Time
	killed   bool
	// abortedAt is when SIGABRT was sent after a timeout; the worker is killed if it outlives
	// abortGrace.
	abortedAt time.Time
	// generation is the arbiter's generation when the worker started; HUP starts a new one.
	// replaceAsked is set when the worker asked to be replaced (--max-requests,
	// --max-worker-memory). Either makes the worker outdated: it serves until a replacement is
	// ready, then it is stopped gracefully.
	generation   int
	replaceAsked bool
	// ready is set by the worker's "ready" report. heardAt is its last report (its start until
	// the first), activity what that report said it was doing, for the timeout message, and
	// busySince when the request it reported started (zero when idle).
	ready     bool
	heardAt   time.Time
	activity  string
	busySince time.Time
	// balanceSlot is the worker's entry in the balance table, 0 for none; freed when it exits.
	balanceSlot int
}

// workerExit is posted to the arbiter loop when a worker process has ended and been waited for.
type workerExit struct {
	pid   int
	state *os.ProcessState
}

// selfCommand re-executes this very binary (even if the file was replaced since) with the
// master's arguments, so the worker parses the same command line into the same Config.
func selfCommand() *exec.Cmd {
	return &exec.Cmd{Path: "/proc/self/exe", Args: os.Args}
}

// spawnWorker starts one worker: with --preload, the fork server forks it (fork); otherwise
// the binary is started again in worker mode (execWorker). It must run on the arbiter's locked
// thread: the kernel kills the worker when the thread that started it ends, which is what makes
// workers die with the master.
func (a *arbiter) spawnWorker() error {
	a.lastID++
	a.preFork(a.lastID)
	heartbeat, heartbeatEnd, err := os.Pipe()
	if err != nil {
		return err
	}
	// The master keeps only the read end, so that the pipe reaches end of file when the worker
	// exits.
	defer heartbeatEnd.Close()
	slot := a.balance.Claim()
	a.board.Prepare(slot)
	var proc *os.Process
	var wait func() *os.ProcessState
	if a.cfg.Preload {
		z := a.zygote
		if proc, err = z.fork(workerEnv(a.lastID, z.listeners, slot), heartbeatEnd); err == nil {
			wait = func() *os.ProcessState {
				state, _ := proc.Wait()
				return state
			}
		}
	} else {
		proc, wait, err = a.execWorker(workerEnv(a.lastID, len(a.listeners), slot), heartbeatEnd, slot)
	}
	if err != nil {
		heartbeat.Close()
		a.balance.Release(slot)
		return err
	}
	pid := proc.Pid
	now := time.Now()
	a.workers[pid] = &workerProcess{id: a.lastID, proc: proc, started: now, generation: a.generation,
		heardAt: now, activity: "booting", balanceSlot: slot}
	errorlog.Info("Booting worker with pid: %d", pid)
	a.stats.spawned++
	a.shareWorkers()
	go a.readHeartbeat(pid, heartbeat)
	go func() { a.exits <- workerExit{pid: pid, state: wait()} }()
	return nil
}

// workerEnv are the variables that make a process a worker, in a process that holds listeners
// listening sockets as descriptors FirstListenFD, …: its heartbeat pipe follows them, and the
// balance table, when it has a slot in it, follows the pipe.
func workerEnv(id, listeners, slot int) []string {
	env := []string{WorkerIDEnv + "=" + strconv.Itoa(id),
		HeartbeatFDEnv + "=" + strconv.Itoa(FirstListenFD+listeners)}
	if slot != 0 {
		env = append(env, balance.EnvValue(FirstListenFD+listeners+1, slot))
	}
	return env
}

// execWorker starts the binary in worker mode with env, the listeners as descriptors 3, 4, …,
// heartbeatEnd and the balance table after them; wait waits for its end.
func (a *arbiter) execWorker(env []string, heartbeatEnd *os.File, slot int) (proc *os.Process, wait func() *os.ProcessState, err error) {
	cmd := a.newCommand()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env, ListenFDsEnv+"="+strconv.Itoa(len(a.listeners)))
	cmd.Env = append(append(a.env.forWorker(cmd.Env), env...), a.cfg.WorkerEnv()...)
	cmd.ExtraFiles = append(slices.Clip(a.listeners), heartbeatEnd)
	if slot != 0 {
		cmd.ExtraFiles = append(cmd.ExtraFiles, a.balance.File())
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	a.host.prepareWorker(cmd)
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return cmd.Process, func() *os.ProcessState {
		// The error only repeats the exit status, which the ProcessState carries.
		_ = cmd.Wait()
		return cmd.ProcessState
	}, nil
}

// signalWorker sends sig to one worker; a worker that has just exited is no error.
func (a *arbiter) signalWorker(pid int, sig syscall.Signal) {
	if w, ok := a.workers[pid]; ok {
		_ = w.proc.Signal(sig)
	}
}

func (a *arbiter) signalAll(sig syscall.Signal) {
	for pid := range a.workers {
		a.signalWorker(pid, sig)
	}
}

// signalName is the conventional name of sig, "SIGKILL", for log lines.
func signalName(sig syscall.Signal) string {
	if name := unix.SignalName(sig); name != "" {
		return name
	}
	return sig.String()
}

// shareable returns the listening sockets as files that can be handed to children without
// changing them. A socket's blocking mode belongs to the socket, shared by every process that
// holds it, and os/exec puts a net-made file (listener.File()) into blocking mode when it passes
// it on: a worker's accept would then block in the kernel, and the worker could not close its
// listener to stop. A file made by os.NewFile from a non-blocking descriptor stays non-blocking.
func shareable(files []*os.File) ([]*os.File, error) {
	out := make([]*os.File, 0, len(files))
	for _, f := range files {
		raw, err := f.SyscallConn()
		if err != nil {
			return nil, err
		}
		dup := -1
		var dupErr error
		if err := raw.Control(func(fd uintptr) {
			dup, dupErr = unix.FcntlInt(fd, unix.F_DUPFD_CLOEXEC, 0)
		}); err != nil {
			return nil, err
		}
		if dupErr != nil {
			return nil, dupErr
		}
		if err := unix.SetNonblock(dup, true); err != nil {
			unix.Close(dup)
			return nil, err
		}
		out = append(out, os.NewFile(uintptr(dup), f.Name()))
		f.Close()
	}
	return out, nil
}
