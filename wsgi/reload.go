package wsgi

import "gowsgi/pyembed"

// ModuleFiles lists the files --reload watches: those of the modules imported so far and those
// a failed load went through.
func ModuleFiles() []string { return pyembed.ModuleFiles() }

// FailingHandler answers every request with 500 and text, the reason the app failed to load:
// what a worker under --reload serves until the app's files change.
func FailingHandler(text string) (*Handler, error) {
	app, err := pyembed.FailureApp(text)
	if err != nil {
		return nil, err
	}
	return NewHandler(app, ""), nil
}
