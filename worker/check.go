package worker

import (
	"os"
	"strings"

	"gowsgi/config"
	"gowsgi/errorlog"
	"gowsgi/wsgi"
)

// CheckApp is the worker side of --check-config: it loads the app as a worker would, with no
// socket, and returns 0 when it loads, or the exit code that says why not after logging the
// reason and traceback to standard error, where the person who asked for the check sees them.
func CheckApp(cfg *config.Config) int {
	check := *cfg
	// A worker under --reload would serve a load failure instead of reporting it.
	check.Reload = false
	if _, code := loadApp(&check); code != 0 {
		return code
	}
	wsgi.AtExit()
	return 0
}

// setEnvironment applies -e/--env before Python starts, so that the app sees the variables in
// os.environ. The master has them in its own environment, but starts workers without them, so
// that workers resolve their settings as it did.
func setEnvironment(pairs []string) {
	for _, pair := range pairs {
		key, value, _ := strings.Cut(pair, "=")
		if err := os.Setenv(key, value); err != nil {
			errorlog.Warning("Can't set %s in the environment: %v", key, err)
		}
	}
}
