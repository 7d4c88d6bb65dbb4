package config

import (
	"fmt"
	"strings"
	"unicode"
)

// defaultAttr is the variable gunicorn looks up when APP_MODULE names only a module.
const defaultAttr = "application"

// ParseAppSpec splits APP_MODULE into module, variable and factory arguments. Only the shape is
// checked here; whether the module imports and the variable exists is for the worker's Python to
// find out, and the factory arguments are left for Python to evaluate as literals.
func ParseAppSpec(raw string) (AppSpec, error) {
	spec := AppSpec{Raw: raw, Attr: defaultAttr}
	if raw == "" {
		return spec, fmt.Errorf("invalid APP_MODULE %q: it is empty", raw)
	}
	module, attr, hasAttr := strings.Cut(raw, ":")
	if err := checkModulePath(module); err != nil {
		return spec, fmt.Errorf("invalid APP_MODULE %q: %v", raw, err)
	}
	spec.Module = module
	if !hasAttr {
		return spec, nil
	}
	if attr == "" {
		return spec, fmt.Errorf("invalid APP_MODULE %q: no variable name after \":\"", raw)
	}
	if open := strings.IndexByte(attr, '('); open >= 0 {
		if !strings.HasSuffix(attr, ")") {
			return spec, fmt.Errorf("invalid APP_MODULE %q: the factory call must end with \")\"", raw)
		}
		spec.Call = true
		spec.Args = attr[open+1 : len(attr)-1]
		attr = attr[:open]
	}
	if !isIdentifier(attr) {
		return spec, fmt.Errorf("invalid APP_MODULE %q: %q is not a valid Python variable name", raw, attr)
	}
	spec.Attr = attr
	return spec, nil
}

func checkModulePath(module string) error {
	if module == "" {
		return fmt.Errorf("no module name before \":\"")
	}
	for _, part := range strings.Split(module, ".") {
		if !isIdentifier(part) {
			return fmt.Errorf("%q is not a valid Python module name", module)
		}
	}
	return nil
}

// isIdentifier approximates Python's identifier rule: a letter or underscore, then letters,
// digits or underscores, Unicode included.
func isIdentifier(name string) bool {
	if name == "" {
		return false
	}
	for i, r := range name {
		letter := r == '_' || unicode.IsLetter(r)
		if !letter && (i == 0 || !unicode.IsDigit(r)) {
			return false
		}
	}
	return true
}
