package control

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// The commands, named by their words without arguments.
const (
	ShowAll       = "show all"
	ShowWorkers   = "show workers"
	ShowDirty     = "show dirty"
	ShowConfig    = "show config"
	ShowStats     = "show stats"
	ShowListeners = "show listeners"
	WorkerAdd     = "worker add"
	WorkerRemove  = "worker remove"
	WorkerKill    = "worker kill"
	DirtyAdd      = "dirty add"
	DirtyRemove   = "dirty remove"
	Reload        = "reload"
	Reopen        = "reopen"
	Shutdown      = "shutdown"
	Help          = "help"
)

// Shutdown modes: graceful lets requests in flight finish (TERM), quick does not (INT).
const (
	Graceful = "graceful"
	Quick    = "quick"
)

// Commands is what `help` lists. The dirty commands are understood, for gunicorn's scripts,
// but not listed: gowsgi runs no dirty arbiter, and they answer so.
var Commands = map[string]string{
	ShowAll:                        "List the master and its workers",
	ShowWorkers:                    "List the workers: pid, age, booted, seconds since their last heartbeat",
	ShowConfig:                     "Show the main settings in force",
	ShowStats:                      "Show uptime and counts of workers started, stopped and reloads",
	ShowListeners:                  "List the listening sockets",
	WorkerAdd + " [N]":             "Run N more workers (default 1)",
	WorkerRemove + " [N]":          "Run N fewer workers, never fewer than one (default 1)",
	WorkerKill + " PID":            "Stop one worker gracefully; another replaces it",
	Reload:                         "Reload the settings and replace the workers gracefully, as HUP does",
	Reopen:                         "Reopen the log files, as USR1 does",
	Shutdown + " [graceful|quick]": "Stop the server: graceful as TERM does (default), quick as INT does",
	Help:                           "List the commands",
}

// Command is a parsed command line.
type Command struct {
	// Name is one of the command constants, ShowWorkers and so on.
	Name string
	// Count is how many workers WorkerAdd, WorkerRemove, DirtyAdd and DirtyRemove ask for,
	// at least 1 (a smaller number counts as 1, as in gunicorn).
	Count int
	// PID is the worker WorkerKill names.
	PID int
	// Mode is Shutdown's, Graceful or Quick.
	Mode string
}

// Parse reads a command from its words. Command words are not case-sensitive.
func Parse(words []string) (Command, error) {
	if len(words) == 0 {
		return Command{}, errors.New("empty command")
	}
	verb, rest := strings.ToLower(words[0]), words[1:]
	switch verb {
	case "show":
		return parseShow(rest)
	case "worker", "dirty":
		return parseWorkers(verb, rest)
	case Reload, Reopen, Help:
		return Command{Name: verb}, noMore(verb, rest)
	case Shutdown:
		return parseShutdown(rest)
	}
	return Command{}, fmt.Errorf("unknown command %q; help lists the commands", words[0])
}

func parseShow(args []string) (Command, error) {
	if len(args) == 0 {
		return Command{}, errors.New("show what? all, workers, config, stats or listeners")
	}
	name := "show " + strings.ToLower(args[0])
	switch name {
	case ShowAll, ShowWorkers, ShowDirty, ShowConfig, ShowStats, ShowListeners:
		return Command{Name: name}, noMore(name, args[1:])
	}
	return Command{}, fmt.Errorf("unknown show target %q: choose all, workers, config, stats or listeners", args[0])
}

var actionChoices = map[string]string{"worker": "add, remove or kill", "dirty": "add or remove"}

func parseWorkers(verb string, args []string) (Command, error) {
	if len(args) == 0 {
		return Command{}, fmt.Errorf("%s what? %s", verb, actionChoices[verb])
	}
	action := args[0]
	name := verb + " " + strings.ToLower(action)
	args = args[1:]
	switch name {
	case WorkerAdd, WorkerRemove, DirtyAdd, DirtyRemove:
		count := 1
		if len(args) > 0 {
			n, err := number(args[0])
			if err != nil {
				return Command{}, err
			}
			count = max(n, 1)
			args = args[1:]
		}
		return Command{Name: name, Count: count}, noMore(name, args)
	case WorkerKill:
		if len(args) == 0 {
			return Command{}, errors.New("worker kill needs the pid of the worker")
		}
		pid, err := number(args[0])
		if err != nil {
			return Command{}, err
		}
		return Command{Name: name, PID: pid}, noMore(name, args[1:])
	}
	return Command{}, fmt.Errorf("unknown %s action %q: choose %s", verb, action, actionChoices[verb])
}

func parseShutdown(args []string) (Command, error) {
	mode := Graceful
	if len(args) > 0 {
		mode = strings.ToLower(args[0])
	}
	if mode != Graceful && mode != Quick {
		return Command{}, fmt.Errorf("unknown shutdown mode %q: choose graceful or quick", args[0])
	}
	return Command{Name: Shutdown, Mode: mode}, noMore(Shutdown, args[min(len(args), 1):])
}

func number(word string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(word))
	if err != nil {
		return 0, fmt.Errorf("%q is not a number", word)
	}
	return n, nil
}

// noMore refuses words left over, which are more likely a mistake than something to ignore.
func noMore(name string, extra []string) error {
	if len(extra) > 0 {
		return fmt.Errorf("%s: unexpected %q", name, strings.Join(extra, " "))
	}
	return nil
}
