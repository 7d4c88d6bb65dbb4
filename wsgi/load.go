package wsgi

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"

	"gowsgi/errorlog"
	"gowsgi/pyembed"
)

// Options says how to start Python and which app to load.
type Options struct {
	// Virtualenv is the virtualenv directory to run in, or "".
	Virtualenv string
	// Paths go first on sys.path (the app's directory, then --pythonpath).
	Paths                     []string
	Multithread, Multiprocess bool
	// ServerSoftware is every request's SERVER_SOFTWARE: "gowsgi/VERSION".
	ServerSoftware string
	// ScriptName is the URL prefix the app is mounted at.
	ScriptName string
	// ProxyHeaders says which headers a trusted proxy may use to change the environ.
	ProxyHeaders ProxyHeaders
	// Module, Attr, Call and Args name the callable (see config.AppSpec).
	Module, Attr string
	Call         bool
	Args         string
	// Hooks is the hooks module to import before the app ("" for none), and WorkerInfo the
	// worker object its hooks get, as JSON (see pyembed.LoadHooks).
	Hooks, WorkerInfo string
	// Gevent runs requests in greenlets on gevent's hub (see RunHub), with the standard
	// library patched for gevent before the hooks and the app are imported.
	Gevent bool
	// Logging configures the logging module before the hooks and the app are imported.
	Logging Logging
	// Spew prints every line of Python the worker runs, from before the hooks are imported.
	Spew bool
	// Paste, "PATH[#SECTION]", loads the app with PasteDeploy instead of Module, with
	// PasteGlobal's KEY=VALUE pairs as its global_conf.
	Paste       string
	PasteGlobal []string
}

// Logging is gunicorn's logconfig settings: File, a logging.config.fileConfig file; JSONFile, a
// dictConfig as a JSON file; Dict, one as JSON text. Dict counts if given, else JSONFile, else
// File. They configure the app's Python logging only: gowsgi's error and access logs are Go's.
type Logging struct {
	File     string `json:"file"`
	JSONFile string `json:"json_file"`
	Dict     string `json:"dict"`
}

// LoggingError says that the Python logging configuration failed; Detail is the traceback.
type LoggingError = pyembed.LoggingError

// LoadError says why the application could not be loaded; Kind is one of: module not found,
// import raised, attribute missing, not callable, factory failed, paste failed.
type LoadError = pyembed.LoadError

// Load starts the interpreter on the calling thread (which must stay locked to it) and loads the
// app; in a worker forked by the fork server of --preload, it takes the app loaded there (see
// loadPreloaded). A *LoadError means the app itself failed, a *HooksError the hooks module, a
// *GeventMissing that gevent is not installed, a *LoggingError the logging configuration; any
// other error, the interpreter.
func Load(o Options) (*Handler, error) {
	app, hooks, err := loadPreloaded(o)
	if app == nil && err == nil {
		app, hooks, err = load(o)
	}
	if err == nil {
		err = pyembed.SetServerSoftware(o.ServerSoftware)
	}
	if err != nil {
		return nil, err
	}
	h := NewHandler(app, o.ScriptName)
	h.proxy = newProxyPolicy(o.ProxyHeaders)
	if hooks != nil {
		h.useHooks(hooks, app)
	}
	return h, nil
}

// load starts the interpreter and imports the hooks, if any, and then the app.
func load(o Options) (*pyembed.App, *pyembed.Hooks, error) {
	if err := pyembed.Initialize(pyembed.Options{Executable: executable(o), Paths: o.Paths}); err != nil {
		return nil, nil, err
	}
	if o.Gevent {
		if err := useGevent(); err != nil {
			return nil, nil, err
		}
	}
	if err := pyembed.SetupWSGI(o.Multithread, o.Multiprocess); err != nil {
		return nil, nil, err
	}
	notes, err := pyembed.Prepare(prepareSettings(o))
	if err != nil {
		return nil, nil, err
	}
	logNotes(notes)
	hooks, err := importHooks(o)
	if err != nil {
		return nil, nil, err
	}
	app, err := pyembed.LoadApp(o.Module, o.Attr, o.Call, o.Args)
	return app, hooks, err
}

// importHooks imports the hooks module, if there is one.
func importHooks(o Options) (*pyembed.Hooks, error) {
	if o.Hooks == "" {
		return nil, nil
	}
	return loadHooks(o.Hooks, o.WorkerInfo)
}

// executable is the python executable the interpreter takes as its own: the virtualenv's, or
// "" for the one this binary embeds.
func executable(o Options) string {
	if o.Virtualenv == "" {
		return ""
	}
	return venvPython(o.Virtualenv)
}

// prepareSettings are the settings the interpreter applies before the hooks and the app are
// imported (pyembed.Prepare), as JSON.
func prepareSettings(o Options) string {
	settings, _ := json.Marshal(struct { // strings and a bool: it cannot fail
		Logging     Logging  `json:"logging"`
		Spew        bool     `json:"spew"`
		Paste       string   `json:"paste"`
		PasteGlobal []string `json:"paste_global"`
	}{o.Logging, o.Spew, o.Paste, o.PasteGlobal})
	return string(settings)
}

// logNotes writes what pyembed.Prepare had to say to the error log.
func logNotes(notes string) {
	for _, note := range strings.Split(notes, "\n") {
		if note != "" {
			errorlog.Info("%s", note)
		}
	}
}

// venvPython is the virtualenv's interpreter; taking it as ours makes Python read the
// virtualenv's pyvenv.cfg and use its site-packages, as running that interpreter would.
func venvPython(venv string) string {
	for _, name := range []string{"python3", "python"} {
		p := filepath.Join(venv, "bin", name)
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return filepath.Join(venv, "bin", "python3")
}

// PythonDescription says which Python the binary embeds.
func PythonDescription() string { return pyembed.Describe() }

// PythonVersion is the embedded Python's version, such as "3.11.2".
func PythonVersion() string { return pyembed.Version() }

// AtExit does what Python does on a normal exit: the app's atexit functions run and its
// buffered output is written. Call it on the way out of a worker that stopped normally.
func AtExit() { pyembed.AtExit() }
