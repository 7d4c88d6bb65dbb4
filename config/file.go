package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// DefaultFile is gowsgi's own config file, read when it exists in the current directory and no
// -c/--config is given; DefaultPythonFile is gunicorn's, read likewise.
const (
	DefaultFile       = "gowsgi.yaml"
	DefaultPythonFile = "gunicorn.conf.py"
)

// FileEnv carries the config file the master resolved to its workers (the absolute path of a
// YAML file, a Python file's source as pythonSource writes it, or noFile), so that a worker
// reads the file its master read even if ./gowsgi.yaml appears or disappears later. It is
// gowsgi's own business, not a setting for users.
const FileEnv = "GOWSGI_RESOLVED_CONFIG"

// FileTextEnv carries the content of that file, Go-quoted, as the master read it (for a Python
// file, what running it gave, as JSON): a worker started after the file was edited applies
// what its master applies, not the edit, until a HUP makes the master read the file again.
const FileTextEnv = "GOWSGI_RESOLVED_CONFIG_TEXT"

// maxPinnedText bounds the file content handed over in FileTextEnv, well below the kernel's
// limit on one environment string; a larger file is read again by each worker.
const maxPinnedText = 64 << 10

const noFile = "-"

// notInFile are flags that make no sense inside a config file.
var notInFile = map[string]bool{"config": true, "help": true, "version": true,
	"check-config": true, "print-config": true}

// gunicornNames maps gunicorn's setting names that differ from gowsgi's flags, so a setting
// copied from a gunicorn config works.
var gunicornNames = map[string]string{
	"keepalive": "keep-alive",
	"pidfile":   "pid",
	"proc-name": "name",
	"errorlog":  "error-logfile",
	// gunicorn's proxy_allow_ips is --proxy-allow-from on its command line.
	"proxy-allow-ips": "proxy-allow-from",
	"uwsgi-allow-ips": "uwsgi-allow-from",
	// gunicorn's names for the logging flags.
	"accesslog":              "access-logfile",
	"access-log-format":      "access-logformat",
	"loglevel":               "log-level",
	"logconfig":              "log-config",
	"logconfig-json":         "log-config-json",
	"syslog":                 "log-syslog",
	"syslog-addr":            "log-syslog-to",
	"syslog-prefix":          "log-syslog-prefix",
	"syslog-facility":        "log-syslog-facility",
	"raw-env":                "env",
	"raw-paste-global-conf":  "paste-global",
	"reload-extra-files":     "reload-extra-file",
	"preload-app":            "preload",
	"control-socket-disable": "no-control-socket",
	"dirty-apps":             "dirty-app",
}

// invertedNames are gunicorn settings that are the opposite of a gowsgi switch: sendfile =
// False is --no-sendfile.
var invertedNames = map[string]string{"sendfile": "no-sendfile"}

// commaLists are the flags whose value is a comma-separated list, which a config file may also
// give as a list.
var commaLists = map[string]bool{"forwarded-allow-ips": true, "proxy-allow-from": true,
	"uwsgi-allow-from": true, "forwarder-headers": true, "http-protocols": true, "pythonpath": true}

// fileSetting is one key of the config file, turned into the command-line arguments that mean
// the same, so that the flag set checks it exactly as it checks the command line.
type fileSetting struct {
	line int
	key  string
	args []string
}

// configFile is a parsed config file: its settings in order, and wsgi_app.
type configFile struct {
	// path is the absolute path read, "" for none; name is as the user wrote it. source is how
	// a worker finds a Python file again ("" for YAML): "file:PATH" or "python:MODULE".
	path     string
	name     string
	source   string
	settings []fileSetting
	// app is wsgi_app, when hasApp, given at appLine.
	app     AppSpec
	hasApp  bool
	appLine int
	// text is the file's content; for a Python file, what running it gave, as JSON.
	text string
	// schemeHeaders is secure_scheme_headers, nil when the file does not set it, given at
	// schemeHeadersLine.
	schemeHeaders     map[string]string
	schemeHeadersLine int
	// hooks are the hook functions a Python file defines, by gunicorn's name, with their line.
	hooks map[string]int
	// warnings are names a Python file sets that look like misspelt settings, and hooks that
	// are never called; notices, hooks that have no effect here.
	warnings []string
	notices  []string
	// environ are the variables a Python file put in the environment, KEY=VALUE.
	environ []string
}

// fileEntry is one top-level name of a config file with its value as a YAML node (a Python
// file's values arrive as JSON, which is YAML too).
type fileEntry struct {
	key   string
	line  int
	value *yaml.Node
}

