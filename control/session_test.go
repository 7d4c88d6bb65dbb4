package control

import (
	"bytes"
	"encoding/json"
	"errors"
	"net"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
)

// recorder keeps the requests a fake server received.
type recorder struct {
	mu       sync.Mutex
	requests []Request
}

func (r *recorder) add(request Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.requests = append(r.requests, request)
}

func (r *recorder) all() []Request {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.requests)
}

// fakeServer answers each command on a socket in a test directory: "show workers" with one
// worker, "fail" with an error, "hang up" by closing the connection; it records the requests.
func fakeServer(t *testing.T) (path string, requests *recorder) {
	path = filepath.Join(t.TempDir(), "ctl.sock")
	listener, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { listener.Close() })
	requests = &recorder{}
	go func() {
		for {
			conn, err := listener.Accept()
			if err != nil {
				return
			}
			go converse(conn, requests)
		}
	}()
	return path, requests
}

func converse(conn net.Conn, requests *recorder) {
	defer conn.Close()
	for {
		var request Request
		payload, err := ReadMessage(conn, MaxMessageSize)
		if err != nil || json.Unmarshal(payload, &request) != nil {
			return
		}
		requests.add(request)
		var response Response
		switch request.Command {
		case "show workers":
			response, _ = OK(request.ID, Workers{Workers: []WorkerInfo{{PID: 42, Age: 1, Booted: true}}, Count: 1})
		case "fail":
			response = Failure(request.ID, "it failed")
		case "hang up":
			return
		default:
			response, _ = OK(request.ID, map[string]string{})
		}
		if WriteMessage(conn, response) != nil {
			return
		}
	}
}

func session(path string, asJSON bool) (*Session, *bytes.Buffer, *bytes.Buffer) {
	var out, errOut bytes.Buffer
	return &Session{Path: path, JSON: asJSON, Stdout: &out, Stderr: &errOut}, &out, &errOut
}

func TestRunCommandPrintsTheAnswerLaidOut(t *testing.T) {
	path, requests := fakeServer(t)
	s, out, errOut := session(path, false)
	if code := s.RunCommand("show workers"); code != 0 {
		t.Fatalf("exit %d, stderr %q", code, errOut)
	}
	if !strings.Contains(out.String(), "42         1      yes") || !strings.Contains(out.String(), "Total: 1 workers") {
		t.Fatalf("stdout %q", out)
	}
	if got := requests.all(); len(got) != 1 || string(got[0].ID) != "1" || got[0].Args == nil {
		t.Fatalf("requests %+v, want one with id 1 and an empty args list", got)
	}
}

func TestRunCommandWithJSONPrintsTheData(t *testing.T) {
	path, _ := fakeServer(t)
	s, out, _ := session(path, true)
	if code := s.RunCommand("show workers"); code != 0 || !strings.HasPrefix(out.String(), "{\n  \"workers\": [\n    {\n      \"pid\": 42,") {
		t.Fatalf("exit %d, stdout %q", code, out)
	}
}

func TestRunCommandFailsInOneLine(t *testing.T) {
	path, _ := fakeServer(t)
	for _, c := range []struct{ path, command, want string }{
		{path, "fail", "Error: it failed\n"},
		{path, "hang up", "Error: the server closed the connection\n"},
		{path + ".absent", "show workers", "Error: can't connect to " + path + ".absent: no such file or directory\n"},
	} {
		s, out, errOut := session(c.path, false)
		if code := s.RunCommand(c.command); code != 1 || errOut.String() != c.want || out.Len() != 0 {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 1 and %q", c.command, code, out, errOut, c.want)
		}
	}
}

func TestRunInteractiveFromAPipeAnswersEachLineUntilQuit(t *testing.T) {
	path, requests := fakeServer(t)
	s, out, errOut := session(path, false)
	in := strings.NewReader("show workers\n\nfail\nhang up\nreopen\nquit\nshow workers\n")
	if code := s.RunInteractive(in, false); code != 1 {
		t.Fatalf("exit %d, want 1 for the commands that failed", code)
	}
	if strings.Count(out.String(), "Total: 1 workers") != 1 || !strings.HasSuffix(out.String(), "OK\n") ||
		strings.Contains(out.String(), "gowsgi>") {
		t.Fatalf("stdout %q: want one table, then OK, no prompt", out)
	}
	if errOut.String() != "Error: it failed\nError: the server closed the connection\n" {
		t.Fatalf("stderr %q", errOut)
	}
	var commands []string
	for _, r := range requests.all() {
		commands = append(commands, r.Command)
	}
	// reopen went over a new connection, after the server hung up.
	if strings.Join(commands, ",") != "show workers,fail,hang up,reopen" {
		t.Fatalf("commands sent: %q", commands)
	}
}

func TestRunInteractiveOnATerminalGreetsAndPrompts(t *testing.T) {
	path, _ := fakeServer(t)
	s, out, _ := session(path, false)
	if code := s.RunInteractive(strings.NewReader("reopen\n"), true); code != 0 {
		t.Fatalf("exit %d", code)
	}
	want := "Connected to " + path + "\nType 'help' for the commands, 'quit' to leave.\n\ngowsgi> OK\n\ngowsgi> \n"
	if out.String() != want {
		t.Fatalf("stdout %q, want %q", out, want)
	}
}

func TestServerErrorIsTheAnswersMessage(t *testing.T) {
	path, _ := fakeServer(t)
	client, err := Dial(path, Timeout)
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	_, err = client.Send("fail")
	var serverErr *ServerError
	if !errors.As(err, &serverErr) || serverErr.Message != "it failed" {
		t.Fatalf("got %v", err)
	}
}
