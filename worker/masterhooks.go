package worker

import (
	"bufio"
	"encoding/json"
	"os"
	"os/signal"
	"runtime"
	"syscall"

	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/proctitle"
	"gowsgi/wsgi"
)

// RunMasterHooks is the whole life of the master's hook process (master.HookProcessEnv): it
// loads the master hooks of the Python config file, then runs each event the master sends on
// descriptor 3 and answers on descriptor 4 once the hook has returned, until the master closes
// its end. It returns the process's exit code.
func RunMasterHooks(cfg *config.Config) int {
	events, answers := os.NewFile(3, "hook-events"), os.NewFile(4, "hook-answers")
	// reply writes one answer line for the master; failed says what could not be done.
	reply := func(answer string) bool {
		_, err := answers.WriteString(answer + "\n")
		return err == nil
	}
	failed := func(err error) bool {
		text, _ := json.Marshal(map[string]string{"error": err.Error()})
		return reply(string(text))
	}
	if err := errorlog.Open(cfg.ErrorLog); err != nil {
		failed(err)
		return ExitBootError
	}
	// gunicorn's master runs in the app's directory, and its hooks with it.
	if err := os.Chdir(cfg.Chdir); err != nil {
		failed(err)
		return ExitBootError
	}
	// A Ctrl-C or a TERM to the process group is the master's to act on: this process ends when
	// the master closes its events, after on_exit, or dies with it.
	signal.Ignore(syscall.SIGTERM, syscall.SIGINT, syscall.SIGQUIT, syscall.SIGHUP, syscall.SIGUSR1,
		syscall.SIGUSR2, syscall.SIGTTIN, syscall.SIGTTOU, syscall.SIGWINCH)
	proctitle.Set(proctitle.Title("hooks", cfg.ProcessName()))
	runtime.LockOSThread()
	setEnvironment(cfg.Env)
	hooks, err := wsgi.StartMasterHooks(cfg.Virtualenv, append([]string{cfg.Chdir}, cfg.PythonPath...))
	if err != nil {
		failed(err)
		return ExitLoadError
	}
	settings, _ := json.Marshal(config.HookSettings(cfg))
	answer, err := hooks.Load(cfg.Python.Source, string(settings))
	if err != nil {
		failed(err)
		return ExitLoadError
	}
	if !reply(answer) {
		return 0
	}
	scanner := bufio.NewScanner(events)
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		var event hookEvent
		_ = json.Unmarshal(scanner.Bytes(), &event)
		if event.Reload != nil {
			answer, err = hooks.Load(event.Reload.Sources, string(event.Reload.Cfg))
		} else {
			answer, err = hooks.Call(scanner.Text())
		}
		if err != nil && !failed(err) || err == nil && !reply(answer) {
			break
		}
	}
	wsgi.AtExit()
	return 0
}

// hookEvent is an event from the master: a hook to call, or with Reload, the hooks to load
// again after a HUP.
type hookEvent struct {
	Reload *struct {
		Sources string          `json:"sources"`
		Cfg     json.RawMessage `json:"cfg"`
	} `json:"reload"`
}
