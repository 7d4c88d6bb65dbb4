package config

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestStatsdAddressIsReadAsGunicornReadsIt(t *testing.T) {
	for _, c := range []struct{ value, network, address string }{
		{"localhost:8125", "udp", "localhost:8125"},
		{"StatsD.Example:9125", "udp", "statsd.example:9125"},
		{"statsd", "udp", "statsd:8125"},
		{"tcp://10.0.0.1:9000", "udp", "10.0.0.1:9000"},
		{"[::1]:9125", "udp", "[::1]:9125"},
		{"[::1]", "udp", "[::1]:8125"},
		{"unix:8125", "udp", "unix:8125"},
		{"unix:/run/statsd.sock", "unixgram", "/run/statsd.sock"},
		{"unix:///run/statsd.sock", "unixgram", "/run/statsd.sock"},
	} {
		network, address, ok := statsdAddress(c.value)
		if !ok || network != c.network || address != c.address {
			t.Errorf("%q: %q %q %v, want %q %q", c.value, network, address, ok, c.network, c.address)
		}
	}
	for _, bad := range []string{"host:port", "host:", ":8125", "unix:", "[::1", "fd://3", "h:99999"} {
		if _, _, ok := statsdAddress(bad); ok {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestMetricsSettings(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	cfg := mustParse(t, nil, "--metrics-bind", "127.0.0.1:9100", "--statsd-host", "unix:run/statsd.sock",
		"--statsd-prefix", "app", "--dogstatsd-tags", "env:prod", "--enable-backlog-metric", "a:b")
	want := Metrics{Bind: "127.0.0.1:9100", StatsdNetwork: "unixgram", StatsdAddress: filepath.Join(dir, "run/statsd.sock"),
		StatsdPrefix: "app", DogstatsdTags: "env:prod", BacklogMetric: true}
	if cfg.Metrics != want || !cfg.Metrics.Enabled() {
		t.Errorf("%+v, want %+v", cfg.Metrics, want)
	}
	if len(cfg.Notices) > 0 {
		t.Errorf("notices %q: the metrics settings have an effect", cfg.Notices)
	}
	if cfg := mustParse(t, nil, "a:b"); cfg.Metrics.Enabled() {
		t.Errorf("metrics enabled by default: %+v", cfg.Metrics)
	}
	for _, args := range [][]string{{"--metrics-bind", "9100"}, {"--metrics-bind", "localhost:http"}, {"--statsd-host", "a:b:c"}} {
		if msg := parseError(t, nil, append(args, "a:b")...); !strings.Contains(msg, "expected") {
			t.Errorf("%q: %s", args, msg)
		}
	}
}

func TestMetricsBindInTheConfigFile(t *testing.T) {
	inTempDirWith(t, "metrics_bind: \"127.0.0.1:9100\"\nstatsd_host: \"localhost:8125\"\n")
	cfg := mustParse(t, nil, "a:b")
	if cfg.Metrics.Bind != "127.0.0.1:9100" || cfg.Metrics.StatsdAddress != "localhost:8125" {
		t.Errorf("%+v", cfg.Metrics)
	}
}
