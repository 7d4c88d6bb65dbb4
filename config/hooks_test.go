package config

import (
	"strings"
	"testing"
)

func TestHookSettingsFromFlagsAndFile(t *testing.T) {
	inTempDirWith(t, "hooks: site.hooks\non_reload: \"echo reloaded\"\nchild_exit: \"logger gone\"\n")
	cfg := mustParse(t, nil, "--when-ready", "touch ready", "--nworkers-changed", "true", "a:b")
	want := ShellHooks{WhenReady: "touch ready", OnReload: "echo reloaded", ChildExit: "logger gone", NworkersChanged: "true"}
	if cfg.Hooks != "site.hooks" || cfg.ShellHooks != want {
		t.Errorf("hooks %q, shell hooks %+v; want site.hooks, %+v", cfg.Hooks, cfg.ShellHooks, want)
	}
	cfg = mustParse(t, nil, "--on-starting", "a", "--on-exit", "b", "a:b")
	if cfg.ShellHooks.OnStarting != "a" || cfg.ShellHooks.OnExit != "b" {
		t.Errorf("on_starting/on_exit not read: %+v", cfg.ShellHooks)
	}
}

func TestHookErrors(t *testing.T) {
	for args, want := range map[string]string{
		"--hooks my-hooks": `invalid value "my-hooks" for --hooks: expected a Python module name`,
		"--hooks hooks.py": `invalid value "hooks.py" for --hooks: name the module, not its file: hooks`,
	} {
		if got := parseError(t, nil, append(strings.Fields(args), "a:b")...); !strings.HasPrefix(got, want) {
			t.Errorf("%s:\n got %s\nwant %s…", args, got, want)
		}
	}
	files := map[string]string{
		"post_request: log\n": `gowsgi.yaml:1: setting "post_request" is a hook function: define it in a Python config file (gunicorn.conf.py) or in the module named by "hooks"`,
		"\nhooks: 'a b'\n":    `gowsgi.yaml:2: invalid value "a b" for hooks: expected a Python module name`,
		"pre_fork: x\n":       `gowsgi.yaml:1: setting "pre_fork" is a hook function`,
	}
	for text, want := range files {
		inTempDirWith(t, text)
		if got := parseError(t, nil, "a:b"); !strings.HasPrefix(got, want) {
			t.Errorf("file %q:\n got %s\nwant %s…", text, got, want)
		}
	}
}
