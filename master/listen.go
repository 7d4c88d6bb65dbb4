package master

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"gowsgi/errorlog"
)

// defaultPort is gunicorn's port for a bind that names only a host.
const defaultPort = "8000"

// defaultBacklog is gunicorn's listen backlog, for callers that leave it unset.
const defaultBacklog = 2048

// Networks parseBind returns besides net's "tcp4" and "tcp6".
const (
	networkUnix = "unix"
	// networkFD is a listening socket the parent process left open at a descriptor number.
	networkFD = "fd"
)

// listenOptions are what every socket the master opens shares. The zero value means gunicorn's
// defaults.
type listenOptions struct {
	backlog   int
	reusePort bool
	// umask applies while a unix socket file is created.
	umask int
	// owner, when set, gets the unix socket files, so that workers running as that user can
	// still reach them by path (the socket they accept on is inherited either way).
	owner *syscall.Credential
}

// parseBind reads a --bind value the way gunicorn does and returns the network and address to
// listen on. An IPv6 host gets tcp6 and everything else tcp4, so that a bind means one address
// family, as with gunicorn's sockets: ":8000" or "" is 0.0.0.0:8000, not a dual-stack socket.
// "unix:PATH" is a unix socket and "fd://N" a socket inherited at descriptor N.
func parseBind(bind string) (network, address string, err error) {
	if path, ok := cutUnixPrefix(bind); ok {
		if path == "" {
			return "", "", errors.New("no path after \"unix:\"")
		}
		return networkUnix, path, nil
	}
	if fd, ok := strings.CutPrefix(bind, "fd://"); ok {
		if n, err := strconv.Atoi(fd); err != nil || n < 0 {
			return "", "", fmt.Errorf("%q is not a file descriptor number", fd)
		}
		return networkFD, fd, nil
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

// cutUnixPrefix accepts both spellings gunicorn does, "unix:PATH" and "unix://PATH".
func cutUnixPrefix(bind string) (string, bool) {
	if path, ok := strings.CutPrefix(bind, "unix://"); ok {
		return path, true
	}
	return strings.CutPrefix(bind, "unix:")
}

// listenAll opens every bind once, for all workers to share, and logs where it listens or why
// it cannot. The files it returns are what the workers inherit; the master never accepts on them.
// On failure it closes what it opened and removes the unix socket files it created.
func listenAll(binds []string, opts listenOptions) ([]*os.File, bool) {
	var files []*os.File
	var created []string
	fail := func() ([]*os.File, bool) {
		closeAll(files)
		removeSocketFiles(created)
		return nil, false
	}
	for _, bind := range binds {
		network, address, err := parseBind(bind)
		if err != nil {
			errorlog.Error("Invalid bind %q: %v", bind, err)
			return fail()
		}
		var file *os.File
		var url string
		switch network {
		case networkFD:
			fd, _ := strconv.Atoi(address)
			file, url, err = inheritListener(fd)
		case networkUnix:
			file, url, err = listenUnix(address, opts)
			if err == nil {
				created = append(created, address)
			}
		default:
			file, url, err = listen(network, address, opts)
		}
		if err != nil {
			errorlog.Error("Can't listen at %s: %v", bind, err)
			return fail()
		}
		errorlog.Info("Listening at: %s (%d)", url, os.Getpid())
		files = append(files, file)
	}
	return files, true
}

// adoptListeners takes over count listening sockets a parent left open from descriptor first
// on, as systemd's socket activation does, and logs them as listenAll does its own.
func adoptListeners(first, count int) ([]*os.File, bool) {
	var files []*os.File
	for fd := first; fd < first+count; fd++ {
		file, url, err := inheritListener(fd)
		if err != nil {
			errorlog.Error("Can't use inherited socket %d: %v", fd, err)
			closeAll(files)
			return nil, false
		}
		errorlog.Info("Listening at: %s (%d)", url, os.Getpid())
		files = append(files, file)
	}
	return files, true
}

func listen(network, address string, opts listenOptions) (*os.File, string, error) {
	lc := net.ListenConfig{Control: func(_, _ string, conn syscall.RawConn) error {
		if !opts.reusePort {
			return nil
		}
		return setSocketOption(conn, unix.SO_REUSEPORT)
	}}
	listener, err := lc.Listen(context.Background(), network, address)
	if err != nil {
		return nil, "", unwrapOpError(err)
	}
	defer listener.Close()
	tcp := listener.(*net.TCPListener)
	file, err := listenerFile(tcp, opts.backlog)
	if err != nil {
		return nil, "", err
	}
	return file, listenScheme + "://" + listener.Addr().String(), nil
}

// listenUnix creates the socket file with the umask applied, replacing a socket file that a
// server which is no longer running left behind. A live server's socket is left alone.
func listenUnix(path string, opts listenOptions) (*os.File, string, error) {
	if err := removeStaleSocket(path); err != nil {
		return nil, "", err
	}
	// The umask is per process; nothing else in the master creates files while it listens.
	previous := unix.Umask(opts.umask)
	listener, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	unix.Umask(previous)
	if err != nil {
		return nil, "", unwrapOpError(err)
	}
	// The file outlives this listener: it is removed when the master stops.
	listener.SetUnlinkOnClose(false)
	defer listener.Close()
	file, err := listenerFile(listener, opts.backlog)
	if err == nil && opts.owner != nil {
		err = os.Chown(path, int(opts.owner.Uid), int(opts.owner.Gid))
	}
	if err != nil {
		file.Close()
		os.Remove(path)
		return nil, "", err
	}
	return file, "unix:" + path, nil
}

func removeStaleSocket(path string) error {
	info, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if info.Mode().Type() != os.ModeSocket {
		return errors.New("the file exists and is not a socket")
	}
	conn, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		conn.Close()
		return errSocketInUse
	}
	return os.Remove(path)
}

// errSocketInUse is a socket file that a running server answers on.
var errSocketInUse = errors.New("address already in use: another server is listening on it")

// listenerFile sets the backlog (net always uses the kernel's maximum) and returns the socket
// as a file for the workers to inherit.
func listenerFile(listener interface {
	SyscallConn() (syscall.RawConn, error)
	File() (*os.File, error)
}, backlog int) (*os.File, error) {
	if backlog <= 0 {
		backlog = defaultBacklog
	}
	conn, err := listener.SyscallConn()
	if err != nil {
		return nil, err
	}
	var listenErr error
	// Listening again on a listening socket changes only its backlog.
	if err := conn.Control(func(fd uintptr) { listenErr = unix.Listen(int(fd), backlog) }); err != nil {
		return nil, err
	}
	if listenErr != nil {
		return nil, fmt.Errorf("setting the backlog to %d: %v", backlog, listenErr)
	}
	return listener.File()
}

func setSocketOption(conn syscall.RawConn, option int) error {
	var optErr error
	if err := conn.Control(func(fd uintptr) { optErr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, option, 1) }); err != nil {
		return err
	}
	return optErr
}

