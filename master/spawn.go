package master

import (
	"os"
	"os/exec"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

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

// workerProcess is one worker as the master tracks it.
type workerProcess struct {
	id      int
	cmd     *exec.Cmd
	started time.Time
	// retiring is set once the master has asked the worker to stop: it no longer counts towards
	// the wanted number of workers and is not replaced when it exits.
	retiring bool
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

// spawnWorker starts one worker with the listeners as descriptors 3, 4, … and the environment
// that puts it in worker mode. It must run on the arbiter's locked thread: the kernel kills the
// worker when the thread that started it ends, which is what makes workers die with the master.
func (a *arbiter) spawnWorker() error {
	a.lastID++
	cmd := a.newCommand()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	cmd.Env = append(cmd.Env,
		WorkerIDEnv+"="+strconv.Itoa(a.lastID),
		ListenFDsEnv+"="+strconv.Itoa(len(a.listeners)))
	cmd.ExtraFiles = a.listeners
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return err
	}
	pid := cmd.Process.Pid
	a.workers[pid] = &workerProcess{id: a.lastID, cmd: cmd, started: time.Now()}
	errorlog.Info("Booting worker with pid: %d", pid)
	go func() {
		// The error only repeats the exit status, which the ProcessState carries.
		_ = cmd.Wait()
		a.exits <- workerExit{pid: pid, state: cmd.ProcessState}
	}()
	return nil
}

// signalWorker sends sig to one worker; a worker that has just exited is no error.
func (a *arbiter) signalWorker(pid int, sig syscall.Signal) {
	if w, ok := a.workers[pid]; ok {
		_ = w.cmd.Process.Signal(sig)
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
