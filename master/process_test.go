package master

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"

	"gowsgi/config"
)

func TestUnixSocketIsCreatedWithTheUmaskAndRemovedOnRequest(t *testing.T) {
	log := captureLog(t)
	path := filepath.Join(t.TempDir(), "app.sock")
	files, ok := listenAll([]string{"unix:" + path}, listenOptions{umask: 0o077})
	if !ok {
		t.Fatalf("listenAll failed:\n%s", log)
	}
	defer closeAll(files)
	assertLogged(t, log, fmt.Sprintf("[INFO] Listening at: unix:%s (%d)\n", path, os.Getpid()))
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o700 {
		t.Errorf("socket file mode = %v, want a socket with 0700", info.Mode())
	}
	listener, err := net.FileListener(files[0])
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	go func() {
		if c, err := listener.Accept(); err == nil {
			c.Write([]byte("hi"))
			c.Close()
		}
	}()
	conn, err := net.Dial("unix", path)
	if err != nil {
		t.Fatalf("connecting by path: %v", err)
	}
	buf := make([]byte, 2)
	if _, err := conn.Read(buf); err != nil || string(buf) != "hi" {
		t.Errorf("read %q, %v", buf, err)
	}
	conn.Close()
	removeSocketFiles(socketFilesOf([]string{"unix:" + path, "127.0.0.1:0"}))
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file still there after removal: %v", err)
	}
}

func TestStaleUnixSocketIsReplacedButALiveOneIsNot(t *testing.T) {
	log := captureLog(t)
	dir := t.TempDir()
	stale := filepath.Join(dir, "stale.sock")
	// A listener closed without unlinking leaves the file of a server that is gone.
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: stale, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	dead.Close()
	files, ok := listenAll([]string{"unix:" + stale}, listenOptions{})
	if !ok {
		t.Fatalf("a stale socket file was not replaced:\n%s", log)
	}
	closeAll(files)

	live := filepath.Join(dir, "live.sock")
	server, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer server.Close()
	if files, ok := listenAll([]string{"unix:" + live}, listenOptions{}); ok {
		closeAll(files)
		t.Fatal("listenAll took over a socket another server listens on")
	}
	assertLogged(t, log, fmt.Sprintf("[ERROR] Can't listen at unix:%s: address already in use: another server is listening on it", live))

	plain := filepath.Join(dir, "plain")
	os.WriteFile(plain, []byte("data"), 0o644)
	if files, ok := listenAll([]string{"unix:" + plain}, listenOptions{}); ok {
		closeAll(files)
		t.Fatal("listenAll replaced a regular file")
	}
	assertLogged(t, log, "the file exists and is not a socket")
	if data, _ := os.ReadFile(plain); string(data) != "data" {
		t.Errorf("regular file changed to %q", data)
	}
}

func TestFailedListenRemovesTheSocketFilesItCreated(t *testing.T) {
	captureLog(t)
	path := filepath.Join(t.TempDir(), "first.sock")
	if files, ok := listenAll([]string{"unix:" + path, "127.0.0.1:http"}, listenOptions{}); ok {
		closeAll(files)
		t.Fatal("listenAll accepted a bad bind")
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("socket file left after a failed start: %v", err)
	}
}

func TestBacklogIsSet(t *testing.T) {
	captureLog(t)
	files, ok := listenAll([]string{"127.0.0.1:0"}, listenOptions{backlog: 123})
	if !ok {
		t.Fatal("listenAll failed")
	}
	defer closeAll(files)
	// For a listening socket the kernel reports the backlog in tcpi_sacked.
	info, err := unix.GetsockoptTCPInfo(int(files[0].Fd()), unix.IPPROTO_TCP, unix.TCP_INFO)
	if err != nil {
		t.Fatal(err)
	}
	if info.Sacked != 123 {
		t.Errorf("backlog = %d, want 123", info.Sacked)
	}
}

func TestReusePortLetsTwoSocketsShareAPort(t *testing.T) {
	log := captureLog(t)
	first, ok := listenAll([]string{"127.0.0.1:0"}, listenOptions{reusePort: true})
	if !ok {
		t.Fatalf("listenAll failed:\n%s", log)
	}
	defer closeAll(first)
	sa, err := unix.Getsockname(int(first[0].Fd()))
	if err != nil {
		t.Fatal(err)
	}
	bind := "127.0.0.1:" + strconv.Itoa(sa.(*unix.SockaddrInet4).Port)
	if files, ok := listenAll([]string{bind}, listenOptions{}); ok {
		closeAll(files)
		t.Fatal("a second socket without --reuse-port took the port")
	}
	second, ok := listenAll([]string{bind}, listenOptions{reusePort: true})
	if !ok {
		t.Fatalf("a second socket with --reuse-port could not listen:\n%s", log)
	}
	closeAll(second)
}

func TestInheritedDescriptorIsUsedAsIs(t *testing.T) {
	log := captureLog(t)
	l, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	file, err := l.(*net.TCPListener).File()
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	fd := int(file.Fd())
	files, ok := listenAll([]string{"fd://" + strconv.Itoa(fd)}, listenOptions{})
	if !ok {
		t.Fatalf("fd:// failed:\n%s", log)
	}
	assertLogged(t, log, fmt.Sprintf("[INFO] Listening at: http://%s (%d)\n", l.Addr(), os.Getpid()))
	if files[0].Fd() != uintptr(fd) {
		t.Errorf("fd://%d became descriptor %d", fd, files[0].Fd())
	}
	if flags, _ := unix.FcntlInt(uintptr(fd), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
		t.Error("inherited socket is not close-on-exec")
	}

	notListening, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer notListening.Close()
	bind := "fd://" + strconv.Itoa(int(notListening.Fd()))
	if _, ok := listenAll([]string{bind}, listenOptions{}); ok {
		t.Fatal("fd:// accepted a descriptor that is not a socket")
	}
	assertLogged(t, log, fmt.Sprintf("[ERROR] Can't listen at %s: descriptor %d is not a socket", bind, notListening.Fd()))
}

