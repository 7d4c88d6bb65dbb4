package config

import (
	"slices"
	"strings"
)

// reloadEngines are the ways --reload can watch files, with gunicorn's names: auto takes
// inotify when the kernel offers it and polls otherwise.
var reloadEngines = []string{"auto", "inotify", "poll"}

// resolveOperations takes the settings that say how gowsgi is run rather than how it serves:
// --check-config, --print-config, -e and --reload. Extra files to watch are made absolute
// against the app's directory, where gunicorn resolves them.
func resolveOperations(cfg *Config, o *options, file *configFile) error {
	cfg.ConfigText = file.text
	cfg.CheckConfig, cfg.PrintConfig = o.checkConfig, o.printConfig
	for _, pair := range o.env {
		if key, _, found := strings.Cut(pair, "="); !found || key == "" {
			return invalidValue("env", pair, "expected KEY=VALUE")
		}
	}
	// raw_env after what the file itself set, so that raw_env wins.
	cfg.Env = append(slices.Clone(file.environ), o.env...)
	cfg.Reload = o.reload
	if !slices.Contains(reloadEngines, o.reloadEngine) {
		return invalidValue("reload-engine", o.reloadEngine, "choose "+strings.Join(reloadEngines, ", "))
	}
	cfg.ReloadEngine = o.reloadEngine
	for _, path := range o.reloadExtra {
		cfg.ReloadExtraFiles = append(cfg.ReloadExtraFiles, absolute(cfg.Chdir, path))
	}
	return nil
}
