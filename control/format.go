package control

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Format is the human reading of a command's answer, laid out as gunicornc lays it out, so that
// whatever reads gunicornc's output reads gowsgi's: tables for the show commands, the JSON
// indented for the others, OK for an empty answer. name is the command's Name, "" when the
// command line could not be parsed here.
func Format(name string, data json.RawMessage) string {
	formatter, known := formatters[name]
	if known {
		if text, err := formatter(data); err == nil {
			return text
		}
	}
	if text := string(bytes.TrimSpace(data)); text == "{}" || text == "" {
		return "OK"
	}
	return Indent(data)
}

// Indent is the JSON indented by two spaces, as -j prints it, keeping the server's key order.
func Indent(data json.RawMessage) string {
	var out bytes.Buffer
	if err := json.Indent(&out, data, "", "  "); err != nil {
		return string(data)
	}
	return out.String()
}

var formatters = map[string]func(json.RawMessage) (string, error){
	ShowAll:       formatAll,
	ShowWorkers:   formatWorkers,
	ShowDirty:     formatDirty,
	ShowStats:     formatStats,
	ShowListeners: formatListeners,
	ShowConfig:    formatConfig,
	Help:          formatHelp,
}

func formatWorkers(data json.RawMessage) (string, error) {
	var answer Workers
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", err
	}
	if len(answer.Workers) == 0 {
		return "No workers running", nil
	}
	lines := []string{workerHeader, strings.Repeat("-", 40)}
	for _, w := range answer.Workers {
		lines = append(lines, workerLine(w.PID, w.Age, w.Booted, w.LastHeartbeat))
	}
	return strings.Join(append(lines, "", fmt.Sprintf("Total: %d workers", answer.Count)), "\n"), nil
}

var workerHeader = fmt.Sprintf("%-10s %-6s %-8s %s", "PID", "AGE", "BOOTED", "LAST_BEAT")

func workerLine(pid, age int, booted bool, lastHeartbeat *float64) string {
	return fmt.Sprintf("%-10d %-6d %-8s %s", pid, age, yesNo(booted), heartbeatAgo(lastHeartbeat))
}

func heartbeatAgo(seconds *float64) string {
	if seconds == nil {
		return "n/a"
	}
	return pythonFloat(*seconds) + "s ago"
}

func formatAll(data json.RawMessage) (string, error) {
	var answer All
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", err
	}
	lines := []string{"ARBITER (master)", fmt.Sprintf("  PID: %d", answer.Arbiter.PID), "",
		fmt.Sprintf("WEB WORKERS (%d)", answer.WebWorkerCount)}
	if len(answer.WebWorkers) == 0 {
		lines = append(lines, "  (none)")
	} else {
		lines = append(lines, "  "+workerHeader, "  "+strings.Repeat("-", 38))
		for _, w := range answer.WebWorkers {
			lines = append(lines, "  "+workerLine(w.PID, w.Age, w.Booted, w.LastHeartbeat))
		}
	}
	lines = append(lines, "", "DIRTY ARBITER")
	if answer.DirtyArbiter == nil {
		return strings.Join(append(lines, "  (not running)"), "\n"), nil
	}
	// Only another server has one: its workers are listed with their apps' short names.
	lines = append(lines, fmt.Sprintf("  PID: %d", answer.DirtyArbiter.PID), "",
		fmt.Sprintf("DIRTY WORKERS (%d)", answer.DirtyWorkerCount))
	for _, w := range answer.DirtyWorkers {
		apps := make([]string, len(w.Apps))
		for i, app := range w.Apps {
			apps[i] = app[strings.LastIndexByte(app, ':')+1:]
		}
		lines = append(lines, fmt.Sprintf("  %-10d %-6d %s", w.PID, w.Age, strings.Join(apps, ", ")))
	}
	return strings.Join(lines, "\n"), nil
}

