package config

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// CmdArgsEnv and GunicornCmdArgsEnv hold extra command-line arguments: they override the config
// file and are overridden by the real command line; where both give a setting, CmdArgsEnv's
// value wins.
const (
	CmdArgsEnv         = "GOWSGI_CMD_ARGS"
	GunicornCmdArgsEnv = "GUNICORN_CMD_ARGS"
)

// SplitCommandLine splits text into arguments the way a POSIX shell would, without expanding
// anything: blanks separate words, single quotes keep everything literally, double quotes keep
// blanks and let a backslash escape ", \, $ and `, and a backslash outside quotes escapes the
// next character. Operators write GOWSGI_CMD_ARGS='--name "my site"' and expect that to work.
func SplitCommandLine(text string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord := false
	runes := []rune(text)
	for i := 0; i < len(runes); i++ {
		switch r := runes[i]; {
		case r == ' ' || r == '\t' || r == '\n':
			if inWord {
				words = append(words, word.String())
				word.Reset()
				inWord = false
			}
		case r == '\'':
			end := indexRune(runes, i+1, '\'')
			if end < 0 {
				return nil, errors.New("unterminated single quote")
			}
			word.WriteString(string(runes[i+1 : end]))
			i, inWord = end, true
		case r == '"':
			i++
			for ; i < len(runes) && runes[i] != '"'; i++ {
				if runes[i] == '\\' && i+1 < len(runes) && strings.ContainsRune("\"\\$`", runes[i+1]) {
					i++
				}
				word.WriteRune(runes[i])
			}
			if i == len(runes) {
				return nil, errors.New("unterminated double quote")
			}
			inWord = true
		case r == '\\':
			if i+1 == len(runes) {
				return nil, errors.New("backslash at the end")
			}
			i++
			word.WriteRune(runes[i])
			inWord = true
		default:
			word.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}

func indexRune(runes []rune, from int, target rune) int {
	for i := from; i < len(runes); i++ {
		if runes[i] == target {
			return i
		}
	}
	return -1
}

// expandPrefixes writes out long options given as an unambiguous prefix ("--thread=8" for
// --threads), as gunicorn's argparse command line accepts them. Values are left alone: the word
// after an option that takes one is its value, whatever it looks like.
func expandPrefixes(fs *pflag.FlagSet, args []string) ([]string, error) {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		arg := args[i]
		if arg == "--" {
			return append(out, args[i:]...), nil
		}
		var flag *pflag.Flag
		switch {
		case strings.HasPrefix(arg, "--"):
			name, value, hasValue := strings.Cut(arg[2:], "=")
			if flag = fs.Lookup(name); flag == nil {
				var err error
				if flag, err = flagByPrefix(fs, name); err != nil {
					return nil, err
				}
				if flag != nil {
					arg = "--" + flag.Name
					if hasValue {
						arg += "=" + value
					}
				}
			}
			if hasValue {
				flag = nil
			}
		case len(arg) == 2 && arg[0] == '-':
			flag = fs.ShorthandLookup(arg[1:])
		}
		out = append(out, arg)
		if flag != nil && flag.NoOptDefVal == "" && i+1 < len(args) {
			i++
			out = append(out, args[i])
		}
	}
	return out, nil
}

// flagByPrefix is the one flag whose name starts with prefix, nil for none; more than one is
// an error, as in argparse.
func flagByPrefix(fs *pflag.FlagSet, prefix string) (*pflag.Flag, error) {
	if prefix == "" {
		return nil, nil
	}
	var matches []*pflag.Flag
	fs.VisitAll(func(f *pflag.Flag) {
		if strings.HasPrefix(f.Name, prefix) && !f.Hidden {
			matches = append(matches, f)
		}
	})
	switch len(matches) {
	case 0:
		return nil, nil
	case 1:
		return matches[0], nil
	}
	names := make([]string, len(matches))
	for i, f := range matches {
		names[i] = "--" + f.Name
	}
	return nil, fmt.Errorf("ambiguous option: --%s could match %s", prefix, strings.Join(names, ", "))
}
