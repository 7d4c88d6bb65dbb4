package config

import (
	"errors"
	"fmt"

	"github.com/spf13/pflag"
)

// parseSource parses the arguments of one source on top of the earlier ones and returns its
// positional arguments. Later values of a flag win; binds (and the other repeatable settings)
// are a list, and a source that gives any replaces the earlier source's rather than adding to
// them, as gunicorn does.
func parseSource(fs *pflag.FlagSet, o *options, args []string, setBy func(flag string)) ([]string, error) {
	lists := []*[]string{&o.binds, &o.env, &o.reloadExtra}
	earlier := make([][]string, len(lists))
	for i, list := range lists {
		earlier[i], *list = *list, nil
	}
	err := fs.ParseAll(joinOptionalValues(args), func(flag *pflag.Flag, value string) error {
		setBy(flag.Name)
		return fs.Set(flag.Name, value)
	})
	if err != nil {
		return nil, err
	}
	for i, list := range lists {
		if len(*list) == 0 {
			*list = earlier[i]
		}
	}
	return fs.Args(), nil
}

// describeFileError words a bad value in a config file with the key the user wrote.
func describeFileError(err error, key string) error {
	var invalid *pflag.InvalidValueError
	if errors.As(err, &invalid) {
		return fmt.Errorf("invalid value %q for %s: %v", invalid.GetValue(), key, invalid.Unwrap())
	}
	return fmt.Errorf("%s: %v", key, err)
}

// chooseApp takes the app from the command line, else from GOWSGI_CMD_ARGS or
// GUNICORN_CMD_ARGS, else wsgi_app; with --paste, the PasteDeploy file names the app and an
// APP_MODULE is not needed.
func chooseApp(cliApp, envApp []string, file *configFile, paste bool) (AppSpec, []string, error) {
	switch {
	case len(cliApp) > 0:
		return appFromArgs(cliApp)
	case len(envApp) > 0:
		return appFromArgs(envApp)
	case file.hasApp:
		return file.app, nil, nil
	case paste:
		return AppSpec{}, nil, nil
	}
	return appFromArgs(nil)
}
