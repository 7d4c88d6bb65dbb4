package config

import (
	"errors"
	"strings"
)

// CmdArgsEnv holds extra command-line arguments, as GUNICORN_CMD_ARGS does for gunicorn: they
// override the config file and are overridden by the real command line.
const CmdArgsEnv = "GOWSGI_CMD_ARGS"

// splitCommandLine splits text into arguments the way a POSIX shell would, without expanding
// anything: blanks separate words, single quotes keep everything literally, double quotes keep
// blanks and let a backslash escape ", \, $ and `, and a backslash outside quotes escapes the
// next character. Operators write GOWSGI_CMD_ARGS='--name "my site"' and expect that to work.
func splitCommandLine(text string) ([]string, error) {
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
