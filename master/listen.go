package master

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"

	"gowsgi/errorlog"
)

// defaultPort is gunicorn's port for a bind that names only a host.
const defaultPort = "8000"

// parseBind reads a --bind value the way gunicorn does and returns the network and address to
// listen on. An IPv6 host gets tcp6 and everything else tcp4, so that a bind means one address
// family, as with gunicorn's sockets: ":8000" or "" is 0.0.0.0:8000, not a dual-stack socket.
func parseBind(bind string) (network, address string, err error) {
	if strings.HasPrefix(bind, "unix:") || strings.HasPrefix(bind, "fd://") {
		return "", "", errors.New("unix sockets and inherited descriptors are not available in this version")
	}
	netloc := strings.TrimPrefix(bind, "tcp://")
	host, port := netloc, defaultPort
	switch {
	case strings.HasPrefix(netloc, "["):
		end := strings.Index(netloc, "]")
		if end < 0 {
			return "", "", errors.New("missing \"]\" after the IPv6 address")
		}
		host = netloc[1:end]
		if rest := netloc[end+1:]; rest != "" {
			if !strings.HasPrefix(rest, ":") {
				return "", "", errors.New("expected \":PORT\" after \"]\"")
			}
			port = rest[1:]
		}
	case strings.Count(netloc, ":") > 1:
		return "", "", errors.New("put an IPv6 address in brackets, as in [::1]:8000")
	case strings.Contains(netloc, ":"):
		host, port, _ = strings.Cut(netloc, ":")
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return "", "", fmt.Errorf("%q is not a valid port number", port)
	}
	host = strings.ToLower(host)
	if host == "" {
		host = "0.0.0.0"
	}
	network = "tcp4"
	if ip := net.ParseIP(host); ip != nil && ip.To4() == nil {
		network = "tcp6"
	}
	return network, net.JoinHostPort(host, port), nil
}

// listenAll opens every bind once, for all workers to share, and logs where it listens or why
// it cannot. The files it returns are what the workers inherit; the master never accepts on them.
func listenAll(binds []string) ([]*os.File, bool) {
	var files []*os.File
	for _, bind := range binds {
		network, address, err := parseBind(bind)
		if err != nil {
			errorlog.Error("Invalid bind %q: %v", bind, err)
			closeAll(files)
			return nil, false
		}
		file, url, err := listen(network, address)
		if err != nil {
			errorlog.Error("Can't listen at %s: %v", address, err)
			closeAll(files)
			return nil, false
		}
		errorlog.Info("Listening at: %s (%d)", url, os.Getpid())
		files = append(files, file)
	}
	return files, true
}

func listen(network, address string) (*os.File, string, error) {
	listener, err := net.Listen(network, address)
	if err != nil {
		return nil, "", unwrapOpError(err)
	}
	defer listener.Close()
	file, err := listener.(*net.TCPListener).File()
	if err != nil {
		return nil, "", err
	}
	return file, "http://" + listener.Addr().String(), nil
}

// unwrapOpError drops the "listen tcp4 1.2.3.4:80: bind:" prefixes of net's errors, which would
// repeat the address the message already names, leaving "address already in use" and the like.
func unwrapOpError(err error) error {
	var syscallErr *os.SyscallError
	if errors.As(err, &syscallErr) {
		return syscallErr.Err
	}
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}
