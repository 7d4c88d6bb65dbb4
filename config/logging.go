package config

import (
	"os"

	"gowsgi/accesslog"
	"gowsgi/errorlog"
)

// resolveLogging checks the access log format and the log level, so that a mistake stops
// gowsgi at start-up rather than on every request, and makes the access log path absolute
// against the current directory, as the error log's is.
func resolveLogging(cfg *Config, o *options) error {
	if _, err := accesslog.ParseFormat(o.accessLogFormat); err != nil {
		return invalidValue("access-logformat", o.accessLogFormat, err.Error())
	}
	level, err := errorlog.ParseLevel(o.logLevel)
	if err != nil {
		return invalidValue("log-level", o.logLevel, err.Error())
	}
	cfg.AccessLogFormat, cfg.AccessLogJSON, cfg.LogLevel = o.accessLogFormat, o.accessLogJSON, level
	cfg.CaptureOutput = o.captureOutput
	cfg.AccessLog = o.accessLog
	if cfg.AccessLog != "" && cfg.AccessLog != "-" {
		cwd, err := os.Getwd()
		if err != nil {
			return err
		}
		cfg.AccessLog = absolute(cwd, cfg.AccessLog)
	}
	return nil
}