// inheritListener wraps a listening socket left open at fd by the process that started the
// master. It is marked close-on-exec so that only the copies passed on purpose reach workers.
func inheritListener(fd int) (*os.File, string, error) {
	accepting, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ACCEPTCONN)
	switch {
	case errors.Is(err, unix.EBADF):
		return nil, "", fmt.Errorf("descriptor %d is not open", fd)
	case errors.Is(err, unix.ENOTSOCK):
		return nil, "", fmt.Errorf("descriptor %d is not a socket", fd)
	case err != nil:
		return nil, "", err
	case accepting != 1:
		return nil, "", fmt.Errorf("socket %d is not listening", fd)
	}
	address, err := unix.Getsockname(fd)
	if err != nil {
		return nil, "", err
	}
	unix.CloseOnExec(fd)
	return os.NewFile(uintptr(fd), "fd://"+strconv.Itoa(fd)), socketURL(address), nil
}

// listenScheme starts the URL of TCP sockets in the "Listening at" lines: "https" when gowsgi
// serves TLS, as gunicorn shows it.
var listenScheme = "http"

// socketURL names a socket address as the "Listening at" line does.
func socketURL(address unix.Sockaddr) string {
	switch a := address.(type) {
	case *unix.SockaddrInet4:
		return listenScheme + "://" + net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrInet6:
		return listenScheme + "://" + net.JoinHostPort(net.IP(a.Addr[:]).String(), strconv.Itoa(a.Port))
	case *unix.SockaddrUnix:
		return "unix:" + a.Name
	}
	return fmt.Sprintf("%T", address)
}

// socketFilesOf lists the unix socket files that listenAll creates for binds.
func socketFilesOf(binds []string) []string {
	var paths []string
	for _, bind := range binds {
		if network, address, err := parseBind(bind); err == nil && network == networkUnix {
			paths = append(paths, address)
		}
	}
	return paths
}

func removeSocketFiles(paths []string) {
	for _, path := range paths {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			errorlog.Warning("Can't remove socket file %s: %v", path, err)
		}
	}
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
