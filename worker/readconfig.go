package worker

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime"
	"slices"

	"gowsgi/config"
	"gowsgi/wsgi"
)

// ReadPythonConfig is the whole life of a Python config reader process (config.ReadPythonEnv):
// it runs the file the request names and writes the answer to descriptor 3, for the master,
// which has no Python. It returns the process's exit code.
func ReadPythonConfig(request string) int {
	var req config.PythonRequest
	if err := json.Unmarshal([]byte(request), &req); err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: error: %s: %v\n", config.ReadPythonEnv, err)
		return 2
	}
	runtime.LockOSThread()
	answer, err := wsgi.ReadConfig(req.Virtualenv, req.Paths, req.Source, slices.Concat(config.MasterHooks, config.WorkerHooks))
	if err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: error: cannot run the Python config file: %v\n", err)
		return 2
	}
	out := os.NewFile(3, "config-answer")
	if _, err := out.WriteString(answer); err != nil {
		fmt.Fprintf(os.Stderr, "gowsgi: error: cannot hand the config over: %v\n", err)
		return 2
	}
	wsgi.AtExit()
	return 0
}
