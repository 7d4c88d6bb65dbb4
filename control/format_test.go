package control

import (
	"strings"
	"testing"
)

func TestFormatLaysOutTheShowCommandsAsGunicornc(t *testing.T) {
	for _, c := range []struct{ name, data, want string }{
		{ShowWorkers, `{"workers": [{"pid": 12, "age": 1, "booted": true, "aborted": false, "last_heartbeat": 1},
			{"pid": 345, "age": 2, "booted": false, "aborted": false, "last_heartbeat": null}], "count": 2}`,
			"PID        AGE    BOOTED   LAST_BEAT\n" + strings.Repeat("-", 40) + "\n" +
				"12         1      yes      1.0s ago\n" +
				"345        2      no       n/a\n\nTotal: 2 workers"},
		{ShowWorkers, `{"workers": [], "count": 0}`, "No workers running"},
		{ShowStats, `{"uptime": 3725.5, "pid": 9, "workers_current": 3, "workers_target": 2,
			"workers_spawned": 4, "workers_killed": 1, "reloads": 2, "dirty_arbiter_pid": null}`,
			"Uptime:           1h 2m 5s\nPID:              9\nWorkers current:  3\nWorkers target:   2\n" +
				"Workers spawned:  4\nWorkers killed:   1\nReloads:          2"},
		{ShowListeners, `{"listeners": [{"address": "http://127.0.0.1:8000", "fd": 5, "type": "tcp"}], "count": 1}`,
			"ADDRESS                                  TYPE     FD\n" + strings.Repeat("-", 55) + "\n" +
				"http://127.0.0.1:8000                    tcp      5\n\nTotal: 1 listeners"},
		{ShowConfig, `{"workers": 2, "bind": ["a", "b"], "pidfile": null, "daemon": false, "timeout": 2.5}`,
			"bind: a, b\ndaemon: False\npidfile: None\ntimeout: 2.5\nworkers: 2"},
		{Help, `{"commands": {"reload": "Reload", "show workers": "List"}}`,
			"Available commands:\n\n  reload         Reload\n  show workers   List"},
		{ShowAll, `{"arbiter": {"pid": 1, "type": "arbiter", "role": "master"}, "web_workers": [], "web_worker_count": 0,
			"dirty_arbiter": null, "dirty_workers": [], "dirty_worker_count": 0}`,
			"ARBITER (master)\n  PID: 1\n\nWEB WORKERS (0)\n  (none)\n\nDIRTY ARBITER\n  (not running)"},
		{ShowDirty, `{"enabled": false, "pid": null, "workers": [], "apps": []}`, "Dirty arbiter not running"},
		{WorkerAdd, `{"added": 1, "previous": 2, "total": 3}`, "{\n  \"added\": 1,\n  \"previous\": 2,\n  \"total\": 3\n}"},
		{Reopen, `{}`, "OK"},
		{"", `{"x": [1]}`, "{\n  \"x\": [\n    1\n  ]\n}"},
	} {
		if got := Format(c.name, []byte(c.data)); got != c.want {
			t.Errorf("Format(%q, %s):\n%s\nwant:\n%s", c.name, c.data, got, c.want)
		}
	}
}

func TestFormatFallsBackToJSONForAnAnswerOfAnotherShape(t *testing.T) {
	if got := Format(ShowWorkers, []byte(`{"workers": "many"}`)); got != "{\n  \"workers\": \"many\"\n}" {
		t.Fatalf("got %q", got)
	}
}
