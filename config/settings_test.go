package config

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/spf13/pflag"
)

func mustResolve(t *testing.T, env map[string]string, args ...string) (*Config, Settings) {
	t.Helper()
	cfg, settings, err := Resolve(args, envOf(env))
	if err != nil {
		t.Fatalf("Resolve(%q): %v", args, err)
	}
	return cfg, settings
}

// lookup returns the setting with the given key.
func lookup(t *testing.T, settings Settings, key string) Setting {
	t.Helper()
	for _, s := range settings {
		if s.Key == key {
			return s
		}
	}
	t.Fatalf("no setting %q in %v", key, settings)
	return Setting{}
}

func TestSettingsSayWhereEachValueCameFrom(t *testing.T) {
	dir := inTempDirWith(t, "wsgi_app: site:app\nworkers: 3\nlog_file: file.log\nthreads: 2\nsecure_scheme_headers: {X-Scheme: https}\n")
	env := map[string]string{CmdArgsEnv: "--timeout 5 --threads 4", "PORT": "5000", "WEB_CONCURRENCY": "9"}
	_, settings := mustResolve(t, env, "-k", "gthread", "--error-logfile", "/var/log/cli.log", "-e", "A=b c")
	want := map[string]Setting{
		"wsgi_app":      {"wsgi_app", "site:app", "gowsgi.yaml:1"},
		"config":        {"config", filepath.Join(dir, DefaultFile) + " (YAML)", "default"},
		"workers":       {"workers", "3", "gowsgi.yaml:2"},
		"threads":       {"threads", "4", "GOWSGI_CMD_ARGS"},
		"timeout":       {"timeout", "5", "GOWSGI_CMD_ARGS"},
		"worker_class":  {"worker_class", "gthread", "command line"},
		"errorlog":      {"errorlog", "/var/log/cli.log", "command line"},
		"bind":          {"bind", "[0.0.0.0:5000]", "$PORT"},
		"keepalive":     {"keepalive", "2", "default"},
		"chdir":         {"chdir", dir, "default"},
		"sendfile":      {"sendfile", "true", "default"},
		"raw_env":       {"raw_env", `["A=b c"]`, "command line"},
		"reload_engine": {"reload_engine", "auto", "default"},

		"secure_scheme_headers": {"secure_scheme_headers", "{X-SCHEME: https}", "gowsgi.yaml:5"},
	}
	for key, setting := range want {
		if got := lookup(t, settings, key); got != setting {
			t.Errorf("%s: got %+v, want %+v", key, got, setting)
		}
	}
	_, settings = mustResolve(t, map[string]string{"WEB_CONCURRENCY": "9"}, "-c", "/dev/null", "-w", "2", "-b", "unix:s", "a:b")
	if got := lookup(t, settings, "config"); got.Value != "/dev/null (YAML)" || got.Source != "command line" {
		t.Errorf("config: %+v", got)
	}
	if got := lookup(t, settings, "bind"); got.Value != "[unix:"+filepath.Join(dir, "s")+"]" || got.Source != "command line" {
		t.Errorf("bind: %+v", got)
	}
	_, settings = mustResolve(t, map[string]string{"WEB_CONCURRENCY": "9"}, "-c", "/dev/null", "a:b")
	if got := lookup(t, settings, "workers"); got.Value != "9" || got.Source != "$WEB_CONCURRENCY" {
		t.Errorf("workers: %+v", got)
	}
	if got := lookup(t, settings, "wsgi_app"); got.Source != "command line" {
		t.Errorf("wsgi_app: %+v", got)
	}
	_, settings = mustResolve(t, map[string]string{"FORWARDED_ALLOW_IPS": "10.1.2.3/8, 192.0.2.1"}, "-c", "/dev/null", "a:b")
	if got := lookup(t, settings, "forwarded_allow_ips"); got.Value != `"10.0.0.0/8,192.0.2.1"` || got.Source != "$FORWARDED_ALLOW_IPS" {
		t.Errorf("forwarded_allow_ips: %+v", got)
	}
}

func TestAliasSetLaterInTheFileIsTheSource(t *testing.T) {
	inTempDirWith(t, "log_file: a.log\nthreads: 2\nerrorlog: /b.log\n")
	if _, settings := mustResolve(t, nil, "a:b"); lookup(t, settings, "errorlog") != (Setting{"errorlog", "/b.log", "gowsgi.yaml:3"}) {
		t.Errorf("errorlog: %+v", lookup(t, settings, "errorlog"))
	}
}

func TestEverySettingIsListedOnceAsKeyValueAndSource(t *testing.T) {
	t.Chdir(t.TempDir())
	_, settings := mustResolve(t, nil, "--name", "my site", "a:b")
	text := settings.String()
	lines := strings.Split(strings.TrimSuffix(text, "\n"), "\n")
	seen := map[string]bool{}
	for _, line := range lines {
		key, rest, found := strings.Cut(line, " = ")
		key = strings.TrimSpace(key)
		if !found || !strings.Contains(rest, "  # ") || seen[key] {
			t.Errorf("line %q is not a new \"key = value  # source\"", line)
		}
		seen[key] = true
	}
	var flags []string
	newOptions().flagSet().VisitAll(func(f *pflag.Flag) {
		if _, refused := refusedSettings[f.Name]; !notSettings[f.Name] && !refused {
			key := settingKey(f.Name)
			if inverted, is := invertedFlags[f.Name]; is {
				key = inverted
			}
			flags = append(flags, key)
		}
	})
	// Besides the flags: wsgi_app, and secure_scheme_headers, which only the file can set.
	for _, key := range append(flags, "wsgi_app", "secure_scheme_headers") {
		if !seen[key] {
			t.Errorf("%s is missing from:\n%s", key, text)
		}
	}
	if len(seen) != len(flags)+2 {
		t.Errorf("%d settings listed, want %d", len(seen), len(flags)+2)
	}
	if got := lookup(t, settings, "secure_scheme_headers"); got.Value != "{X-FORWARDED-PROTO: https, X-FORWARDED-PROTOCOL: ssl, X-FORWARDED-SSL: on}" || got.Source != "default" {
		t.Errorf("secure_scheme_headers: %+v", got)
	}
	// The comments line up, and a value with a blank is quoted so that it reads as one.
	if !strings.Contains(text, `name `) || !strings.Contains(text, `= "my site"`) {
		t.Errorf("name not quoted:\n%s", text)
	}
	column := strings.Index(lines[0], "  # ")
	for _, line := range lines {
		if strings.Index(line, "  # ") != column && len(strings.SplitN(line, " = ", 2)[1]) <= alignedValueWidth+len("  # ") {
			t.Errorf("comment of %q is not in column %d", line, column)
		}
	}
}

func TestChangesListTheValuesThatDiffer(t *testing.T) {
	old := Settings{{"workers", "2", "default"}, {"timeout", "30", "default"}, {"bind", "[a]", "default"}}
	next := Settings{{"workers", "4", "gowsgi.yaml:1"}, {"timeout", "30", "gowsgi.yaml:2"}, {"bind", "[a, b]", "default"}}
	want := []string{"workers = 4 (was 2)", "bind = [a, b] (was [a])"}
	if got := old.Changes(next); !reflect.DeepEqual(got, want) {
		t.Errorf("changes %q, want %q", got, want)
	}
}