func (c *configFile) errorAt(line int, format string, a ...any) error {
	return fmt.Errorf("%s: %s", c.at(line), fmt.Sprintf(format, a...))
}

// at names a line of the file, "gowsgi.yaml:3".
func (c *configFile) at(line int) string { return fmt.Sprintf("%s:%d", c.name, line) }

// Kind says what the file is, for --print-config.
func (c *configFile) kind() string {
	if c.source != "" {
		return "Python"
	}
	return "YAML"
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// loadFile reads the config file, or takes its content from pinnedText (FileTextEnv) when the
// master passed it, and turns each key into arguments, checking names and types here; values
// are checked when the arguments are parsed. A Python file is run (see readPython) with setup's
// directories on sys.path.
func loadFile(path, name, pinnedText string, setup PythonSetup, fs *pflag.FlagSet) (*configFile, error) {
	file := &configFile{path: path, name: name}
	if path == "" {
		return file, nil
	}
	var entries []fileEntry
	var err error
	if isPythonSource(path) {
		file.source = path
		entries, err = file.readPython(pinnedText, setup)
	} else {
		entries, err = file.readYAML(pinnedText)
	}
	if err != nil {
		return nil, err
	}
	flags := flagsByKey(fs)
	for _, entry := range entries {
		if err := file.add(entry, flags); err != nil {
			return nil, err
		}
	}
	return file, nil
}

func (c *configFile) readYAML(pinnedText string) ([]fileEntry, error) {
	text, err := readText(c.path, c.name, pinnedText)
	if err != nil {
		return nil, err
	}
	c.text = string(text)
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", c.name, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %s", c.name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return nil, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, c.errorAt(root.Line, "expected settings as \"name: value\" lines")
	}
	var entries []fileEntry
	for i := 0; i+1 < len(root.Content); i += 2 {
		entries = append(entries, fileEntry{key: root.Content[i].Value, line: root.Content[i].Line, value: root.Content[i+1]})
	}
	return entries, nil
}

// add takes one entry of the file: wsgi_app, secure_scheme_headers and Python hook functions
// are kept apart, every other setting becomes the arguments of its flag.
func (c *configFile) add(entry fileEntry, flags map[string]*pflag.Flag) error {
	key, value := entry.key, entry.value
	normal := normalizeKey(key)
	switch {
	case c.source != "" && value.Tag == "!!null", value.Kind == yaml.SequenceNode && len(value.Content) == 0:
		// gunicorn's None, or an empty list: the setting keeps its default.
		return nil
	case normal == "wsgi-app":
		if value.Kind != yaml.ScalarNode || value.Tag != "!!str" {
			return c.errorAt(entry.line, "setting %q must be a string like \"module:app\"", key)
		}
		app, err := ParseAppSpec(value.Value)
		if err != nil {
			return c.errorAt(entry.line, "%s: %v", key, err)
		}
		c.app, c.hasApp, c.appLine = app, true, entry.line
		return nil
	case isSchemeHeadersKey(key):
		return c.readSchemeHeaders(key, entry.line, value)
	}
	if inverted, found := invertedNames[normal]; found {
		if value.Kind != yaml.ScalarNode || value.Tag != "!!bool" {
			return c.errorAt(entry.line, "setting %q must be true or false", key)
		}
		on := strings.EqualFold(value.Value, "true")
		c.settings = append(c.settings, fileSetting{line: entry.line, key: key, args: []string{fmt.Sprintf("--%s=%t", inverted, !on)}})
		return nil
	}
	flag, err := lookupKey(key, flags)
	if err != nil {
		return c.errorAt(entry.line, "%v", err)
	}
	args, err := flagArgs(flag, value)
	if err != nil {
		return c.errorAt(entry.line, "setting %q %v", key, err)
	}
	c.settings = append(c.settings, fileSetting{line: entry.line, key: key, args: args})
	return nil
}

func normalizeKey(key string) string { return strings.ReplaceAll(key, "_", "-") }

func flagsByKey(fs *pflag.FlagSet) map[string]*pflag.Flag {
	flags := map[string]*pflag.Flag{}
	fs.VisitAll(func(f *pflag.Flag) {
		if !notInFile[f.Name] {
			flags[normalizeKey(f.Name)] = f
		}
	})
	return flags
}

