package config

import (
	"errors"
	"fmt"
	"os/user"
	"strconv"
	"strings"
)

// umaskFlag reads -m/--umask as gunicorn does: a leading 0 means octal ("022"), 0o and 0x
// prefixes work, and a plain number is decimal ("18" is 0o22).
type umaskFlag struct{ value int }

func (u *umaskFlag) Set(text string) error {
	v, err := strconv.ParseInt(text, 0, 32)
	if err != nil {
		return errors.New("not a number (use octal like 0o22 or 022, or decimal)")
	}
	if v < 0 || v > 0o777 {
		return errors.New("must be between 0 and 0o777")
	}
	u.value = int(v)
	return nil
}

func (u *umaskFlag) String() string { return fmt.Sprintf("0o%o", u.value) }

func (u *umaskFlag) Type() string { return "mask" }

// LookupUser resolves -u/--user, a name or a number, to a uid and the account's name ("" when the
// number has no account, which gunicorn accepts too).
func LookupUser(text string) (uid int, name string, err error) {
	if n, convErr := strconv.Atoi(text); convErr == nil {
		if n < 0 {
			return 0, "", invalidValue("user", text, "must not be negative")
		}
		if u, err := user.LookupId(text); err == nil {
			return n, u.Username, nil
		}
		return n, "", nil
	}
	u, err := user.Lookup(text)
	if err != nil {
		return 0, "", invalidValue("user", text, "no such user")
	}
	uid, _ = strconv.Atoi(u.Uid)
	return uid, u.Username, nil
}

// LookupGroup resolves -g/--group, a name or a number, to a gid.
func LookupGroup(text string) (int, error) {
	if n, err := strconv.Atoi(text); err == nil {
		if n < 0 {
			return 0, invalidValue("group", text, "must not be negative")
		}
		return n, nil
	}
	g, err := user.LookupGroup(text)
	if err != nil {
		return 0, invalidValue("group", text, "no such group")
	}
	gid, _ := strconv.Atoi(g.Gid)
	return gid, nil
}

// resolveProcess checks -u and -g, and makes the pid file and unix socket paths absolute against
// the app's directory, where gunicorn resolves them, so that mistakes stop gowsgi before it
// listens and every process agrees on the files.
func resolveProcess(cfg *Config) error {
	if cfg.User != "" {
		if _, _, err := LookupUser(cfg.User); err != nil {
			return err
		}
	}
	if cfg.Group != "" {
		if _, err := LookupGroup(cfg.Group); err != nil {
			return err
		}
	}
	if cfg.Pidfile != "" {
		cfg.Pidfile = absolute(cfg.Chdir, cfg.Pidfile)
	}
	for i, bind := range cfg.Binds {
		// gunicorn spells unix sockets "unix:PATH" or "unix://PATH".
		path, isUnix := strings.CutPrefix(bind, "unix://")
		if !isUnix {
			path, isUnix = strings.CutPrefix(bind, "unix:")
		}
		if isUnix && path != "" {
			cfg.Binds[i] = "unix:" + absolute(cfg.Chdir, path)
		}
	}
	return nil
}

// ProcessName is the name in process titles: -n/--name, or the app spec as gunicorn uses it,
// or with --paste, the PasteDeploy file.
func (c *Config) ProcessName() string {
	switch {
	case c.ProcName != "":
		return c.ProcName
	case c.App.Raw == "" && c.Paste != "":
		file, _, _ := strings.Cut(c.Paste, "#")
		return file
	}
	return c.App.Raw
}
