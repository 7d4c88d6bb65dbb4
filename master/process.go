package master

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"strings"
	"syscall"

	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/proctitle"
)

// systemd's socket activation: LISTEN_PID names the process the sockets are for, and
// LISTEN_FDS how many there are, from descriptor 3 on.
const (
	listenPIDEnv     = "LISTEN_PID"
	listenFDsEnv     = "LISTEN_FDS"
	listenNamesEnv   = "LISTEN_FDNAMES"
	firstActivatedFD = 3
)

// host is what the master sets up around its workers: the files it creates (unix sockets, the
// pid file), which it removes when it exits, and the user and title workers get.
type host struct {
	// pidfile is the pid file this master wrote; "" for none.
	pidfile string
	// socketFiles are the unix socket files of the binds, removed when the master exits.
	socketFiles []string
	// credential is the workers' user and groups; nil keeps the master's.
	credential  *syscall.Credential
	workerTitle string
	// activated says the sockets are the ones systemd passed, not the binds'.
	activated bool
}

// setUpHost prepares the master's process before workers start: it resolves the workers' user,
// checks the pid file, opens the listeners (unless upgraded: a master started by a binary upgrade
// serves the sockets it inherited) and writes the pid file, whose name then ends in ".2" as
// gunicorn's does. It logs why it fails.
func setUpHost(cfg *config.Config, upgraded bool, inherited []*os.File) (*host, []*os.File, bool) {
	credential, err := workerCredential(cfg)
	if err != nil {
		errorlog.Error("%v", err)
		return nil, nil, false
	}
	h := &host{credential: credential, workerTitle: proctitle.Title("worker", cfg.ProcessName())}
	pidfile := cfg.Pidfile
	if pidfile != "" && upgraded {
		pidfile += ".2"
	}
	if pidfile != "" {
		if err := checkPidfile(pidfile); err != nil {
			errorlog.Error("%v", err)
			return nil, nil, false
		}
	}
	listeners := inherited
	if upgraded {
		h.socketFiles = socketFilesOf(cfg.Binds)
	} else {
		var ok bool
		if listeners, ok = h.listen(cfg); !ok {
			return nil, nil, false
		}
	}
	if pidfile != "" {
		if err := writePidfile(pidfile); err != nil {
			errorlog.Error("Can't write pid file %s: %v", pidfile, err)
			closeAll(listeners)
			h.tearDown(!upgraded)
			return nil, nil, false
		}
		h.pidfile = pidfile
	}
	return h, listeners, true
}

// listen opens the sockets systemd passed when it activated this master, or else every bind.
func (h *host) listen(cfg *config.Config) ([]*os.File, bool) {
	count, err := socketActivation()
	if err != nil {
		errorlog.Error("%v", err)
		return nil, false
	}
	if count > 0 {
		h.activated = true
		return adoptListeners(firstActivatedFD, count)
	}
	files, ok := listenAll(cfg.Binds, listenOptions{
		backlog:   cfg.Backlog,
		reusePort: cfg.ReusePort,
		umask:     cfg.Umask,
		owner:     h.credential,
	})
	if ok {
		h.socketFiles = socketFilesOf(cfg.Binds)
	}
	return files, ok
}

// tearDown removes the pid file and, when removeSockets says no other master still serves on
// them (as during a binary upgrade), the unix socket files.
func (h *host) tearDown(removeSockets bool) {
	if h == nil {
		return
	}
	if removeSockets {
		removeSocketFiles(h.socketFiles)
	}
	if h.pidfile != "" {
		removePidfile(h.pidfile)
	}
}

// promotePidfile gives the pid file of a master started by a binary upgrade its usual name once
// the old master has exited.
func (h *host) promotePidfile() {
	if h == nil || !strings.HasSuffix(h.pidfile, ".2") {
		return
	}
	name := strings.TrimSuffix(h.pidfile, ".2")
	if err := os.Rename(h.pidfile, name); err != nil {
		errorlog.Warning("Can't rename pid file %s to %s: %v", h.pidfile, name, err)
		return
	}
	h.pidfile = name
}

// prepareWorker gives a worker command its user and its title as argv[0], which also makes room
// for the worker to show the title alone.
func (h *host) prepareWorker(cmd *exec.Cmd) {
	if h == nil {
		return
	}
	cmd.Args = append([]string{h.workerTitle}, cmd.Args[1:]...)
	if h.credential != nil {
		if cmd.SysProcAttr == nil {
			cmd.SysProcAttr = &syscall.SysProcAttr{}
		}
		cmd.SysProcAttr.Credential = h.credential
	}
}

// socketActivation returns how many sockets systemd passed to this process, and removes the
// variables so that workers and the app do not take them for their own. Variables naming
// another process are left alone, as systemd's protocol asks.
func socketActivation() (int, error) {
	pid, fds := os.Getenv(listenPIDEnv), os.Getenv(listenFDsEnv)
	if pid == "" || fds == "" || pid != strconv.Itoa(os.Getpid()) {
		return 0, nil
	}
	for _, name := range []string{listenPIDEnv, listenFDsEnv, listenNamesEnv} {
		os.Unsetenv(name)
	}
	count, err := strconv.Atoi(fds)
	if err != nil || count < 1 {
		return 0, fmt.Errorf("%s=%q: expected the number of sockets systemd passed", listenFDsEnv, fds)
	}
	return count, nil
}

// workerCredential resolves -u, -g and --initgroups to the credential workers start with. Only
// root can switch users; anyone else may name their own user and group.
func workerCredential(cfg *config.Config) (*syscall.Credential, error) {
	if cfg.User == "" && cfg.Group == "" {
		return nil, nil
	}
	uid, gid, name := os.Geteuid(), os.Getegid(), ""
	var err error
	if cfg.User != "" {
		if uid, name, err = config.LookupUser(cfg.User); err != nil {
			return nil, err
		}
	}
	if cfg.Group != "" {
		if gid, err = config.LookupGroup(cfg.Group); err != nil {
			return nil, err
		}
	}
	if os.Geteuid() != 0 {
		if uid == os.Geteuid() && gid == os.Getegid() {
			return nil, nil
		}
		return nil, fmt.Errorf("Can't run workers as uid %d, gid %d: only root can switch users", uid, gid)
	}
	credential := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
	if cfg.Initgroups && name != "" {
		if credential.Groups, err = userGroups(name, gid); err != nil {
			return nil, fmt.Errorf("Can't read the groups of user %s: %v", name, err)
		}
	}
	return credential, nil
}

// userGroups are the groups of the named user plus gid, as initgroups(3) sets them.
func userGroups(name string, gid int) ([]uint32, error) {
	u, err := user.Lookup(name)
	if err != nil {
		return nil, err
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	groups := []uint32{uint32(gid)}
	for _, id := range ids {
		if n, err := strconv.Atoi(id); err == nil && n != gid {
			groups = append(groups, uint32(n))
		}
	}
	return groups, nil
}
