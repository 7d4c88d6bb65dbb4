package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"gowsgi/config"
	"gowsgi/control"
)

// ctlCommand is the first argument that makes gowsgi the control socket's client instead of a
// server; an app in a module named ctl is still served when named ctl:application.
const ctlCommand = "ctl"

// runCtl is `gowsgi ctl [-s PATH] [-c COMMAND] [-j]`: one command with -c, else the commands
// read from standard input, one a line.
func runCtl(args []string) int {
	fs := pflag.NewFlagSet("gowsgi ctl", pflag.ContinueOnError)
	fs.SetOutput(os.Stderr)
	defaultSocket := config.DefaultControlSocket(os.Getenv)
	socket := fs.StringP("socket", "s", defaultSocket, "")
	command := fs.StringP("command", "c", "", "")
	asJSON := fs.BoolP("json", "j", false, "")
	fs.Usage = func() {
		fmt.Fprintf(os.Stderr, ctlUsage, defaultSocket)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, pflag.ErrHelp) {
			return 0
		}
		fmt.Fprintf(os.Stderr, "gowsgi ctl: %v (see gowsgi ctl -h)\n", err)
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(os.Stderr, "gowsgi ctl: unexpected argument %q; give a command with -c\n", fs.Arg(0))
		return 2
	}
	path, err := filepath.Abs(*socket)
	if err != nil {
		path = *socket
	}
	session := control.Session{Path: path, JSON: *asJSON, Stdout: os.Stdout, Stderr: os.Stderr}
	if fs.Changed("command") {
		return session.RunCommand(*command)
	}
	return session.RunInteractive(os.Stdin, isTerminal(os.Stdin))
}

const ctlUsage = `usage: gowsgi ctl [-s PATH] [-c COMMAND] [-j]

Control a running gowsgi (or gunicorn) through its control socket; the command help lists
the commands.

  -s, --socket PATH        the control socket (default %s)
  -c, --command COMMAND    run COMMAND and exit; without -c, commands are read from standard
                           input, one a line, until it ends or says quit
  -j, --json               print the answers' data as JSON
`

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
