package master

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"syscall"

	"gowsgi/errorlog"
)

// UpgradeFDsEnv tells a master started by USR2 how many listening sockets it inherited from the
// old master, as descriptors FirstListenFD, FirstListenFD+1, …; it serves those instead of
// binding, so the sockets, and the connections waiting on them, are never closed.
const UpgradeFDsEnv = "GOWSGI_UPGRADE_FDS"

// upgradeState tracks a binary upgrade (USR2) from either side. The old master starts the new
// one as its child; both serve until the old master is stopped, and the new master is promoted
// when it notices that its parent is gone.
type upgradeState struct {
	// binary is the gowsgi file the master was started from, re-read from disk on USR2.
	binary string
	// newMaster is the master this one started and that has not exited, if any.
	newMaster *exec.Cmd
	// oldMasterPid is the master this one was started by, until that master exits; 0 when
	// this master was not started by USR2 or has been promoted.
	oldMasterPid int
}

// inheritListeners takes the sockets an old master passed on USR2, or reports ok false
// when this master was started normally. It logs each address as listenAll does.
func inheritListeners() (files []*os.File, inherited bool, ok bool) {
	count, found := os.LookupEnv(UpgradeFDsEnv)
	if !found {
		return nil, false, true
	}
	// Workers and later upgrades must not take this variable for their own.
	os.Unsetenv(UpgradeFDsEnv)
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		errorlog.Error("%s=%q: expected the number of inherited sockets", UpgradeFDsEnv, count)
		return nil, true, false
	}
	for fd := FirstListenFD; fd < FirstListenFD+n; fd++ {
		syscall.CloseOnExec(fd)
		file := os.NewFile(uintptr(fd), "listener-"+strconv.Itoa(fd))
		address, err := listenerAddress(file)
		if err != nil {
			errorlog.Error("Inherited descriptor %d is not a listening socket: %v", fd, err)
			closeAll(append(files, file))
			return nil, true, false
		}
		errorlog.Info("Listening at: %s (%d)", address, os.Getpid())
		files = append(files, file)
	}
	return files, true, true
}

// listenerAddress names the socket in file the way "Listening at:" does.
func listenerAddress(file *os.File) (string, error) {
	listener, err := net.FileListener(file)
	if err != nil {
		return "", err
	}
	defer listener.Close()
	switch address := listener.Addr().(type) {
	case *net.TCPAddr:
		return listenScheme + "://" + address.String(), nil
	case *net.UnixAddr:
		return "unix:" + address.Name, nil
	default:
		return fmt.Sprintf("%s:%s", address.Network(), address), nil
	}
}

// startNewMaster is the old master's side of USR2: it starts the gowsgi binary now on disk with
// the same command line as a new master, hands it the listening sockets, and keeps serving.
// The new master is not tied to this one's life: it must survive the TERM that ends the old one.
func (a *arbiter) startNewMaster() {
	switch {
	case a.upgrade.newMaster != nil:
		errorlog.Warning("USR2 signal ignored. Child exists.")
		return
	case a.upgrade.oldMasterPid != 0:
		errorlog.Warning("USR2 signal ignored. Parent exists.")
		return
	}
	a.preExec()
	cmd := &exec.Cmd{
		Path:       a.upgrade.binary,
		Args:       os.Args,
		Env:        append(a.env.forWorker(os.Environ()), UpgradeFDsEnv+"="+strconv.Itoa(len(a.listeners))),
		ExtraFiles: a.listeners,
		Stdin:      os.Stdin,
		Stdout:     os.Stdout,
		Stderr:     os.Stderr,
	}
	if err := cmd.Start(); err != nil {
		errorlog.Error("Can't start a new master from %s: %v", a.upgrade.binary, err)
		return
	}
	a.upgrade.newMaster = cmd
	pid := cmd.Process.Pid
	errorlog.Info("Started new master with pid: %d (binary upgrade from %s)", pid, a.upgrade.binary)
	go func() {
		_ = cmd.Wait()
		a.exits <- workerExit{pid: pid, state: cmd.ProcessState}
	}()
}

// reapNewMaster logs the end of a new master this one started; a later USR2 may start another.
func (a *arbiter) reapNewMaster(exit workerExit) {
	if a.upgrade.newMaster == nil || a.upgrade.newMaster.Process.Pid != exit.pid {
		return
	}
	a.upgrade.newMaster = nil
	errorlog.Warning("New master (pid:%d) exited: %s", exit.pid, exit.state)
}

// checkPromotion is the new master's side: once the old master has exited, this one is the
// master, and may itself be upgraded.
func (a *arbiter) checkPromotion() {
	if a.upgrade.oldMasterPid == 0 || os.Getppid() == a.upgrade.oldMasterPid {
		return
	}
	a.upgrade.oldMasterPid = 0
	errorlog.Info("Master has been promoted.")
	a.host.promotePidfile()
	if a.controlPending {
		a.startControl()
	}
}
