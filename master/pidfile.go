package master

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// checkPidfile refuses to start when path names a process that is still running, which is
// most likely another gowsgi serving the same app. A file naming a process that has ended, or
// holding no number, is stale and will be replaced.
func checkPidfile(path string) error {
	pid, err := readPidfile(path)
	if err != nil || pid == 0 || pid == os.Getpid() {
		return err
	}
	if err := unix.Kill(pid, 0); err == nil || errors.Is(err, unix.EPERM) {
		return fmt.Errorf("Already running on PID %d (or pid file '%s' is stale)", pid, path)
	}
	return nil
}

// readPidfile returns the pid in path, or 0 when there is no file or no number in it.
func readPidfile(path string) (int, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil || pid < 1 {
		return 0, nil
	}
	return pid, nil
}

// writePidfile writes this process's pid to path in one step (a temporary file renamed over
// it), so that a reader never sees an empty or half-written file.
func writePidfile(path string) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(tmp, "%d\n", os.Getpid())
	if closeErr := tmp.Close(); err == nil {
		err = closeErr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), path)
	}
	if err != nil {
		os.Remove(tmp.Name())
	}
	return err
}

// removePidfile removes path if it still names this process: after a binary upgrade the file
// may belong to the new master already.
func removePidfile(path string) {
	if pid, _ := readPidfile(path); pid == os.Getpid() {
		os.Remove(path)
	}
}
