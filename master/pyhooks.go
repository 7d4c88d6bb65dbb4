package master

import (
	"bufio"
	"cmp"
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

// hookAnswer is a line of the hook process: the hooks it loaded (its first line, and after a
// reload), what it could not do, and the variables the file or a hook put in the environment.
type hookAnswer struct {
	Defined []string          `json:"defined"`
	Error   string            `json:"error"`
	Env     map[string]string `json:"env"`
}

// hookWarnEvery is how often the master says that it is still waiting for a hook: as in
// gunicorn, it waits for the hook however long it takes.
const hookWarnEvery = 10 * time.Second

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
	hello, answered := p.await("loading the master hooks")
	if !answered || hello.Error != "" {
		if hello.Error != "" {
			errorlog.Error("Can't load the master hooks of %s: %s", a.cfg.ConfigFile, hello.Error)
		}
		p.stop()
		return
	}
	p.defined = hello.Defined
	applyEnv(hello.Env)
	a.pyHooks = p
	errorlog.Debug("Master hooks %v run in process %d", p.defined, p.process.Pid)
}

// await waits for the hook process's next line, saying every hookWarnEvery that it still
// waits; event names what is waited for in the log. It returns false when the process ended.
func (p *hookProcess) await(event string) (hookAnswer, bool) {
	warn := time.NewTicker(hookWarnEvery)
	defer warn.Stop()
	started := time.Now()
	for {
		select {
		case line, open := <-p.replies:
			var answer hookAnswer
			if !open {
				errorlog.Error("The process for the config file's master hooks (pid %d) ended during %s", p.process.Pid, event)
				return answer, false
			}
			if err := json.Unmarshal([]byte(line), &answer); err != nil {
				answer.Error = "unreadable answer: " + line
			}
			return answer, true
		case <-warn.C:
			errorlog.Warning("Still waiting for %s after %s", event, time.Since(started).Round(time.Second))
		}
	}
}

// stop ends the hook process: it exits when its requests end.
func (p *hookProcess) stop() {
	p.requests.Close()
	go func() {
		for range p.replies {
		}
	}()
}

// callPython runs a master hook of the Python config file, if it defines it, and waits for it
// as gunicorn's arbiter does, for at most hookWaitLimit. worker describes the worker the hook
// is about (pre_fork, child_exit); extra adds the hook's own arguments.
func (a *arbiter) callPython(hook string, worker map[string]any, extra map[string]any) {
	if a.definesPython(hook) {
		a.sendHookEvent(hook, worker, extra)
	}
}

// definesPython says whether the config file's master hooks include hook.
func (a *arbiter) definesPython(hook string) bool {
	return a.pyHooks != nil && slices.Contains(a.pyHooks.defined, hook)
}

// shareWorkers brings the hooks' server.WORKERS up to date after a worker started or ended, for
// the threads a hook started (a memory watcher begun in when_ready).
func (a *arbiter) shareWorkers() {
	if a.pyHooks != nil {
		a.sendHookEvent("", nil, nil)
	}
}

// sendHookEvent sends the hook process an event, the hook to call ("" for none) with the
// master's state, and waits for its answer.
func (a *arbiter) sendHookEvent(hook string, worker map[string]any, extra map[string]any) {
	p := a.pyHooks
	event := map[string]any{"hook": hook, "server": a.hookServerState(), "worker": worker}
	for k, v := range extra {
		event[k] = v
	}
	line, _ := json.Marshal(event)
	if _, err := p.requests.Write(append(line, '\n')); err != nil {
		errorlog.Error("Can't run the %s hook: the hook process is gone (%v)", hook, err)
	}
	answer, answered := p.await("the " + cmp.Or(hook, "hook process") + " hook")
	if !answered {
		// The process died (a crash in a C extension): later hooks get a new one.
		p.stop()
		a.pyHooks = nil
		a.startHookProcess()
		return
	}
	if answer.Error != "" {
		errorlog.Error("The %s hook failed: %s", hook, answer.Error)
	}
	applyEnv(answer.Env)
}

// applyEnv sets in the master's environment, which workers inherit, what the config file or a
// master hook set in the hook process's, as gunicorn's workers inherit what its master's
// hooks set.
func applyEnv(env map[string]string) {
	for key, value := range env {
		if err := os.Setenv(key, value); err != nil {
			errorlog.Warning("Can't set %s in the environment: %v", key, err)
		}
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

// reloadHooks has the hook process load the master hooks of next's config file again after a
// HUP, in place, as gunicorn's master reads its file again: threads and servers that a hook
// started keep running. A file that cannot be loaded keeps the hooks as they were.
func (a *arbiter) reloadHooks(next *config.Config) {
	p := a.pyHooks
	switch {
	case p == nil:
		a.startHookProcess()
		return
	case !next.Python.Defines(config.MasterHooks):
		p.stop()
		a.pyHooks = nil
		return
	}
	settings, _ := json.Marshal(config.HookSettings(next))
	request, _ := json.Marshal(map[string]any{"reload": map[string]any{"sources": next.Python.Source, "cfg": json.RawMessage(settings)}})
	if _, err := p.requests.Write(append(request, '\n')); err != nil {
		errorlog.Error("Can't reload the master hooks: the hook process is gone (%v)", err)
	}
	answer, answered := p.await("reloading the master hooks")
	switch {
	case !answered:
		p.stop()
		a.pyHooks = nil
		a.startHookProcess()
	case answer.Error != "":
		errorlog.Error("Can't reload the master hooks of %s, keeping those loaded before: %s", next.ConfigFile, answer.Error)
	default:
		p.defined = answer.Defined
		applyEnv(answer.Env)
	}
}
