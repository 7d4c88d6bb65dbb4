package control

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	"gowsgi/config"
)

// Timeout bounds connecting and each command's round trip, as in gunicornc.
const Timeout = 30 * time.Second

// Session is what `gowsgi ctl` prints to, and how.
type Session struct {
	// Path is the control socket.
	Path string
	// JSON prints each answer's data as indented JSON instead of laying it out.
	JSON   bool
	Stdout io.Writer
	Stderr io.Writer
}

// RunCommand runs one command line and prints the answer; it returns the exit code, 1 when the
// socket cannot be reached or the command failed.
func (s *Session) RunCommand(line string) int {
	client, err := s.connect()
	if err != nil {
		return 1
	}
	defer client.Close()
	if err := s.run(client, line); err != nil {
		fmt.Fprintf(s.Stderr, "Error: %v\n", err)
		return 1
	}
	return 0
}

// RunInteractive reads command lines from in until it ends or a line says quit, exit or q.
// On a terminal it greets and prompts; from a pipe it prints only the answers. The exit code
// is 1 when a command failed or the connection was lost and could not be made again.
func (s *Session) RunInteractive(in io.Reader, terminal bool) int {
	client, err := s.connect()
	if err != nil {
		return 1
	}
	defer func() {
		if client != nil {
			client.Close()
		}
	}()
	if terminal {
		fmt.Fprintf(s.Stdout, "Connected to %s\nType 'help' for the commands, 'quit' to leave.\n\n", s.Path)
	}
	exitCode := 0
	lines := bufio.NewScanner(in)
	for {
		if terminal {
			fmt.Fprint(s.Stdout, "gowsgi> ")
		}
		if !lines.Scan() {
			break
		}
		line := strings.TrimSpace(lines.Text())
		switch strings.ToLower(line) {
		case "":
			continue
		case "quit", "exit", "q":
			return exitCode
		}
		err := s.run(client, line)
		if err == nil {
			if terminal {
				fmt.Fprintln(s.Stdout)
			}
			continue
		}
		fmt.Fprintf(s.Stderr, "Error: %v\n", err)
		exitCode = 1
		var refused *ServerError
		if errors.As(err, &refused) {
			continue
		}
		client.Close()
		if client, err = s.connect(); err != nil {
			return 1
		}
	}
	if terminal {
		fmt.Fprintln(s.Stdout)
	}
	return exitCode
}

// connect dials the socket, saying why in one line when it cannot.
func (s *Session) connect() (*Client, error) {
	client, err := Dial(s.Path, Timeout)
	if err != nil {
		fmt.Fprintf(s.Stderr, "Error: can't connect to %s: %v\n", s.Path, systemError(err))
	}
	return client, err
}

// run sends one command line and prints the answer.
func (s *Session) run(client *Client, line string) error {
	data, err := client.Send(line)
	if err != nil {
		return systemError(err)
	}
	if s.JSON {
		fmt.Fprintln(s.Stdout, Indent(data))
		return nil
	}
	name := ""
	if words, err := config.SplitCommandLine(line); err == nil {
		if command, err := Parse(words); err == nil {
			name = command.Name
		}
	}
	fmt.Fprintln(s.Stdout, Format(name, data))
	return nil
}

// systemError is the system's reason alone ("no such file or directory"), without the "dial
// unix /path: connect:" the message already says in its own words.
func systemError(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		err = op.Err
	}
	var syscallErr *os.SyscallError
	if errors.As(err, &syscallErr) {
		return syscallErr.Err
	}
	if errors.Is(err, io.EOF) {
		return errors.New("the server closed the connection")
	}
	return err
}
