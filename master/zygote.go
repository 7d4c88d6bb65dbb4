package master

import (
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/errorlog"
	"gowsgi/proctitle"
)

// ZygoteEnv makes the binary the fork server of --preload (the zygote, pyembed/zygote.c),
// which imports the app once and forks workers from it, and names the descriptor of its
// socket to the master: the descriptor after the listening sockets, which is where a worker
// finds its heartbeat pipe, so that a forked worker's pipe can take the socket's place.
const ZygoteEnv = "GOWSGI_ZYGOTE"

// forkReplyTimeout bounds the wait for the fork server's answer to a fork request. A fork
// takes a millisecond or two; a fork server that does not answer is stuck.
const forkReplyTimeout = 5 * time.Second

// zygote is a fork server as the master tracks it.
type zygote struct {
	process *os.Process
	// conn is the master's end of the socket, a SOCK_SEQPACKET pair: one message a request.
	conn *net.UnixConn
	// listeners is how many listening sockets it holds, as descriptors FirstListenFD, ….
	listeners int
	started   time.Time
	// ready is set once it has loaded the app; stopped once the master has ended it, which
	// makes its exit no event; killed once it has been killed for loading too long.
	ready   bool
	stopped bool
	killed  bool
	// replies carries its answers to fork requests; closed when its socket closes.
	replies chan string
}

// zygoteReady is posted to the arbiter loop when a fork server has loaded the app, or under
// --reload has failed to (loaded is false: its workers serve the error); threads is how many
// threads it runs, which its workers do not inherit.
type zygoteReady struct {
	z       *zygote
	threads int
	loaded  bool
}

// startZygote starts a fork server for the current generation, with the listeners as
// descriptors 3, 4, …, the socket after them, and the balance table after that, where workers
// expect it. It must run on the arbiter's locked thread, as spawnWorker does: workers forked
// from it are the master's children through that thread, and die with it.
func (a *arbiter) startZygote() (*zygote, error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_SEQPACKET|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	mine, theirs := os.NewFile(uintptr(fds[0]), "fork server"), os.NewFile(uintptr(fds[1]), "fork server")
	defer theirs.Close()
	conn, err := net.FileConn(mine)
	mine.Close()
	if err != nil {
		return nil, err
	}
	cmd := a.newCommand()
	if cmd.Env == nil {
		cmd.Env = os.Environ()
	}
	control := FirstListenFD + len(a.listeners)
	cmd.Env = append(a.env.forWorker(cmd.Env),
		ListenFDsEnv+"="+strconv.Itoa(len(a.listeners)),
		ZygoteEnv+"="+strconv.Itoa(control))
	cmd.Env = append(cmd.Env, a.cfg.WorkerEnv()...)
	cmd.ExtraFiles = append(slices.Clip(a.listeners), theirs)
	if a.balance != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, a.balance.File())
	}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	a.host.prepareWorker(cmd)
	if a.host != nil {
		cmd.Args[0] = proctitle.Title("fork server", a.cfg.ProcessName())
	}
	if err := cmd.Start(); err != nil {
		conn.Close()
		return nil, err
	}
	z := &zygote{process: cmd.Process, conn: conn.(*net.UnixConn), listeners: len(a.listeners),
		started: time.Now(), replies: make(chan string, 1)}
	errorlog.Info("Booting fork server with pid: %d", z.process.Pid)
	go z.read(a.zygoteReady)
	go func() {
		_ = cmd.Wait()
		a.exits <- workerExit{pid: z.process.Pid, state: cmd.ProcessState}
	}()
	return z, nil
}

// read posts the fork server's messages until its socket closes: "ready threads=N loaded=B"
// once it has loaded the app (or under --reload failed to), then one answer per fork request.
func (z *zygote) read(ready chan<- zygoteReady) {
	defer close(z.replies)
	buf := make([]byte, 512)
	for {
		n, err := z.conn.Read(buf)
		if err != nil {
			return
		}
		msg := string(buf[:n])
		if rest, isReady := strings.CutPrefix(msg, "ready "); isReady {
			r := zygoteReady{z: z}
			for _, field := range strings.Fields(rest) {
				name, value, _ := strings.Cut(field, "=")
				n, _ := strconv.Atoi(value)
				switch name {
				case "threads":
					r.threads = n
				case "loaded":
					r.loaded = n == 1
				}
			}
			ready <- r
			continue
		}
		z.replies <- msg
	}
}

// fork asks the fork server for a worker with the variables env (KEY=VALUE), which only that
// worker gets, and heartbeat, the write end of its heartbeat pipe.
func (z *zygote) fork(env []string, heartbeat *os.File) (*os.Process, error) {
	request := []byte(strings.Join(env, "\x00"))
	if _, _, err := z.conn.WriteMsgUnix(request, unix.UnixRights(int(heartbeat.Fd())), nil); err != nil {
		return nil, err
	}
	timeout := time.NewTimer(forkReplyTimeout)
	defer timeout.Stop()
	select {
	case reply, open := <-z.replies:
		if !open {
			return nil, errors.New("the fork server closed its socket")
		}
		if pid, isPid := strings.CutPrefix(reply, "pid="); isPid {
			n, err := strconv.Atoi(pid)
			if err != nil {
				return nil, fmt.Errorf("the fork server answered %q", reply)
			}
			// The worker is this process's child: it stays until it is waited for, so the
			// pid names it and no other.
			return os.FindProcess(n)
		}
		return nil, fmt.Errorf("the fork server could not fork: %s", strings.TrimPrefix(reply, "error="))
	case <-timeout.C:
		return nil, fmt.Errorf("the fork server did not answer within %s", forkReplyTimeout)
	}
}

// stop ends the fork server. It holds nothing that needs a graceful end, and its workers are
// not its children: they live on.
func (z *zygote) stop() {
	if z == nil || z.stopped {
		return
	}
	z.stopped = true
	z.conn.Close()
	_ = z.process.Kill()
}
