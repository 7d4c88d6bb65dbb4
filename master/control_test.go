package master

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"gowsgi/config"
	"gowsgi/control"
)

// startTestControl serves a control socket in a fresh directory, answering every command
// with its name from a stand-in for the arbiter loop; seen carries the commands that loop got.
func startTestControl(t *testing.T) (s *controlServer, seen chan control.Command) {
	t.Helper()
	requests := make(chan controlRequest)
	seen = make(chan control.Command, 16)
	s, err := serveControl(filepath.Join(t.TempDir(), "sub", "ctl.sock"), 0o600, requests)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.close)
	go func() {
		for {
			select {
			case req := <-requests:
				seen <- req.command
				req.reply <- controlReply{data: map[string]string{"name": req.command.Name}}
			case <-s.done:
				return
			}
		}
	}()
	return s, seen
}

// exchange writes raw bytes on conn and reads one response.
func exchange(t *testing.T, conn net.Conn, raw []byte) control.Response {
	t.Helper()
	if _, err := conn.Write(raw); err != nil {
		t.Fatal(err)
	}
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	payload, err := control.ReadMessage(conn, control.MaxMessageSize)
	if err != nil {
		t.Fatalf("no answer: %v", err)
	}
	var response control.Response
	if err := json.Unmarshal(payload, &response); err != nil {
		t.Fatal(err)
	}
	return response
}

func framed(payload string) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(payload))), payload...)
}

