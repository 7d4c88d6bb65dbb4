package config

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Where a value came from, besides a line of the config file ("gowsgi.yaml:3"), CmdArgsEnv and
// an environment variable that gives a default ("$PORT").
const (
	fromDefault     = "default"
	fromCommandLine = "command line"
)

// Setting is one resolved setting: its config file key, its value as text, and where the value
// came from.
type Setting struct{ Key, Value, Source string }

// Settings are every setting of a Config, in the order of gowsgi's options, wsgi_app first.
type Settings []Setting

// notSettings are flags that ask for something rather than set anything, and aliases, which
// are shown under the name they stand for (flagAliases).
var notSettings = map[string]bool{"help": true, "version": true, "check-config": true, "print-config": true,
	"log-file": true, "paster": true}

var flagAliases = map[string]string{"log-file": "error-logfile", "paster": "paste"}

// canonicalFlag is the flag that shows a value set through an alias.
func canonicalFlag(name string) string {
	if main, isAlias := flagAliases[name]; isAlias {
		return main
	}
	return name
}

// environmentDefaults are the settings whose default comes from an environment variable.
var environmentDefaults = map[string]string{"workers": "WEB_CONCURRENCY", "bind": "PORT", "virtualenv": "VIRTUAL_ENV",
	"forwarded-allow-ips": forwardedAllowEnv}

// resolvedValues show the settings whose value the Config holds in another form than the
// flag's text: defaults from the environment, absolute paths, capped limits, the worker class
// that --threads decides.
var resolvedValues = map[string]func(c *Config) any{
	"config":                   configDescription,
	"bind":                     func(c *Config) any { return c.Binds },
	"workers":                  func(c *Config) any { return c.Workers },
	"worker-class":             func(c *Config) any { return c.WorkerClass },
	"chdir":                    func(c *Config) any { return c.Chdir },
	"pythonpath":               func(c *Config) any { return strings.Join(c.PythonPath, ",") },
	"virtualenv":               func(c *Config) any { return c.Virtualenv },
	"limit-request-line":       func(c *Config) any { return c.LimitRequestLine },
	"limit-request-fields":     func(c *Config) any { return c.LimitRequestFields },
	"limit-request-field_size": func(c *Config) any { return c.LimitRequestFieldSize },
	"error-logfile":            func(c *Config) any { return c.ErrorLog },
	"pid":                      func(c *Config) any { return c.Pidfile },
	"control-socket":           func(c *Config) any { return c.ControlSocket.Path },
	"reload-extra-file":        func(c *Config) any { return c.ReloadExtraFiles },
	"forwarded-allow-ips":      func(c *Config) any { return c.Proxy.ForwardedAllowIPs.String() },
	"proxy-allow-from":         func(c *Config) any { return c.Proxy.ProxyAllowIPs.String() },
}

// configDescription is the config file read and what kind of file it was.
func configDescription(c *Config) any {
	switch {
	case c.ConfigFile == "":
		return ""
	case c.Python.Source != "":
		return plainText(quoteIfNeeded(c.ConfigFile) + " (Python)")
	}
	return plainText(quoteIfNeeded(c.ConfigFile) + " (YAML)")
}

// plainText is a value shown as it is, never quoted: numbers, true and false.
type plainText string

// describe lists every setting of cfg with its source: origins maps a flag to the source that
// set it last, and appSource tells where wsgi_app came from.
func describe(cfg *Config, fs *pflag.FlagSet, origins map[string]string, appSource string, getenv func(string) string) Settings {
	settings := Settings{{Key: "wsgi_app", Value: formatValue(cfg.App.Raw), Source: appSource}}
	fs.VisitAll(func(f *pflag.Flag) {
		if _, refused := refusedSettings[f.Name]; notSettings[f.Name] || refused {
			return
		}
		var value any
		switch resolved, found := resolvedValues[f.Name]; {
		case found:
			value = resolved(cfg)
		case f.Value.Type() == "string":
			value = f.Value.String()
		case f.Value.Type() == "stringArray":
			value, _ = fs.GetStringArray(f.Name)
		default:
			value = plainText(f.Value.String())
		}
		key := settingKey(f.Name)
		if inverted, is := invertedFlags[f.Name]; is {
			key, value = inverted, plainText(strconv.FormatBool(f.Value.String() != "true"))
		}
		source, set := origins[f.Name]
		if !set {
			source = fromDefault
			if variable := environmentDefaults[f.Name]; variable != "" && getenv(variable) != "" {
				source = "$" + variable
			}
		}
		settings = append(settings, Setting{Key: key, Value: formatValue(value), Source: source})
	})
	return settings
}

