package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// ReadPythonEnv makes the binary a Python config reader instead of a master or worker: its
// value is a PythonRequest as JSON, and the reader writes what the file holds, as JSON, to
// descriptor 3. The master has no Python of its own, so it runs the file in such a process.
const ReadPythonEnv = "GOWSGI_READ_PYTHON_CONFIG"

// PythonRequest asks a reader process to run a Python config file.
type PythonRequest struct {
	// Source is "file:PATH" or "python:MODULE".
	Source string
	// Paths go first on sys.path; Virtualenv is the virtualenv to run in, or "".
	Paths      []string
	Virtualenv string
}

// PythonSetup is what running a Python config file needs besides the file: the directories and
// virtualenv of the command line, before the file is read.
type PythonSetup struct {
	Chdir, PythonPath, Virtualenv string
}

// pythonName is one top-level name of a Python config file as the reader describes it: kind is
// "value" (Value holds it as JSON), "function" or "other" (Type names its type).
type pythonName struct {
	Name  string          `json:"name"`
	Line  int             `json:"line"`
	Kind  string          `json:"kind"`
	Value json.RawMessage `json:"value"`
	Type  string          `json:"type"`
	Arity int             `json:"arity"`
}

// pythonResult is the reader's answer: the file's names, or the error that running it raised,
// at a line of the file when the traceback passes through it.
type pythonResult struct {
	Names   []pythonName      `json:"names"`
	Environ map[string]string `json:"environ"`
	Error   string            `json:"error"`
	Line    int               `json:"line"`
}

// findFile says which config file to read: the one the master pinned for its workers, -c, or
// ./gunicorn.conf.py or ./gowsgi.yaml when present. It returns "" for none, and the name as the
// user wrote it. A Python file's path is its source ("file:PATH", "python:MODULE").
func findFile(given, pinned string) (path, name string, err error) {
	switch {
	case pinned == noFile:
		return "", "", nil
	case pinned != "":
		return pinned, strings.TrimPrefix(pinned, "file:"), nil
	case given == "":
		var found []string
		for _, candidate := range []string{DefaultPythonFile, DefaultFile} {
			if info, err := os.Stat(candidate); err == nil && !info.IsDir() {
				found = append(found, candidate)
			}
		}
		switch len(found) {
		case 0:
			return "", "", nil
		case 2:
			return "", "", fmt.Errorf("both ./%s and ./%s exist: name the one to read with -c", DefaultPythonFile, DefaultFile)
		}
		given = found[0]
	case strings.HasPrefix(given, "python:"):
		if !pythonModule.MatchString(strings.TrimPrefix(given, "python:")) {
			return "", "", fmt.Errorf("invalid value %q for -c/--config: expected python:MODULE, a dotted module name", given)
		}
		return given, given, nil
	}
	name = strings.TrimPrefix(given, "file:")
	cwd, err := os.Getwd()
	if err != nil {
		return "", "", fmt.Errorf("cannot read the current directory: %v", err)
	}
	path = absolute(cwd, name)
	text, err := os.ReadFile(path)
	if err != nil {
		return "", "", fmt.Errorf("cannot read config file %s: %v", name, errors.Unwrap(err))
	}
	if isPythonFile(name, text) {
		path = "file:" + path
	}
	return path, name, nil
}

// isPythonFile tells a Python config file from a YAML one: by the name's extension, and for
// any other name by whether the text reads as YAML settings ("name: value" lines); gunicorn
// runs every config file as Python.
func isPythonFile(name string, text []byte) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".py":
		return true
	case ".yaml", ".yml", ".json":
		return false
	}
	var doc yaml.Node
	if yaml.Unmarshal(text, &doc) != nil || len(doc.Content) == 0 {
		return len(bytes.TrimSpace(text)) > 0
	}
	return doc.Content[0].Kind != yaml.MappingNode
}

// isPythonSource says whether a path from findFile is a Python file's source.
func isPythonSource(path string) bool {
	return strings.HasPrefix(path, "file:") || strings.HasPrefix(path, "python:")
}

// readPython runs the Python file in a reader process, or takes what running it gave from
// pinnedText when the master passed it, and returns its names that are settings.
func (c *configFile) readPython(pinnedText string, setup PythonSetup) ([]fileEntry, error) {
	var text []byte
	if pinnedText != "" {
		unquoted, err := strconv.Unquote(pinnedText)
		if err != nil {
			return nil, fmt.Errorf("%s: not a quoted string", FileTextEnv)
		}
		text = []byte(unquoted)
	} else {
		var err error
		if text, err = runPythonReader(c.source, setup); err != nil {
			return nil, fmt.Errorf("%s: %v", c.name, err)
		}
	}
	c.text = string(text)
	var result pythonResult
	if err := json.Unmarshal(text, &result); err != nil {
		return nil, fmt.Errorf("%s: the Python config reader's answer is not JSON: %v", c.name, err)
	}
	if result.Error != "" {
		if result.Line > 0 {
			return nil, c.errorAt(result.Line, "%s", result.Error)
		}
		return nil, fmt.Errorf("%s: %s", c.name, result.Error)
	}
	if strings.HasPrefix(c.source, "file:") {
		c.path = strings.TrimPrefix(c.source, "file:")
	}
	for _, key := range slices.Sorted(maps.Keys(result.Environ)) {
		c.environ = append(c.environ, key+"="+result.Environ[key])
	}
	return c.pythonEntries(result.Names)
}

