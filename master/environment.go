package master

import (
	"os"
	"strings"
)

// environment keeps the master's own environment in line with -e/--env: workers inherit it, and
// the master's hooks see it. It remembers what each variable held before -e set it, so that a
// reload whose settings no longer set a variable puts the original value back, or removes it.
type environment struct {
	// original holds, for each variable -e has set, its earlier value and whether it had one.
	original map[string]*string
}

// apply sets the pairs of next and restores the variables that only previous set.
func (e *environment) apply(previous, next []string) {
	if e.original == nil {
		e.original = map[string]*string{}
	}
	wanted := map[string]bool{}
	for _, pair := range next {
		key, value, _ := strings.Cut(pair, "=")
		if _, seen := e.original[key]; !seen {
			if earlier, had := os.LookupEnv(key); had {
				e.original[key] = &earlier
			} else {
				e.original[key] = nil
			}
		}
		os.Setenv(key, value)
		wanted[key] = true
	}
	for _, pair := range previous {
		key, _, _ := strings.Cut(pair, "=")
		earlier, tracked := e.original[key]
		if wanted[key] || !tracked {
			continue
		}
		if earlier != nil {
			os.Setenv(key, *earlier)
		} else {
			os.Unsetenv(key)
		}
		delete(e.original, key)
	}
}

// forWorker returns environ with the variables -e set as they were before: a worker (or a new
// master started by USR2) resolves its settings against the environment this master resolved
// them against (-e WEB_CONCURRENCY=4 must not change them), then sets -e's variables itself.
func (e *environment) forWorker(environ []string) []string {
	if len(e.original) == 0 {
		return environ
	}
	out := make([]string, 0, len(environ))
	for _, entry := range environ {
		key, _, _ := strings.Cut(entry, "=")
		earlier, set := e.original[key]
		switch {
		case !set:
			out = append(out, entry)
		case earlier != nil:
			out = append(out, key+"="+*earlier)
		}
	}
	return out
}

// snapshotEnvironment returns a getenv over the environment as it is now, before -e changes
// it, so that settings resolved again on HUP see what the first resolution saw.
func snapshotEnvironment() func(string) string {
	vars := map[string]string{}
	for _, entry := range os.Environ() {
		key, value, _ := strings.Cut(entry, "=")
		vars[key] = value
	}
	return func(key string) string { return vars[key] }
}
