package control

// The data of the answers, with gunicorn's keys in gunicorn's order: the master marshals them
// and the client reads them back to lay them out.

// WorkerInfo is one worker: its spawn number as age, whether it has loaded the app, whether
// it was aborted for a timeout, and how many seconds ago it last reported (null if unknown).
type WorkerInfo struct {
	PID           int      `json:"pid"`
	Age           int      `json:"age"`
	Booted        bool     `json:"booted"`
	Aborted       bool     `json:"aborted"`
	LastHeartbeat *float64 `json:"last_heartbeat"`
}

// Workers answers ShowWorkers, oldest worker first.
type Workers struct {
	Workers []WorkerInfo `json:"workers"`
	Count   int          `json:"count"`
}

// ProcessInfo names a supervising process in All.
type ProcessInfo struct {
	PID  int    `json:"pid"`
	Type string `json:"type"`
	Role string `json:"role"`
}

// WebWorker is a worker as All lists it.
type WebWorker struct {
	PID           int      `json:"pid"`
	Type          string   `json:"type"`
	Age           int      `json:"age"`
	Booted        bool     `json:"booted"`
	LastHeartbeat *float64 `json:"last_heartbeat"`
}

// DirtyWorker is a worker of gunicorn's dirty arbiter, which gowsgi does not have.
type DirtyWorker struct {
	PID  int      `json:"pid"`
	Age  int      `json:"age"`
	Apps []string `json:"apps"`
}

// All answers ShowAll: the master and its workers; the dirty arbiter is always null in gowsgi.
type All struct {
	Arbiter          ProcessInfo   `json:"arbiter"`
	WebWorkers       []WebWorker   `json:"web_workers"`
	WebWorkerCount   int           `json:"web_worker_count"`
	DirtyArbiter     *ProcessInfo  `json:"dirty_arbiter"`
	DirtyWorkers     []DirtyWorker `json:"dirty_workers"`
	DirtyWorkerCount int           `json:"dirty_worker_count"`
}

// Dirty answers ShowDirty as gunicorn does when it runs no dirty arbiter.
type Dirty struct {
	Enabled bool  `json:"enabled"`
	PID     *int  `json:"pid"`
	Workers []any `json:"workers"`
	Apps    []any `json:"apps"`
}

// Stats answers ShowStats: uptime in seconds, workers alive now and wanted, and counts since
// the master started.
type Stats struct {
	Uptime          *float64 `json:"uptime"`
	PID             int      `json:"pid"`
	WorkersCurrent  int      `json:"workers_current"`
	WorkersTarget   int      `json:"workers_target"`
	WorkersSpawned  int      `json:"workers_spawned"`
	WorkersKilled   int      `json:"workers_killed"`
	Reloads         int      `json:"reloads"`
	DirtyArbiterPID *int     `json:"dirty_arbiter_pid"`
}

// Config answers ShowConfig: the main settings in force, under gunicorn's names; a path
// that is not set is null.
type Config struct {
	Bind                 []string `json:"bind"`
	Workers              int      `json:"workers"`
	WorkerClass          string   `json:"worker_class"`
	Threads              int      `json:"threads"`
	Timeout              int      `json:"timeout"`
	GracefulTimeout      int      `json:"graceful_timeout"`
	Keepalive            int      `json:"keepalive"`
	MaxRequests          int      `json:"max_requests"`
	MaxRequestsJitter    int      `json:"max_requests_jitter"`
	WorkerConnections    int      `json:"worker_connections"`
	PreloadApp           bool     `json:"preload_app"`
	Daemon               bool     `json:"daemon"`
	Pidfile              *string  `json:"pidfile"`
	ProcName             *string  `json:"proc_name"`
	Reload               bool     `json:"reload"`
	ControlSocket        string   `json:"control_socket"`
	ControlSocketDisable bool     `json:"control_socket_disable"`
}

// ListenerInfo is one listening socket: its address as the "Listening at" line shows it, the
// master's descriptor for it, and tcp, tcp6 or unix.
type ListenerInfo struct {
	Address string `json:"address"`
	FD      int    `json:"fd"`
	Type    string `json:"type"`
}

// Listeners answers ShowListeners.
type Listeners struct {
	Listeners []ListenerInfo `json:"listeners"`
	Count     int            `json:"count"`
}

// HelpText answers Help: each command's syntax and what it does.
type HelpText struct {
	Commands map[string]string `json:"commands"`
}

// Status answers the commands that start something in the master: reload, reopen, shutdown.
type Status struct {
	Status string `json:"status"`
	Mode   string `json:"mode,omitempty"`
}

// Added answers WorkerAdd: how many workers were asked for, and the wanted number before and after.
type Added struct {
	Added    int `json:"added"`
	Previous int `json:"previous"`
	Total    int `json:"total"`
}

// Removed answers WorkerRemove; Removed is less than asked when one worker would be left.
type Removed struct {
	Removed  int `json:"removed"`
	Previous int `json:"previous"`
	Total    int `json:"total"`
}

// Outcome answers WorkerKill and the dirty commands: Killed on success, Error otherwise.
type Outcome struct {
	Success bool   `json:"success"`
	Killed  int    `json:"killed,omitempty"`
	Error   string `json:"error,omitempty"`
}