// pythonEntries keeps the names that are gunicorn's settings or hooks, under gunicorn's exact
// names (and gowsgi's own settings whose names no helper variable would take), as gunicorn
// takes every top-level name of the file that is a setting and ignores the rest (imports,
// helpers, constants); a name one letter or so away from a setting is worth a warning.
func (c *configFile) pythonEntries(names []pythonName) ([]fileEntry, error) {
	known := pythonKeys()
	var entries []fileEntry
	for _, n := range names {
		switch {
		case refusedHooks[normalizeKey(n.Name)]:
			if n.Kind == "function" {
				c.warnings = append(c.warnings, fmt.Sprintf("%s: %s is a hook of gunicorn's dirty arbiters, which gowsgi does not have: it is never called", c.at(n.Line), n.Name))
			}
			continue
		case !known[n.Name]:
			if n.Kind == "value" && !strings.HasPrefix(n.Name, "_") {
				if suggestion := nearestKey(n.Name, known); suggestion != "" {
					c.warnings = append(c.warnings, fmt.Sprintf("%s: %s is not a setting and is ignored (did you mean %s?)", c.at(n.Line), n.Name, suggestion))
				}
			}
			continue
		case notInFile[normalizeKey(n.Name)]:
			continue
		case isHookName(normalizeKey(n.Name)):
			if err := c.addHook(n); err != nil {
				return nil, err
			}
			continue
		case n.Kind != "value" && noEffectReasons[flagOf(n.Name)] != "":
			// A class or object for a setting that has no effect here (logger_class): noted
			// as given.
			n.Value = json.RawMessage(strconv.Quote("<" + n.Type + ">"))
		case n.Kind == "function":
			return nil, c.errorAt(n.Line, "setting %q must be a value, not a function or class", n.Name)
		case n.Kind == "other":
			return nil, c.errorAt(n.Line, "setting %q is a %s, which gowsgi cannot read as a setting", n.Name, n.Type)
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(n.Value, &doc); err != nil || len(doc.Content) == 0 {
			return nil, c.errorAt(n.Line, "setting %q: cannot read its value", n.Name)
		}
		entry := fileEntry{key: n.Name, line: n.Line, value: doc.Content[0]}
		atLine(entry.value, n.Line)
		entries = append(entries, entry)
	}
	return entries, nil
}

// hookArities are how many positional parameters gunicorn requires of each hook; post_request
// may take 2, 3 or 4, and worker_exit the worker alone too (gowsgi's --hooks modules allow it).
var hookArities = map[string][]int{
	"on_starting": {1}, "on_reload": {1}, "when_ready": {1}, "pre_fork": {2}, "post_fork": {2},
	"post_worker_init": {1}, "worker_int": {1}, "worker_abort": {1}, "pre_exec": {1},
	"pre_request": {2}, "post_request": {2, 3, 4}, "child_exit": {2}, "worker_exit": {1, 2},
	"nworkers_changed": {3}, "on_exit": {1}, "ssl_context": {2},
}

// addHook takes a hook of a Python file: a function (or the import string of one) with the
// parameters gunicorn calls it with.
func (c *configFile) addHook(n pythonName) error {
	switch {
	case n.Kind == "value" && string(n.Value) == "null":
		return nil
	case n.Kind != "function":
		return c.errorAt(n.Line, "hook %q must be a function, or the import string of one (module.function)", n.Name)
	case n.Arity >= 0 && !slices.Contains(hookArities[n.Name], n.Arity):
		want := hookArities[n.Name]
		return c.errorAt(n.Line, "hook %q must take %d positional parameters, not %d", n.Name, want[len(want)-1], n.Arity)
	}
	if c.hooks == nil {
		c.hooks = map[string]int{}
	}
	c.hooks[n.Name] = n.Line
	if n.Name == "ssl_context" {
		c.notices = append(c.notices, fmt.Sprintf("%s: the ssl_context hook is never called: gowsgi's TLS is Go's, set by --certfile, --keyfile, --ca-certs, --cert-reqs and --ciphers", c.at(n.Line)))
	}
	return nil
}

// pythonKeys are the names a Python config file may set: gunicorn's, and gowsgi's own where a
// helper variable of the file is unlikely to bear the name.
func pythonKeys() map[string]bool {
	known := map[string]bool{"wsgi_app": true, "secure_scheme_headers": true, "max_worker_memory": true,
		"access_log_json": true}
	newOptions().flagSet().VisitAll(func(f *pflag.Flag) {
		if !gowsgiOnly[f.Name] && !notSettings[f.Name] {
			known[settingKey(f.Name)] = true
		}
	})
	for flag, name := range invertedFlags {
		delete(known, settingKey(flag))
		known[name] = true
	}
	for _, hooks := range [][]string{MasterHooks, WorkerHooks} {
		for _, hook := range hooks {
			known[hook] = true
		}
	}
	for name := range refusedSettings {
		known[settingKey(name)] = true
	}
	return known
}

// gowsgiOnly are gowsgi's flags that gunicorn does not have; a Python file sets gowsgi's own
// settings only under the names pythonKeys lists.
var gowsgiOnly = map[string]bool{"virtualenv": true, "max-worker-memory": true, "access-log-json": true,
	"hooks": true, "on-starting": true, "when-ready": true, "on-reload": true, "child-exit": true,
	"nworkers-changed": true, "on-exit": true}

// flagOf is the flag a gunicorn setting name stands for.
func flagOf(name string) string {
	normal := normalizeKey(name)
	if flag, found := gunicornNames[normal]; found {
		return flag
	}
	return normal
}

// atLine gives a value that came from a Python file, and everything in it, the line of its name.
func atLine(node *yaml.Node, line int) {
	node.Line = line
	for _, child := range node.Content {
		atLine(child, line)
	}
}

// pythonHooks are the hook functions the file defines, sorted, with its source.
func (c *configFile) pythonHooks() PythonHooks {
	hooks := PythonHooks{Source: c.source}
	for name := range c.hooks {
		hooks.Defined = append(hooks.Defined, name)
	}
	slices.Sort(hooks.Defined)
	return hooks
}

// runPythonReader runs this binary as a Python config reader (ReadPythonEnv) and returns its
// answer. What the file prints goes to this process's standard output and error, as it does
// under gunicorn.
func runPythonReader(source string, setup PythonSetup) ([]byte, error) {
	cwd, err := os.Getwd()
	if err != nil {
		return nil, fmt.Errorf("cannot read the current directory: %v", err)
	}
	request := PythonRequest{Source: source, Paths: []string{cwd}, Virtualenv: setup.Virtualenv}
	if setup.Chdir != "" {
		request.Paths[0] = absolute(cwd, setup.Chdir)
	}
	for _, dir := range strings.Split(setup.PythonPath, ",") {
		if dir = strings.TrimSpace(dir); dir != "" {
			request.Paths = append(request.Paths, absolute(cwd, dir))
		}
	}
	if request.Virtualenv != "" {
		request.Virtualenv = absolute(cwd, request.Virtualenv)
		// The reader's interpreter would not start in a virtualenv of another Python.
		if err := checkVirtualenvPython(request.Virtualenv); err != nil {
			return nil, err
		}
	}
	encoded, _ := json.Marshal(request)
	answer, write, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	defer answer.Close()
	cmd := exec.Command("/proc/self/exe")
	cmd.Env = append(os.Environ(), ReadPythonEnv+"="+string(encoded))
	cmd.ExtraFiles = []*os.File{write}
	cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
	err = cmd.Start()
	write.Close()
	if err != nil {
		return nil, fmt.Errorf("cannot start the Python config reader: %v", err)
	}
	var out bytes.Buffer
	_, readErr := out.ReadFrom(answer)
	waitErr := cmd.Wait()
	switch {
	case out.Len() > 0 && readErr == nil:
		return out.Bytes(), nil
	case waitErr != nil:
		return nil, fmt.Errorf("the Python config reader failed (%v)", waitErr)
	}
	return nil, errors.New("the Python config reader gave no answer")
}

// hookSettings are the hook functions of a Python file for --print-config.
func (c *configFile) hookSettings() Settings {
	var settings Settings
	for _, name := range c.pythonHooks().Defined {
		settings = append(settings, Setting{Key: name, Value: "<Python function " + name + ">", Source: c.at(c.hooks[name])})
	}
	return settings
}

// withHooks adds a Python file's hook functions to settings, each in place of the shell hook
// of its name when that is not set.
func (s Settings) withHooks(hooks Settings) Settings {
	for _, hook := range hooks {
		i := slices.IndexFunc(s, func(setting Setting) bool { return setting.Key == hook.Key && setting.Source == fromDefault })
		if i >= 0 {
			s[i] = hook
		} else {
			s = append(s, hook)
		}
	}
	return s
}
