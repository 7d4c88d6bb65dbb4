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
	reply := func(v any) bool {
		line, _ := json.Marshal(v)
		_, err := answers.Write(append(line, '\n'))
		return err == nil
	}
	if err := errorlog.Open(cfg.ErrorLog); err != nil {
		reply(map[string]string{"error": err.Error()})
		return ExitBootError
	}
	// gunicorn's master runs in the app's directory, and its hooks with it.
	if err := os.Chdir(cfg.Chdir); err != nil {
		reply(map[string]string{"error": err.Error()})
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
		reply(map[string]string{"error": err.Error()})
		return ExitLoadError
	}
	settings, _ := json.Marshal(config.HookSettings(cfg))
	answer, err := hooks.Load(cfg.Python.Source, string(settings))
	if err != nil {
		reply(map[string]string{"error": err.Error()})
		return ExitLoadError
	}
	if !replyText(answers, answer) {
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
		if err != nil {
			answer = ""
			if !reply(map[string]string{"error": err.Error()}) {
				break
			}
			continue
		}
		if !replyText(answers, answer) {
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

// replyText writes one answer line for the master.
func replyText(answers *os.File, answer string) bool {
	_, err := answers.WriteString(answer + "\n")
	return err == nil
}