// settingKey is the name gunicorn gives the setting of a flag, as its config files and
// --print-config write it: keepalive for --keep-alive, raw_env for -e.
func settingKey(flag string) string {
	for gunicornName, target := range gunicornNames {
		if target == flag {
			return strings.ReplaceAll(gunicornName, "-", "_")
		}
	}
	return strings.ReplaceAll(flag, "-", "_")
}

// invertedFlags are the flags shown as the gunicorn setting they invert: --no-sendfile as
// sendfile.
var invertedFlags = map[string]string{"no-sendfile": "sendfile"}

// fileOrigins adds to origins the flags whose value still comes from the file; when two keys of
// the file set one flag (an alias), the later line is the one in force.
func fileOrigins(origins map[string]string, fromFile map[string]fileSetting, file *configFile) {
	lines := map[string]int{}
	for flag, setting := range fromFile {
		name := canonicalFlag(flag)
		line, byFile := lines[name]
		if _, set := origins[name]; set && !byFile || byFile && line > setting.line {
			continue
		}
		origins[name], lines[name] = file.at(setting.line), setting.line
	}
}

// appOrigin tells where the app spec came from, the way chooseApp picks it.
func appOrigin(cliApp []string, envAppSource string, file *configFile) string {
	switch {
	case len(cliApp) > 0:
		return fromCommandLine
	case envAppSource != "":
		return envAppSource
	case !file.hasApp:
		return fromDefault
	}
	return file.at(file.appLine)
}

func formatValue(value any) string {
	switch v := value.(type) {
	case plainText:
		return string(v)
	case string:
		return quoteIfNeeded(v)
	case []string:
		items := make([]string, len(v))
		for i, item := range v {
			items[i] = quoteIfNeeded(item)
		}
		return "[" + strings.Join(items, ", ") + "]"
	}
	return fmt.Sprint(value)
}

// quoteIfNeeded quotes a text that would otherwise read as something else: empty, with blanks,
// or holding the characters that delimit lists and comments.
func quoteIfNeeded(s string) string {
	if s == "" || strings.ContainsAny(s, " \t\r\n\"'#,[]") {
		return strconv.Quote(s)
	}
	return s
}

// alignedValueWidth is the widest value that the source comments are aligned after; longer
// values push their own comment right.
const alignedValueWidth = 32

// String is the --print-config text: one "key = value  # source" line per setting, aligned.
func (s Settings) String() string {
	keyWidth, valueWidth := 0, 0
	for _, setting := range s {
		keyWidth = max(keyWidth, len(setting.Key))
		if len(setting.Value) <= alignedValueWidth {
			valueWidth = max(valueWidth, len(setting.Value))
		}
	}
	var b strings.Builder
	for _, setting := range s {
		fmt.Fprintf(&b, "%-*s = %-*s  # %s\n", keyWidth, setting.Key, valueWidth, setting.Value, setting.Source)
	}
	return b.String()
}

// Changes lists the settings whose value differs in next, for the log of a reload:
// "workers = 4 (was 2)".
func (s Settings) Changes(next Settings) []string {
	was := map[string]string{}
	for _, setting := range s {
		was[setting.Key] = setting.Value
	}
	var changes []string
	for _, setting := range next {
		if old, found := was[setting.Key]; !found || old != setting.Value {
			changes = append(changes, fmt.Sprintf("%s = %s (was %s)", setting.Key, setting.Value, old))
		}
	}
	return changes
}
