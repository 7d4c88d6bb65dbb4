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
	settings, _ := json.Marshal(hookSettings(cfg))
	hooks, err := wsgi.LoadMasterHooks(cfg.Virtualenv, append([]string{cfg.Chdir}, cfg.PythonPath...), cfg.Python.Source, string(settings))
	if err != nil {
		reply(map[string]string{"error": err.Error()})
		return ExitLoadError
	}
	if !reply(map[string][]string{"defined": hooks.Defined}) {
		return 0
	}
	scanner := bufio.NewScanner(events)
	scanner.Buffer(nil, 1<<20)
	for scanner.Scan() {
		if err := hooks.Call(scanner.Text()); err != nil {
			errorlog.Error("Master hook failed: %v", err)
		}
		if !reply(struct{}{}) {
			break
		}
	}
	wsgi.AtExit()
	return 0
}