func formatDirty(data json.RawMessage) (string, error) {
	var answer struct {
		Enabled bool `json:"enabled"`
		PID     int  `json:"pid"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", err
	}
	if !answer.Enabled {
		return "Dirty arbiter not running", nil
	}
	// gowsgi has no dirty arbiter; another server's full answer is shown as it came.
	return fmt.Sprintf("Dirty arbiter PID: %d\n\n%s", answer.PID, Indent(data)), nil
}

func formatStats(data json.RawMessage) (string, error) {
	var answer Stats
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", err
	}
	uptime := "unknown"
	if answer.Uptime != nil && *answer.Uptime > 0 {
		seconds := int(*answer.Uptime)
		h, m, s := seconds/3600, seconds%3600/60, seconds%60
		switch {
		case h > 0:
			uptime = fmt.Sprintf("%dh %dm %ds", h, m, s)
		case m > 0:
			uptime = fmt.Sprintf("%dm %ds", m, s)
		default:
			uptime = fmt.Sprintf("%ds", s)
		}
	}
	lines := []string{
		"Uptime:           " + uptime,
		fmt.Sprintf("PID:              %d", answer.PID),
		fmt.Sprintf("Workers current:  %d", answer.WorkersCurrent),
		fmt.Sprintf("Workers target:   %d", answer.WorkersTarget),
		fmt.Sprintf("Workers spawned:  %d", answer.WorkersSpawned),
		fmt.Sprintf("Workers killed:   %d", answer.WorkersKilled),
		fmt.Sprintf("Reloads:          %d", answer.Reloads),
	}
	if answer.DirtyArbiterPID != nil && *answer.DirtyArbiterPID != 0 {
		lines = append(lines, fmt.Sprintf("Dirty arbiter:    %d", *answer.DirtyArbiterPID))
	}
	return strings.Join(lines, "\n"), nil
}

func formatListeners(data json.RawMessage) (string, error) {
	var answer Listeners
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", err
	}
	if len(answer.Listeners) == 0 {
		return "No listeners bound", nil
	}
	lines := []string{fmt.Sprintf("%-40s %-8s %s", "ADDRESS", "TYPE", "FD"), strings.Repeat("-", 55)}
	for _, l := range answer.Listeners {
		lines = append(lines, fmt.Sprintf("%-40s %-8s %d", l.Address, l.Type, l.FD))
	}
	return strings.Join(append(lines, "", fmt.Sprintf("Total: %d listeners", answer.Count)), "\n"), nil
}

func formatConfig(data json.RawMessage) (string, error) {
	var answer map[string]any
	if err := decodeNumbers(data, &answer); err != nil {
		return "", err
	}
	keys := make([]string, 0, len(answer))
	for key := range answer {
		keys = append(keys, key)
	}
	sort.Strings(keys)
	lines := make([]string, 0, len(keys))
	for _, key := range keys {
		value := answer[key]
		if list, isList := value.([]any); isList {
			items := make([]string, len(list))
			for i, item := range list {
				items[i] = pythonText(item)
			}
			lines = append(lines, key+": "+strings.Join(items, ", "))
			continue
		}
		lines = append(lines, key+": "+pythonText(value))
	}
	return strings.Join(lines, "\n"), nil
}

func formatHelp(data json.RawMessage) (string, error) {
	var answer HelpText
	if err := json.Unmarshal(data, &answer); err != nil {
		return "", err
	}
	names := make([]string, 0, len(answer.Commands))
	width := 0
	for name := range answer.Commands {
		names = append(names, name)
		width = max(width, len(name))
	}
	sort.Strings(names)
	lines := []string{"Available commands:", ""}
	for _, name := range names {
		lines = append(lines, fmt.Sprintf("  %-*s %s", width+2, name, answer.Commands[name]))
	}
	return strings.Join(lines, "\n"), nil
}

func decodeNumbers(data json.RawMessage, into any) error {
	decoder := json.NewDecoder(bytes.NewReader(data))
	decoder.UseNumber()
	return decoder.Decode(into)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// pythonText writes a JSON value as gunicornc's Python prints it, so that the two print
// settings alike: True, None, 2.0.
func pythonText(v any) string {
	switch v := v.(type) {
	case nil:
		return "None"
	case bool:
		if v {
			return "True"
		}
		return "False"
	case string:
		return v
	case json.Number:
		if _, err := v.Int64(); err == nil {
			return v.String()
		}
		if f, err := v.Float64(); err == nil {
			return pythonFloat(f)
		}
		return v.String()
	}
	text, _ := json.Marshal(v)
	return string(text)
}

// pythonFloat is f as Python's repr writes it for the values seen here: 0.5, 2.0.
func pythonFloat(f float64) string {
	text := strconv.FormatFloat(f, 'f', -1, 64)
	if !strings.ContainsAny(text, ".eEn") {
		text += ".0"
	}
	return text
}
