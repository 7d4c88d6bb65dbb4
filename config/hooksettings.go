package config

import (
	"encoding/json"
	"strconv"
	"strings"
)

// HookSettings are the settings hooks read from worker.cfg and server.cfg, under gunicorn's
// names and with its types (None for a path not set).
func HookSettings(cfg *Config) map[string]any {
	orNone := func(s string) any {
		if s == "" {
			return nil
		}
		return s
	}
	settings := map[string]any{
		"wsgi_app":                 cfg.App.Raw,
		"bind":                     cfg.Binds,
		"workers":                  cfg.Workers,
		"worker_class":             cfg.WorkerClass,
		"threads":                  cfg.Threads,
		"worker_connections":       cfg.WorkerConnections,
		"timeout":                  cfg.Timeout,
		"graceful_timeout":         cfg.GracefulTimeout,
		"keepalive":                cfg.Keepalive,
		"max_requests":             cfg.MaxRequests,
		"max_requests_jitter":      cfg.MaxRequestsJitter,
		"limit_request_line":       cfg.LimitRequestLine,
		"limit_request_fields":     cfg.LimitRequestFields,
		"limit_request_field_size": cfg.LimitRequestFieldSize,
		"backlog":                  cfg.Backlog,
		"chdir":                    cfg.Chdir,
		"pythonpath":               orNone(strings.Join(cfg.PythonPath, ",")),
		"proc_name":                cfg.ProcessName(),
		"errorlog":                 cfg.ErrorLog,
		"accesslog":                orNone(cfg.AccessLog),
		"access_log_format":        cfg.AccessLogFormat,
		"loglevel":                 cfg.LogLevel.String(),
		"capture_output":           cfg.CaptureOutput,
		"pidfile":                  orNone(cfg.Pidfile),
		"daemon":                   cfg.Daemon,
		"raw_env":                  cfg.Env,
		"user":                     orNone(cfg.User),
		"group":                    orNone(cfg.Group),
		"umask":                    cfg.Umask,
		"control_socket_mode":      int(cfg.ControlSocket.Mode),
		"reuse_port":               cfg.ReusePort,
		"sendfile":                 cfg.Sendfile,
		"preload_app":              cfg.Preload,
		"reload":                   cfg.Reload,
		"spew":                     cfg.Spew,
		"paste":                    orNone(cfg.Paste),
		"protocol":                 cfg.Protocol,
		"root_path":                cfg.RootPath,
		"proxy_protocol":           cfg.Proxy.ProxyProtocol,
		"forwarded_allow_ips":      commaList(cfg.Proxy.ForwardedAllowIPs.String()),
		"proxy_allow_ips":          commaList(cfg.Proxy.ProxyAllowIPs.String()),
		"uwsgi_allow_ips":          commaList(cfg.Proxy.UwsgiAllowIPs.String()),
		"forwarder_headers":        cfg.Proxy.ForwarderHeaders,
		"secure_scheme_headers":    cfg.Proxy.SecureSchemeHeaders,
		"logconfig_dict":           logconfigDict(cfg.PythonLogging.Dict),
		"address":                  cfg.Binds,
		"is_ssl":                   cfg.TLS.Enabled(),
		"worker_class_str":         cfg.WorkerClass,
		"env":                      environment(cfg.Env),
		"certfile":                 orNone(cfg.TLS.CertFile),
		"keyfile":                  orNone(cfg.TLS.KeyFile),
		"hooks":                    cfg.Hooks,
		"config":                   cfg.ConfigFile,
	}
	for _, setting := range cfg.Settings {
		if _, typed := settings[setting.Key]; !typed && !strings.HasPrefix(setting.Value, "<") {
			settings[setting.Key] = settingValue(setting.Value)
		}
	}
	return settings
}

// commaList is a comma-separated setting as gunicorn holds it, a list.
func commaList(text string) []string {
	items := []string{}
	for _, item := range strings.Split(text, ",") {
		if item = strings.TrimSpace(item); item != "" {
			items = append(items, item)
		}
	}
	return items
}

func logconfigDict(text string) map[string]any {
	dict := map[string]any{}
	_ = json.Unmarshal([]byte(text), &dict)
	return dict
}

// environment is -e's pairs as gunicorn's cfg.env holds them.
func environment(pairs []string) map[string]string {
	env := map[string]string{}
	for _, pair := range pairs {
		key, value, _ := strings.Cut(pair, "=")
		env[key] = value
	}
	return env
}

// settingValue reads a value as --print-config shows it back into a Python value: a switch,
// a number, a quoted text, a list, or a text as it is; an empty text is None, as gunicorn's
// settings that are not set are.
func settingValue(text string) any {
	if b, err := strconv.ParseBool(text); err == nil {
		return b
	}
	if n, err := strconv.Atoi(text); err == nil {
		return n
	}
	if unquoted, err := strconv.Unquote(text); err == nil {
		if unquoted == "" {
			return nil
		}
		return unquoted
	}
	if inner, isList := strings.CutPrefix(text, "["); isList && strings.HasSuffix(inner, "]") {
		items := []any{}
		for _, item := range strings.Split(strings.TrimSuffix(inner, "]"), ", ") {
			if item != "" {
				items = append(items, settingValue(item))
			}
		}
		return items
	}
	return text
}