func TestSocketActivationIsForThisProcessOnly(t *testing.T) {
	t.Setenv(listenFDsEnv, "2")
	t.Setenv(listenPIDEnv, strconv.Itoa(os.Getpid()+1))
	if n, err := socketActivation(); n != 0 || err != nil {
		t.Errorf("sockets meant for another process: %d, %v", n, err)
	}
	if os.Getenv(listenFDsEnv) != "2" {
		t.Error("variables meant for another process were removed")
	}
	t.Setenv(listenPIDEnv, strconv.Itoa(os.Getpid()))
	t.Setenv(listenNamesEnv, "a:b")
	if n, err := socketActivation(); n != 2 || err != nil {
		t.Errorf("socketActivation() = %d, %v; want 2", n, err)
	}
	for _, name := range []string{listenPIDEnv, listenFDsEnv, listenNamesEnv} {
		if _, set := os.LookupEnv(name); set {
			t.Errorf("%s is still set for workers to see", name)
		}
	}
	t.Setenv(listenPIDEnv, strconv.Itoa(os.Getpid()))
	t.Setenv(listenFDsEnv, "many")
	if _, err := socketActivation(); err == nil || !strings.Contains(err.Error(), `LISTEN_FDS="many"`) {
		t.Errorf("bad LISTEN_FDS: %v", err)
	}
}

func TestPidfileLifecycle(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gowsgi.pid")
	if err := checkPidfile(path); err != nil {
		t.Fatalf("no pid file: %v", err)
	}
	if err := writePidfile(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if string(data) != fmt.Sprintf("%d\n", os.Getpid()) {
		t.Errorf("pid file holds %q", data)
	}
	if info, _ := os.Stat(path); info.Mode().Perm() != 0o644 {
		t.Errorf("pid file mode %v", info.Mode())
	}
	if err := checkPidfile(path); err != nil {
		t.Errorf("our own pid file refused: %v", err)
	}
	removePidfile(path)
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("pid file not removed: %v", err)
	}
}

func TestPidfileOfALiveProcessRefusesAndAStaleOneIsReplaced(t *testing.T) {
	path := filepath.Join(t.TempDir(), "gowsgi.pid")
	os.WriteFile(path, []byte(strconv.Itoa(os.Getppid())+"\n"), 0o644)
	err := checkPidfile(path)
	want := fmt.Sprintf("Already running on PID %d (or pid file '%s' is stale)", os.Getppid(), path)
	if err == nil || err.Error() != want {
		t.Errorf("checkPidfile = %v, want %q", err, want)
	}
	removePidfile(path)
	if _, err := os.Stat(path); err != nil {
		t.Error("removePidfile removed another process's pid file")
	}
	ended := exec.Command("true")
	if err := ended.Run(); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(path, []byte(strconv.Itoa(ended.Process.Pid)), 0o644)
	if err := checkPidfile(path); err != nil {
		t.Errorf("stale pid file refused: %v", err)
	}
}

func TestWorkerCredential(t *testing.T) {
	if os.Geteuid() != 0 {
		if _, err := workerCredential(&config.Config{User: "0"}); err == nil || !strings.Contains(err.Error(), "only root") {
			t.Errorf("switching to root as a user: %v", err)
		}
		t.Skip("the rest needs root")
	}
	if cred, err := workerCredential(&config.Config{}); cred != nil || err != nil {
		t.Errorf("no -u/-g: %+v, %v", cred, err)
	}
	cred, err := workerCredential(&config.Config{User: "nobody", Group: "65534"})
	if err != nil || cred.Uid != 65534 || cred.Gid != 65534 || len(cred.Groups) != 0 {
		t.Errorf("-u nobody -g 65534: %+v, %v", cred, err)
	}
	cred, err = workerCredential(&config.Config{User: "nobody"})
	if err != nil || cred.Uid != 65534 || cred.Gid != uint32(os.Getegid()) {
		t.Errorf("-u nobody keeps the master's group as gunicorn does: %+v, %v", cred, err)
	}
	cred, err = workerCredential(&config.Config{User: "root", Group: "0", Initgroups: true})
	if err != nil || len(cred.Groups) == 0 || cred.Groups[0] != 0 {
		t.Errorf("--initgroups: %+v, %v", cred, err)
	}
}

func TestPrepareWorkerSetsTitleAndUser(t *testing.T) {
	h := &host{workerTitle: "gowsgi: worker [app]", credential: &syscall.Credential{Uid: 7, Gid: 8}}
	args := []string{"/bin/gowsgi", "-w", "2", "app"}
	cmd := &exec.Cmd{Path: "/proc/self/exe", Args: args, SysProcAttr: &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}}
	h.prepareWorker(cmd)
	if got := strings.Join(cmd.Args, " "); got != "gowsgi: worker [app] -w 2 app" {
		t.Errorf("worker args %q", got)
	}
	if args[0] != "/bin/gowsgi" {
		t.Error("prepareWorker changed the master's own arguments")
	}
	if cmd.SysProcAttr.Credential != h.credential || cmd.SysProcAttr.Pdeathsig != syscall.SIGKILL {
		t.Errorf("SysProcAttr %+v", cmd.SysProcAttr)
	}
	var none *host
	none.prepareWorker(cmd)
}
