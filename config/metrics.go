package config

import (
	"net"
	"regexp"
	"strconv"
	"strings"

	"github.com/spf13/pflag"
)

// Metrics is where the master reports what the workers serve.
type Metrics struct {
	// Bind is the HOST:PORT the master serves Prometheus' /metrics on, "" for none.
	Bind string
	// StatsdNetwork is "udp" or "unixgram" ("" for no statsd), StatsdAddress the HOST:PORT
	// or the socket path.
	StatsdNetwork string
	StatsdAddress string
	StatsdPrefix  string
	DogstatsdTags string
	// BacklogMetric sends gunicorn.backlog to statsd.
	BacklogMetric bool
}

// Enabled says whether anything reads the workers' counts.
func (m Metrics) Enabled() bool { return m.Bind != "" || m.StatsdNetwork != "" }

type metricsOptions struct {
	bind          string
	statsdHost    string
	statsdPrefix  string
	dogstatsdTags string
	backlogMetric bool
}

func (m *metricsOptions) declare(fs *pflag.FlagSet) {
	fs.StringVar(&m.bind, "metrics-bind", "", "serve Prometheus metrics at http://`HOST:PORT`/metrics from the master")
	fs.StringVar(&m.statsdHost, "statsd-host", "", "send statsd metrics to `ADDRESS`: HOST:PORT (UDP, port 8125 by default) or unix:PATH")
	fs.StringVar(&m.statsdPrefix, "statsd-prefix", "", "put `PREFIX` and a dot before every statsd metric name")
	fs.StringVar(&m.dogstatsdTags, "dogstatsd-tags", "", "add the DogStatsD `TAGS` (tag1:value1,tag2:value2) to every statsd metric")
	fs.BoolVar(&m.backlogMetric, "enable-backlog-metric", false, "send gunicorn.backlog, the connections waiting to be accepted, to statsd (Linux, TCP sockets)")
}

func (m *metricsOptions) resolve(chdir string) (Metrics, error) {
	out := Metrics{StatsdPrefix: m.statsdPrefix, DogstatsdTags: m.dogstatsdTags, BacklogMetric: m.backlogMetric}
	if m.bind != "" {
		host, port, err := net.SplitHostPort(m.bind)
		if err != nil || !validPort(port) {
			return out, invalidValue("metrics-bind", m.bind, "expected HOST:PORT, like 127.0.0.1:9100")
		}
		out.Bind = net.JoinHostPort(host, port)
	}
	if m.statsdHost != "" {
		var ok bool
		if out.StatsdNetwork, out.StatsdAddress, ok = statsdAddress(m.statsdHost); !ok {
			return out, invalidValue("statsd-host", m.statsdHost, "expected HOST:PORT or unix:PATH")
		}
		if out.StatsdNetwork == "unixgram" {
			out.StatsdAddress = absolute(chdir, out.StatsdAddress)
		}
	}
	return out, nil
}

// unixPort is gunicorn's reading of "unix:8125": a host named unix, for compatibility with its
// releases before 20.
var unixPort = regexp.MustCompile(`^unix:\d+$`)

// statsdAddress reads a statsd address as gunicorn does: unix:PATH or unix://PATH for a unix
// datagram socket, else [tcp://]HOST[:PORT] for UDP, the port 8125 by default.
func statsdAddress(value string) (network, address string, ok bool) {
	if unixPort.MatchString(value) {
		return "udp", value, true
	}
	if rest, isUnix := strings.CutPrefix(value, "unix:"); isUnix {
		path := strings.TrimPrefix(rest, "//")
		if path == "" {
			return "", "", false
		}
		return "unixgram", path, true
	}
	hostPort := strings.TrimPrefix(value, "tcp://")
	host, port := hostPort, "8125"
	switch {
	case strings.HasPrefix(hostPort, "["):
		end := strings.Index(hostPort, "]")
		if end < 0 {
			return "", "", false
		}
		host = hostPort[1:end]
		if rest := hostPort[end+1:]; rest != "" {
			port, _ = strings.CutPrefix(rest, ":")
		}
	case strings.Contains(hostPort, ":"):
		host, port, _ = strings.Cut(hostPort, ":")
	}
	if host == "" || !validPort(port) {
		return "", "", false
	}
	return "udp", net.JoinHostPort(strings.ToLower(host), port), true
}

func validPort(port string) bool {
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}
