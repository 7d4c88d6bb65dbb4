package pyembed

import (
	"path/filepath"
	"slices"
	"testing"
)

func TestModuleFilesCoverImportsAndFailedLoads(t *testing.T) {
	dir, _ := filepath.Abs("testdata")
	for _, module := range []string{"loadme", "raises_on_import", "syntax_error", "not_there_yet"} {
		_, _ = LoadApp(module, "application", false, "")
	}
	files := ModuleFiles()
	for _, want := range []string{
		filepath.Join(dir, "loadme.py"),           // imported
		filepath.Join(dir, "raises_on_import.py"), // raised while importing, so not in sys.modules
		filepath.Join(dir, "syntax_error.py"),     // never compiled
		filepath.Join(dir, "not_there_yet.py"),    // where creating the module brings the app back
		filepath.Join(dir, "not_there_yet", "__init__.py"),
	} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is not watched; files: %q", want, files)
		}
	}
	for _, f := range files {
		if !filepath.IsAbs(f) {
			t.Errorf("relative path %q", f)
		}
	}
}
