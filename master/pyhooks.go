package master

import (
	"bufio"
	"encoding/json"
	"os"
	"slices"
	"sort"
	"syscall"
	"time"

	"gowsgi/config"
	"gowsgi/errorlog"
)

// HookProcessEnv makes the binary the master's hook process: the master has no Python, so the
// master hooks of a Python config file (on_starting, pre_fork, child_exit, …) run in a process
// of their own, started only when the file defines one. It reads one event a line, as JSON, on
// descriptor 3 and answers each with a line on descriptor 4 once the hook has returned; its first
// line says which hooks it loaded.
const HookProcessEnv = "GOWSGI_HOOK_PROCESS"

// hookProcess is the running hook process, as the master talks to it.
type hookProcess struct {
	process  *os.Process
	requests *os.File
	// replies carries the process's lines; it is closed when the process ends.
	replies chan string
	defined []string
}

// hookProcessHello is the hook process's first line.
type hookProcessHello struct {
	Defined []string `json:"defined"`
	Error   string   `json:"error"`
}

// startHookProcess starts the hook process for cfg's Python config file when it defines master
// hooks. It must run on the arbiter's locked thread, as workers are started, so that the
// process dies with the master.
func (a *arbiter) startHookProcess() {
	if !a.cfg.Python.Defines(config.MasterHooks) {
		return
	}
	requestsRead, requests, err := os.Pipe()
	if err != nil {
		errorlog.Error("Can't start the process for the config file's master hooks: %v", err)
		return
	}
	replies, repliesWrite, err := os.Pipe()
	if err != nil {
		requestsRead.Close()
		requests.Close()
		errorlog.Error("Can't start the process for the config file's master hooks: %v", err)
		return
	}
	cmd := a.newCommand()
	cmd.Env = append(a.env.forWorker(os.Environ()), HookProcessEnv+"=1")
	cmd.Env = append(cmd.Env, a.cfg.WorkerEnv()...)
	cmd.ExtraFiles = []*os.File{requestsRead, repliesWrite}
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	err = cmd.Start()
	requestsRead.Close()
	repliesWrite.Close()
	if err != nil {
		requests.Close()
		replies.Close()
		errorlog.Error("Can't start the process for the config file's master hooks: %v", err)
		return
	}
	p := &hookProcess{process: cmd.Process, requests: requests, replies: make(chan string, 1)}
	go func() {
		scanner := bufio.NewScanner(replies)
		scanner.Buffer(nil, 1<<20)
		for scanner.Scan() {
			p.replies <- scanner.Text()
		}
		close(p.replies)
		replies.Close()
		_ = cmd.Wait()
	}()
	var hello hookProcessHello
	line, answered := p.await("loading", hookWaitLimit)
	if answered {
		_ = json.Unmarshal([]byte(line), &hello)
	}
	if !answered || hello.Error != "" {
		if hello.Error != "" {
			errorlog.Error("Can't load the master hooks of %s: %s", a.cfg.ConfigFile, hello.Error)
		}
		p.stop(!answered)
		return
	}
	p.defined = hello.Defined
	a.pyHooks = p
	errorlog.Debug("Master hooks %v run in process %d", p.defined, p.process.Pid)
}

// await waits for the hook process's next line for at most limit; event names what is waited
// for in the log.
func (p *hookProcess) await(event string, limit time.Duration) (string, bool) {
	timer := time.NewTimer(limit)
	defer timer.Stop()
	select {
	case line, open := <-p.replies:
		if !open {
			errorlog.Error("The process for the config file's master hooks (pid %d) ended during %s", p.process.Pid, event)
		}
		return line, open
	case <-timer.C:
		errorlog.Warning("The %s hook still runs after %s; not waiting for it", event, limit)
		return "", false
	}
}

// stop ends the hook process: it exits when its requests end, or at once with kill, for one
// stuck in a hook.
func (p *hookProcess) stop(kill bool) {
	p.requests.Close()
	if kill {
		_ = p.process.Kill()
	}
	go func() {
		for range p.replies {
		}
	}()
}

// callPython runs a master hook of the Python config file, if it defines it, and waits for it
// as gunicorn's arbiter does, for at most hookWaitLimit. worker describes the worker the hook
// is about (pre_fork, child_exit); extra adds the hook's own arguments.
func (a *arbiter) callPython(hook string, worker map[string]any, extra map[string]any) {
	p := a.pyHooks
	if p == nil || !slices.Contains(p.defined, hook) {
		return
	}
	event := map[string]any{"hook": hook, "server": a.hookServerState(), "worker": worker}
	for k, v := range extra {
		event[k] = v
	}
	line, _ := json.Marshal(event)
	_, err := p.requests.Write(append(line, '\n'))
	if err != nil {
		errorlog.Error("Can't run the %s hook: the hook process is gone (%v)", hook, err)
	}
	if _, answered := p.await(hook, hookWaitLimit); err != nil || !answered {
		// A hook that hangs, or a process that died: later hooks get a process of their own
		// rather than queue behind it.
		p.stop(true)
		a.pyHooks = nil
		a.startHookProcess()
	}
}

// hookServerState is what the hooks' server object shows of the master.
func (a *arbiter) hookServerState() map[string]any {
	workers := []map[string]any{}
	pids := make([]int, 0, len(a.workers))
	for pid := range a.workers {
		pids = append(pids, pid)
	}
	sort.Ints(pids)
	for _, pid := range pids {
		w := a.workers[pid]
		workers = append(workers, map[string]any{"pid": pid, "age": w.id, "booted": w.ready, "alive": !w.retiring})
	}
	return map[string]any{"num_workers": a.wanted, "binds": a.binds, "workers": workers}
}

// restartHookProcess replaces the hook process after a HUP, so that hooks run the config file
// as it is now.
func (a *arbiter) restartHookProcess() {
	if a.pyHooks != nil {
		a.pyHooks.stop(false)
		a.pyHooks = nil
	}
	a.startHookProcess()
}
