package wsgi

import "gowsgi/pyembed"

// ReadConfig starts the interpreter on the calling thread (locked to it) as a worker's would
// start, then runs a Python config file and returns what it holds as JSON (see
// pyembed.ReadConfig).
func ReadConfig(virtualenv string, paths []string, source string, hooks []string) (string, error) {
	if err := startInterpreter(virtualenv, paths); err != nil {
		return "", err
	}
	return pyembed.ReadConfig(source, hooks)
}

// StartMasterHooks starts the interpreter on the calling thread (locked to it) for the master
// hooks of a Python config file (see pyembed.MasterHooks); what they log goes to the error log.
func StartMasterHooks(virtualenv string, paths []string) (*pyembed.MasterHooks, error) {
	if err := startInterpreter(virtualenv, paths); err != nil {
		return nil, err
	}
	pyembed.HookLog = LogFromPython
	return pyembed.NewMasterHooks()
}

// startInterpreter starts Python as a worker's starts: in the virtualenv, with paths first on
// sys.path.
func startInterpreter(virtualenv string, paths []string) error {
	exe := ""
	if virtualenv != "" {
		exe = venvPython(virtualenv)
	}
	return pyembed.Initialize(pyembed.Options{Executable: exe, Paths: paths})
}
