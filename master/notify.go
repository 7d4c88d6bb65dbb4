package master

import (
	"net"
	"os"

	"gowsgi/errorlog"
)

// notifySystemd tells systemd the master's state (sd_notify: "READY=1", …) when it started
// gowsgi as a Type=notify service, which names the socket to tell in NOTIFY_SOCKET; as
// gunicorn does, the master is ready once it listens.
func notifySystemd(state string) {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return
	}
	if path[0] == '@' {
		path = "\x00" + path[1:] // an abstract socket
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err == nil {
		_, err = conn.Write([]byte(state))
		conn.Close()
	}
	if err != nil {
		errorlog.Warning("Can't notify systemd through %s: %v", os.Getenv("NOTIFY_SOCKET"), err)
	}
}
