package control

import (
	"strings"
	"testing"
)

func TestParseReadsEveryCommand(t *testing.T) {
	for line, want := range map[string]Command{
		"show workers":     {Name: ShowWorkers},
		"SHOW Stats":       {Name: ShowStats},
		"show all":         {Name: ShowAll},
		"show config":      {Name: ShowConfig},
		"show listeners":   {Name: ShowListeners},
		"show dirty":       {Name: ShowDirty},
		"worker add":       {Name: WorkerAdd, Count: 1},
		"worker add 3":     {Name: WorkerAdd, Count: 3},
		"worker add 0":     {Name: WorkerAdd, Count: 1},
		"worker remove -2": {Name: WorkerRemove, Count: 1},
		"worker remove 2":  {Name: WorkerRemove, Count: 2},
		"worker kill 123":  {Name: WorkerKill, PID: 123},
		"dirty add":        {Name: DirtyAdd, Count: 1},
		"reload":           {Name: Reload},
		"reopen":           {Name: Reopen},
		"help":             {Name: Help},
		"shutdown":         {Name: Shutdown, Mode: Graceful},
		"shutdown Quick":   {Name: Shutdown, Mode: Quick},
	} {
		got, err := Parse(strings.Fields(line))
		if err != nil || got != want {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", line, got, err, want)
		}
	}
}

func TestParseRefusesWhatItDoesNotKnow(t *testing.T) {
	for line, wantErr := range map[string]string{
		"":                   "empty command",
		"bogus":              `unknown command "bogus"`,
		"show":               "show what?",
		"show cats":          `unknown show target "cats"`,
		"worker":             "worker what?",
		"worker fire":        `unknown worker action "fire"`,
		"dirty kill 1":       `unknown dirty action "kill"`,
		"worker add two":     `"two" is not a number`,
		"worker kill":        "needs the pid",
		"worker remove 1 2":  `unexpected "2"`,
		"reload now":         `unexpected "now"`,
		"shutdown later":     `unknown shutdown mode "later"`,
		"shutdown quick now": `unexpected "now"`,
	} {
		if got, err := Parse(strings.Fields(line)); err == nil || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Parse(%q) = %+v, %v; want an error with %q", line, got, err, wantErr)
		}
	}
}
