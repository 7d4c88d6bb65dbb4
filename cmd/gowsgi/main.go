// Command gowsgi serves a Python WSGI application with gunicorn's command line. The same binary
// is the master, which supervises, and each worker, which the master starts by re-executing it
// with GOWSGI_WORKER_ID set, or with --preload has its fork server fork (GOWSGI_ZYGOTE).
package main

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"

	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/master"
	"gowsgi/worker"
)

// version is gowsgi's release, replaced at build time with -ldflags "-X main.version=…".
var version = "0.1.0"

// isWorker says whether the master started this process as a worker (a worker forked by the
// fork server has its variables too: see pyembed's init); isZygote, as the fork server of
// --preload (master.ZygoteEnv); runningHooks, as the process for its Python master hooks
// (master.HookProcessEnv); readingConfig, as a Python config reader (config.ReadPythonEnv).
var (
	isWorker      = os.Getenv(master.WorkerIDEnv) != ""
	isZygote      = !isWorker && os.Getenv(master.ZygoteEnv) != ""
	runningHooks  = os.Getenv(master.HookProcessEnv) != ""
	readingConfig = os.Getenv(config.ReadPythonEnv) != ""
)

func init() {
	// Python starts on the main goroutine, which must stay on the process's main thread;
	// locking here, before main runs, keeps the runtime from moving it.
	if isWorker || isZygote || runningHooks || readingConfig {
		runtime.LockOSThread()
	}
}

func main() {
	if readingConfig {
		os.Exit(worker.ReadPythonConfig(os.Getenv(config.ReadPythonEnv)))
	}
	// Workers and helper processes are started with the master's arguments, never with ctl's.
	if len(os.Args) > 1 && os.Args[1] == ctlCommand && !isWorker && !isZygote && !runningHooks {
		os.Exit(runCtl(os.Args[2:]))
	}
	os.Exit(run())
}

func run() int {
	worker.Version = version
	config.EmbeddedPythonVersion = worker.PythonVersion()
	cfg, settings, err := config.Resolve(os.Args[1:], os.Getenv)
	switch {
	case errors.Is(err, config.ErrHelp):
		fmt.Print(config.Usage())
		return 0
	case errors.Is(err, config.ErrVersion):
		fmt.Printf("gowsgi %s\n%s\n", version, worker.PythonDescription())
		return 0
	case err != nil:
		fmt.Fprintf(os.Stderr, "gowsgi: error: %v\n", err)
		if isWorker || isZygote {
			// The master checked this command line already, so something changed under it
			// (a directory removed); respawning would fail the same way.
			return worker.ExitBootError
		}
		return 2
	}
	errorlog.SetLevel(cfg.LogLevel)
	errorlog.CaptureOutput(cfg.CaptureOutput)
	if sl := cfg.Syslog; sl.Enabled {
		err := errorlog.StartSyslog(sl.Addr, config.SyslogFacility(sl.Facility), sl.Prefix, cfg.ProcessName())
		if err != nil {
			fmt.Fprintf(os.Stderr, "gowsgi: error: --log-syslog-to: %v\n", err)
			return 2
		}
		defer errorlog.FlushSyslog()
	}
	if runningHooks {
		for _, name := range []string{master.HookProcessEnv, config.FileEnv, config.FileTextEnv} {
			os.Unsetenv(name)
		}
		return worker.RunMasterHooks(cfg)
	}
	// The app must not see these: a gowsgi it starts as a subprocess would become a worker.
	hidden := []string{master.WorkerIDEnv, master.ListenFDsEnv, master.CheckAppEnv, master.ZygoteEnv,
		config.FileEnv, config.FileTextEnv}
	if isZygote {
		// Its workers read them, in the environment it was started with.
		control, _ := strconv.Atoi(os.Getenv(master.ZygoteEnv))
		return worker.RunZygote(cfg, control, hidden)
	}
	if !isWorker {
		return runMaster(cfg, settings)
	}
	checking := os.Getenv(master.CheckAppEnv) != ""
	listenFDs := os.Getenv(master.ListenFDsEnv)
	worker.Age, _ = strconv.Atoi(os.Getenv(master.WorkerIDEnv))
	for _, name := range hidden {
		os.Unsetenv(name)
	}
	if checking {
		return worker.CheckApp(cfg)
	}
	listeners, err := inheritedListeners(listenFDs)
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: error: %v\n", err)
		return worker.ExitBootError
	}
	return worker.Run(cfg, listeners)
}

// runMaster does what the command line asks of the master: print the settings, check that the
// app loads, or serve.
func runMaster(cfg *config.Config, settings config.Settings) int {
	if cfg.PrintConfig {
		for _, warning := range cfg.Warnings {
			fmt.Fprintf(os.Stderr, "gowsgi: warning: %s\n", warning)
		}
		for _, notice := range cfg.Notices {
			fmt.Fprintf(os.Stderr, "gowsgi: note: %s\n", notice)
		}
		fmt.Print(settings)
		if !cfg.CheckConfig {
			return 0
		}
	}
	if cfg.CheckConfig {
		return master.CheckApp(cfg)
	}
	return master.Run(cfg, settings, version)
}

// inheritedListeners wraps the listening sockets the master passed as descriptors 3, 4, ….
func inheritedListeners(count string) ([]*os.File, error) {
	n, err := strconv.Atoi(count)
	if err != nil || n < 1 {
		return nil, fmt.Errorf("%s=%q: expected the number of inherited sockets", master.ListenFDsEnv, count)
	}
	files := make([]*os.File, n)
	for i := range files {
		fd := master.FirstListenFD + i
		files[i] = os.NewFile(uintptr(fd), "listener-"+strconv.Itoa(fd))
	}
	return files, nil
}
