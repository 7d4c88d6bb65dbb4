package config

import (
	"errors"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"
)

// DefaultFile is read when it exists in the current directory and no -c/--config is given.
const DefaultFile = "gowsgi.yaml"

// FileEnv carries the config file the master resolved to its workers (the absolute path, or
// noFile), so that a worker reads the file its master read even if ./gowsgi.yaml appears or
// disappears later. It is gowsgi's own business, not a setting for users.
const FileEnv = "GOWSGI_RESOLVED_CONFIG"

// FileTextEnv carries the content of that file, Go-quoted, as the master read it: a worker
// started after the file was edited applies what its master applies, not the edit, until a
// HUP makes the master read the file again.
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
	// gunicorn's names for the logging flags.
	"accesslog":          "access-logfile",
	"access-log-format":  "access-logformat",
	"loglevel":           "log-level",
	"raw-env":            "env",
	"reload-extra-files": "reload-extra-file",
}

// notYetSupported are gunicorn settings gowsgi does not have yet: a config file that uses one is
// refused with that reason rather than called a typo.
var notYetSupported = map[string]bool{}

func init() {
	for _, name := range strings.Fields(`preload-app preload
		logconfig logconfig-dict logconfig-json log-config-json
		syslog syslog-addr syslog-prefix syslog-facility enable-stdio-inheritance statsd-host
		statsd-prefix dogstatsd-tags control-socket
		worker-tmp-dir tmp-upload-dir paste spew strip-header-spaces permit-unconventional-http-method
		permit-unconventional-http-version casefold-http-method pre-fork post-fork pre-exec`) {
		notYetSupported[name] = true
	}
}

// fileSetting is one key of the config file, turned into the command-line arguments that mean
// the same, so that the flag set checks it exactly as it checks the command line.
type fileSetting struct {
	line int
	key  string
	args []string
}

// configFile is a parsed config file: its settings in order, and wsgi_app.
type configFile struct {
	// path is the absolute path read, "" for none; name is as the user wrote it.
	path     string
	name     string
	settings []fileSetting
	// app is wsgi_app, when hasApp, given at appLine.
	app     AppSpec
	hasApp  bool
	appLine int
	// text is the file's content.
	text string
	// schemeHeaders is secure_scheme_headers, nil when the file does not set it, given at
	// schemeHeadersLine.
	schemeHeaders     map[string]string
	schemeHeadersLine int
}

func (c *configFile) errorAt(line int, format string, a ...any) error {
	return fmt.Errorf("%s: %s", c.at(line), fmt.Sprintf(format, a...))
}

// at names a line of the file, "gowsgi.yaml:3".
func (c *configFile) at(line int) string { return fmt.Sprintf("%s:%d", c.name, line) }

// findFile says which config file to read: the one the master pinned for its workers, -c, or
// ./gowsgi.yaml when present. It returns "" for none, and the name as the user wrote it.
func findFile(given, pinned string) (path, name string, err error) {
	switch {
	case pinned == noFile:
		return "", "", nil
	case pinned != "":
		return pinned, pinned, nil
	case given == "":
		if info, err := os.Stat(DefaultFile); err != nil || info.IsDir() {
			return "", "", nil
		}
		given = DefaultFile
	}
	cwd, err := os.Getwd()
	if err != nil {
		return "", "", fmt.Errorf("cannot read the current directory: %v", err)
	}
	return absolute(cwd, given), given, nil
}

var yamlLine = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

// loadFile reads the config file, or takes its content from pinnedText (FileTextEnv) when the
// master passed it, and turns each key into arguments, checking names and types here; values
// are checked when the arguments are parsed.
func loadFile(path, name, pinnedText string, fs *pflag.FlagSet) (*configFile, error) {
	file := &configFile{path: path, name: name}
	if path == "" {
		return file, nil
	}
	text, err := readText(path, name, pinnedText)
	if err != nil {
		return nil, err
	}
	file.text = string(text)
	var doc yaml.Node
	if err := yaml.Unmarshal(text, &doc); err != nil {
		if m := yamlLine.FindStringSubmatch(err.Error()); m != nil {
			return nil, fmt.Errorf("%s:%s: %s", name, m[1], m[2])
		}
		return nil, fmt.Errorf("%s: %s", name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	if len(doc.Content) == 0 {
		return file, nil
	}
	root := doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, file.errorAt(root.Line, "expected settings as \"name: value\" lines")
	}
	flags := flagsByKey(fs)
	for i := 0; i+1 < len(root.Content); i += 2 {
		keyNode, value := root.Content[i], root.Content[i+1]
		key := keyNode.Value
		if key == "wsgi_app" || key == "wsgi-app" {
			if value.Kind != yaml.ScalarNode || value.Tag != "!!str" {
				return nil, file.errorAt(keyNode.Line, "setting %q must be a string like \"module:app\"", key)
			}
			if file.app, err = ParseAppSpec(value.Value); err != nil {
				return nil, file.errorAt(keyNode.Line, "%s: %v", key, err)
			}
			file.hasApp, file.appLine = true, keyNode.Line
			continue
		}
		if isSchemeHeadersKey(key) {
			if err := file.readSchemeHeaders(key, keyNode, value); err != nil {
				return nil, err
			}
			continue
		}
		flag, err := lookupKey(key, flags)
		if err != nil {
			return nil, file.errorAt(keyNode.Line, "%v", err)
		}
		args, err := flagArgs(flag, value)
		if err != nil {
			return nil, file.errorAt(keyNode.Line, "setting %q %v", key, err)
		}
		file.settings = append(file.settings, fileSetting{line: keyNode.Line, key: key, args: args})
	}
	return file, nil
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
	case notYetSupported[normal]:
		return nil, fmt.Errorf("setting %q is not supported by this version of gowsgi", key)
	case hookFunctions[normal]:
		return nil, fmt.Errorf("setting %q is a function in the Python module named by \"hooks\"", key)
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
// repeatable flag (or one value), a single value otherwise.
func flagArgs(flag *pflag.Flag, value *yaml.Node) ([]string, error) {
	option := "--" + flag.Name + "="
	switch {
	case flag.Value.Type() == "bool":
		if value.Kind != yaml.ScalarNode || value.Tag != "!!bool" {
			return nil, errors.New("must be true or false")
		}
		return []string{option + value.Value}, nil
	case value.Kind == yaml.SequenceNode && flag.Value.Type() == "stringArray":
		if len(value.Content) == 0 {
			return nil, errors.New("must not be an empty list")
		}
		var args []string
		for _, item := range value.Content {
			if item.Kind != yaml.ScalarNode || item.Tag == "!!null" {
				return nil, errors.New("must be a list of single values")
			}
			args = append(args, option+item.Value)
		}
		return args, nil
	case value.Kind != yaml.ScalarNode:
		return nil, errors.New("must be a single value, not a list or mapping")
	case value.Tag == "!!null":
		return nil, errors.New("has no value")
	}
	return []string{option + value.Value}, nil
}

// nearestKey is the valid key closest to a mistyped one, or "" when none is close enough to be
// a typo rather than a different word.
func nearestKey(key string, flags map[string]*pflag.Flag) string {
	best, bestDistance := "", len(key)/3+1
	for candidate := range flags {
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
	if len(c.ConfigText) <= maxPinnedText {
		env = append(env, FileTextEnv+"="+strconv.Quote(c.ConfigText))
	}
	return env
}