func TestControlSocketIsTheMastersAloneAndAnswersThroughTheLoop(t *testing.T) {
	s, seen := startTestControl(t)
	info, err := os.Lstat(s.path)
	if err != nil || info.Mode().Type() != os.ModeSocket || info.Mode().Perm() != 0o600 {
		t.Fatalf("socket file %v, %v; want a socket with mode 0600", info, err)
	}
	if dir, _ := os.Stat(filepath.Dir(s.path)); dir.Mode().Perm() != 0o700 {
		t.Fatalf("directory mode %o, want 0700", dir.Mode().Perm())
	}
	client, err := control.Dial(s.path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	data, err := client.Send("worker add 2")
	if err != nil || string(data) != `{"name":"worker add"}` {
		t.Fatalf("got %s, %v", data, err)
	}
	if got := <-seen; got != (control.Command{Name: control.WorkerAdd, Count: 2}) {
		t.Fatalf("the loop got %+v", got)
	}
}

func TestControlSocketAnswersBadMessagesWithoutTheLoop(t *testing.T) {
	s, seen := startTestControl(t)
	conn, err := net.Dial("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for raw, wantErr := range map[string]string{
		"\x00\x00\x00\x05hello":                     "not a JSON object",
		"\x00\x00\x00\x00":                          "not a JSON object",
		string(framed(`{"id": 3, "command": "x"}`)): `unknown command "x"`,
		string(framed(`{"id": 4}`)):                 "empty command",
	} {
		response := exchange(t, conn, []byte(raw))
		if response.Status != control.StatusError || !strings.Contains(response.Error, wantErr) {
			t.Errorf("%q: got %+v, want an error with %q", raw, response, wantErr)
		}
	}
	// The same connection still serves requests.
	response := exchange(t, conn, framed(`{"id": 5, "command": "show stats"}`))
	if response.Status != control.StatusOK || string(response.ID) != "5" {
		t.Fatalf("got %+v", response)
	}
	if got := <-seen; got.Name != control.ShowStats || len(seen) != 0 {
		t.Fatalf("the loop got %+v and %d more", got, len(seen))
	}
}

func TestControlSocketAnswersAnOversizedMessageAndHangsUp(t *testing.T) {
	s, _ := startTestControl(t)
	conn, err := net.Dial("unix", s.path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	response := exchange(t, conn, []byte{0x7f, 0xff, 0xff, 0xff, '{'})
	if response.Status != control.StatusError || !strings.Contains(response.Error, "too large") {
		t.Fatalf("got %+v", response)
	}
	if _, err := control.ReadMessage(conn, control.MaxMessageSize); err == nil {
		t.Fatal("the connection stayed open")
	}
	client, err := control.Dial(s.path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.Send("help"); err != nil {
		t.Fatalf("a new connection: %v", err)
	}
}

func TestControlSocketReplacesAStaleFileButNotALiveServer(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "ctl.sock")
	live, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := serveControl(path, 0o600, nil); !errors.Is(err, errSocketInUse) {
		t.Fatalf("with a live server on the path: %v, want errSocketInUse", err)
	}
	live.SetUnlinkOnClose(false)
	live.Close()
	s, err := serveControl(path, 0o600, nil)
	if err != nil {
		t.Fatalf("over a stale socket file: %v", err)
	}
	s.close()
	if _, err := os.Lstat(path); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("after close: %v, want the file gone", err)
	}
	regular := filepath.Join(dir, "file")
	if err := os.WriteFile(regular, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := serveControl(regular, 0o600, nil); err == nil {
		t.Fatal("a regular file was replaced")
	}
}

func TestControlSocketCloseLeavesAFileThatIsNoLongerItsOwn(t *testing.T) {
	s, _ := startTestControl(t)
	// Another master has taken the path over.
	if err := os.Remove(s.path); err != nil {
		t.Fatal(err)
	}
	other, err := net.ListenUnix("unix", &net.UnixAddr{Name: s.path, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	s.close()
	if _, err := os.Lstat(s.path); err != nil {
		t.Fatalf("the other master's socket was removed: %v", err)
	}
}

func TestControlSocketClosedAnswersThatTheMasterIsStopping(t *testing.T) {
	requests := make(chan controlRequest)
	s, err := serveControl(filepath.Join(t.TempDir(), "ctl.sock"), 0o600, requests)
	if err != nil {
		t.Fatal(err)
	}
	client, err := control.Dial(s.path, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	// The loop is busy stopping workers and never takes the request.
	go func() {
		time.Sleep(100 * time.Millisecond)
		s.close()
	}()
	if _, err := client.Send("show workers"); err == nil || !strings.Contains(err.Error(), "shutting down") {
		t.Fatalf("got %v", err)
	}
}

func TestWorkerCommandsChangeTheWantedNumberAsTTINAndTTOUDo(t *testing.T) {
	a := newArbiter(&config.Config{Workers: 3}, nil)
	for _, c := range []struct {
		command control.Command
		want    any
		wanted  int
	}{
		{control.Command{Name: control.WorkerAdd, Count: 2}, control.Added{Added: 2, Previous: 3, Total: 5}, 5},
		{control.Command{Name: control.WorkerRemove, Count: 3}, control.Removed{Removed: 3, Previous: 5, Total: 2}, 2},
		{control.Command{Name: control.WorkerRemove, Count: 5}, control.Removed{Removed: 1, Previous: 2, Total: 1}, 1},
		{control.Command{Name: control.WorkerRemove, Count: 1}, control.Removed{Removed: 0, Previous: 1, Total: 1}, 1},
		{control.Command{Name: control.WorkerKill, PID: 1}, control.Outcome{Error: "Worker 1 not found"}, 1},
	} {
		got, err := a.controlAnswer(c.command)
		if err != nil || got != c.want || a.wanted != c.wanted {
			t.Errorf("%+v: got %+v, %v, %d wanted; want %+v, %d wanted", c.command, got, err, a.wanted, c.want, c.wanted)
		}
	}
	a.wanted = 0 // after WINCH
	got, _ := a.controlAnswer(control.Command{Name: control.WorkerRemove, Count: 1})
	if got != (control.Removed{}) || a.wanted != 0 {
		t.Errorf("from zero workers: %+v, %d wanted", got, a.wanted)
	}
}

func TestShowWorkersListsEveryWorkerOldestFirst(t *testing.T) {
	a := newArbiter(&config.Config{Workers: 2}, nil)
	now := time.Now()
	a.workers[300] = &workerProcess{id: 2, heardAt: now.Add(-1500 * time.Millisecond)}
	a.workers[100] = &workerProcess{id: 1, ready: true, heardAt: now, abortedAt: now}
	got, _ := a.controlAnswer(control.Command{Name: control.ShowWorkers})
	workers := got.(control.Workers)
	if workers.Count != 2 || workers.Workers[0].PID != 100 || workers.Workers[1].PID != 300 {
		t.Fatalf("got %+v", workers)
	}
	first, second := workers.Workers[0], workers.Workers[1]
	if !first.Booted || !first.Aborted || second.Booted || second.Aborted || second.Age != 2 {
		t.Fatalf("got %+v and %+v", first, second)
	}
	if beat := *second.LastHeartbeat; beat < 1.5 || beat > 2.5 {
		t.Fatalf("last heartbeat %v s ago, want about 1.5", beat)
	}
}

func TestSignalCommandsStandForTheSignals(t *testing.T) {
	for command, want := range map[control.Command]syscall.Signal{
		{Name: control.Reload}:                           syscall.SIGHUP,
		{Name: control.Reopen}:                           syscall.SIGUSR1,
		{Name: control.Shutdown, Mode: control.Graceful}: syscall.SIGTERM,
		{Name: control.Shutdown, Mode: control.Quick}:    syscall.SIGINT,
	} {
		if sig, _, ok := signalCommand(command); !ok || sig != want {
			t.Errorf("%+v: %v, want %v", command, sig, want)
		}
	}
	if _, _, ok := signalCommand(control.Command{Name: control.ShowWorkers}); ok {
		t.Error("show workers stands for a signal")
	}
}
