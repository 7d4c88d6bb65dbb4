package master

import (
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/errorlog"
	"gowsgi/metrics"
)

// statsdStopWait bounds the wait for the last statsd datagrams when the master exits.
const statsdStopWait = time.Second

// reporters serve the board's counts: Prometheus' endpoint and the statsd sender, each on
// goroutines of its own, so that neither a slow scraper nor a slow statsd server can hold up
// the arbiter loop.
type reporters struct {
	listener   net.Listener
	stopStatsd chan struct{}
	statsdDone chan struct{}
}

// startMetrics sets up the board and its reporters as the settings ask. A --metrics-bind that
// cannot be listened on stops the master, as a --bind does; it returns false then.
func (a *arbiter) startMetrics() bool {
	m := a.cfg.Metrics
	if !m.Enabled() {
		return true
	}
	if a.balance == nil {
		errorlog.Warning("No metrics: the workers have no table to count in")
		return true
	}
	a.board = metrics.NewBoard(a.balance, m.StatsdNetwork != "")
	errorlog.CountLines(a.board.CountLine)
	if m.Bind != "" {
		l, err := net.Listen("tcp", m.Bind)
		if err != nil {
			errorlog.Error("Can't serve metrics at %s: %v", m.Bind, err)
			return false
		}
		a.reporters.listener = l
		a.board.Serve(l)
		errorlog.Info("Serving metrics at: http://%s/metrics", l.Addr())
	}
	if m.StatsdNetwork != "" {
		stop, done := make(chan struct{}), make(chan struct{})
		a.reporters.stopStatsd, a.reporters.statsdDone = stop, done
		options := metrics.Statsd{Network: m.StatsdNetwork, Address: m.StatsdAddress, Prefix: m.StatsdPrefix,
			Tags: m.DogstatsdTags, Backlog: m.BacklogMetric}
		go func() {
			defer close(done)
			a.board.SendStatsd(options, stop)
		}()
	}
	return true
}

// stopMetrics closes the metrics port and lets the statsd sender send the last counts, those
// of the workers just stopped included.
func (a *arbiter) stopMetrics() {
	if a.reporters.listener != nil {
		a.reporters.listener.Close()
	}
	if a.reporters.stopStatsd != nil {
		close(a.reporters.stopStatsd)
		select {
		case <-a.reporters.statsdDone:
		case <-time.After(statsdStopWait):
		}
	}
}

// observe updates the gauges the master alone knows, on every turn of the arbiter loop; the
// backlog only on health checks (measure is set), for it asks the kernel.
func (a *arbiter) observe(measure bool) {
	if a.board == nil {
		return
	}
	serving := 0
	for _, w := range a.workers {
		if !w.retiring {
			serving++
		}
	}
	a.board.SetWorkers(serving)
	if measure {
		a.board.SetBacklog(listenBacklog(a.listeners))
	}
}

// listenBacklog is how many connections wait in the TCP listening sockets' accept queues:
// Linux reports a listening socket's queue as its unacknowledged segments, which TCP_INFO
// reads without touching the queue. Unix sockets have no such count and are left out.
func listenBacklog(listeners []*os.File) int {
	total := 0
	for _, f := range listeners {
		raw, err := f.SyscallConn()
		if err != nil {
			continue
		}
		_ = raw.Control(func(fd uintptr) {
			if info, err := unix.GetsockoptTCPInfo(int(fd), unix.IPPROTO_TCP, unix.TCP_INFO); err == nil {
				total += int(info.Unacked)
			}
		})
	}
	return total
}

// retireRestart is why a worker asked to be replaced, from the reason it gave (see the
// worker's retirement).
func retireRestart(reason string) metrics.Restart {
	if strings.Contains(reason, "--max-worker-memory") {
		return metrics.RestartMemory
	}
	return metrics.RestartMaxRequests
}

// exitRestart is why a worker that exited on its own is replaced.
func exitRestart(code int) metrics.Restart {
	if code == ExitWorkerReload {
		return metrics.RestartReload
	}
	return metrics.RestartCrash
}