func lookupKey(key string, flags map[string]*pflag.Flag) (*pflag.Flag, error) {
	normal := normalizeKey(key)
	if alias, found := gunicornNames[normal]; found {
		normal = alias
	}
	if flag, found := flags[normal]; found {
		return flag, nil
	}
	switch {
	case notInFile[normal]:
		return nil, fmt.Errorf("setting %q cannot be used in a config file", key)
	case isHookName(normal):
		return nil, fmt.Errorf("setting %q is a hook function: define it in a Python config file (gunicorn.conf.py) or in the module named by \"hooks\"", key)
	}
	if suggestion := nearestKey(normal, flags); suggestion != "" {
		if strings.Contains(key, "_") || !strings.Contains(key, "-") {
			suggestion = strings.ReplaceAll(suggestion, "-", "_")
		}
		return nil, fmt.Errorf("unknown setting %q (did you mean %q?)", key, suggestion)
	}
	return nil, fmt.Errorf("unknown setting %q", key)
}

// flagArgs turns one value into arguments for flag: true/false for a switch, a list for a
// repeatable flag (or one value), a list joined with commas for a comma-separated one, a JSON
// object for a mapping, a single value otherwise.
func flagArgs(flag *pflag.Flag, value *yaml.Node) ([]string, error) {
	option := "--" + flag.Name + "="
	switch {
	case flag.Value.Type() == "bool":
		// gunicorn's validate_bool also takes the texts "true" and "false", in any case.
		text := strings.ToLower(strings.TrimSpace(value.Value))
		if value.Kind != yaml.ScalarNode || value.Tag != "!!bool" && value.Tag != "!!str" || text != "true" && text != "false" {
			return nil, errors.New("must be true or false")
		}
		return []string{option + text}, nil
	case value.Kind == yaml.SequenceNode && (flag.Value.Type() == "stringArray" || commaLists[flag.Name]):
		var items []string
		for _, item := range value.Content {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				return nil, errors.New("must be a list of single values")
			}
			items = append(items, item.Value)
		}
		if commaLists[flag.Name] {
			return []string{option + strings.Join(items, ",")}, nil
		}
		args := make([]string, len(items))
		for i, item := range items {
			args[i] = option + item
		}
		return args, nil
	case value.Kind == yaml.MappingNode && flag.Value.Type() == "json":
		var object map[string]any
		if err := value.Decode(&object); err != nil {
			return nil, fmt.Errorf("must be a mapping: %v", err)
		}
		text, err := json.Marshal(object)
		if err != nil {
			return nil, fmt.Errorf("must be a mapping of names to values: %v", err)
		}
		return []string{option + string(text)}, nil
	case value.Kind != yaml.ScalarNode:
		return nil, errors.New("must be a single value, not a list or mapping")
	case value.Tag == "!!null":
		return nil, errors.New("has no value")
	}
	return []string{option + value.Value}, nil
}

// nearestKey is the valid key closest to a mistyped one, or "" when none is close enough to be
// a typo rather than a different word.
func nearestKey[V any](key string, valid map[string]V) string {
	best, bestDistance := "", len(key)/3+1
	for candidate := range valid {
		if d := editDistance(key, candidate); d < bestDistance || d == bestDistance && best != "" && candidate < best {
			best, bestDistance = candidate, d
		}
	}
	return best
}

func editDistance(a, b string) int {
	previous := make([]int, len(b)+1)
	for j := range previous {
		previous[j] = j
	}
	for i := 1; i <= len(a); i++ {
		current := make([]int, len(b)+1)
		current[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			current[j] = min(previous[j]+1, current[j-1]+1, previous[j-1]+cost)
		}
		previous = current
	}
	return previous[len(b)]
}

// readText returns the text the master passed, or else the file's content.
func readText(path, name, pinnedText string) ([]byte, error) {
	if pinnedText != "" {
		text, err := strconv.Unquote(pinnedText)
		if err != nil {
			return nil, fmt.Errorf("%s: not a quoted string", FileTextEnv)
		}
		return []byte(text), nil
	}
	text, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config file %s: %v", name, errors.Unwrap(err))
	}
	return text, nil
}

// WorkerEnv is the environment entries that make a worker resolve the settings this Config
// holds: the config file this process read, and its content as read.
func (c *Config) WorkerEnv() []string {
	if c.ConfigFile == "" {
		return []string{FileEnv + "=" + noFile}
	}
	env := []string{FileEnv + "=" + c.ConfigFile}
	if c.Python.Source != "" {
		env[0] = FileEnv + "=" + c.Python.Source
	}
	if len(c.ConfigText) <= maxPinnedText {
		env = append(env, FileTextEnv+"="+strconv.Quote(c.ConfigText))
	}
	return env
}
