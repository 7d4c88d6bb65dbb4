# Build, run, test and benchmark gowsgi on Debian. Each target first installs the Debian
# packages it needs that are missing, so a fresh machine needs only `make run` or `make test`.

# Go from PATH when there is one, else from its usual install location.
export PATH := $(PATH):/usr/local/go/bin
# pyembed is cgo: without a C compiler Go would quietly build without it and fail later.
export CGO_ENABLED := 1

# Debian packages: what compiling needs (cgo against pkg-config's python3-embed), what running
# and testing the examples needs (prometheus: the metrics test scrapes gowsgi with it and checks
# a scrape with its promtool), and what only the benchmark needs.
BUILD_PACKAGES := pkg-config gcc python3-dev
RUN_PACKAGES := python3-flask python3-django python3-gevent python3-pastedeploy python3-pytest \
	python3-requests python3-venv curl strace nginx openssl prometheus
BENCH_PACKAGES := wrk gunicorn uwsgi uwsgi-plugin-python3

# The interpreter gowsgi embeds: the one pkg-config's python3-embed describes, so that the tests
# and the benchmark see the same site-packages as gowsgi, never whichever python3 is first on
# PATH. Expanded only when used, after the deps targets have installed pkg-config.
PYTHON ?= $(shell version=$$(pkg-config --modversion python3-embed 2>/dev/null) \
	&& echo "$$(pkg-config --variable=exec_prefix python3-embed)/bin/python$$version" \
	|| echo /usr/bin/python3)

# How the Go commands link pyembed with PYTHON: static links its libpython archive into the
# binary, which makes Python's own code faster (pyembed/link_static.go); shared links its shared
# libpython, found at run time through a run path to its directory (pyembed/link_shared.go).
# Empty takes the archive when that Python has one (python3-dev brings Debian's), else the
# shared library. Either way the headers and the library are PYTHON's own.
PYTHON_LINK ?=

# Where `make build` writes the binary.
BINARY ?= bin/gowsgi

# The environment of the Go commands that build pyembed, as a prefix of the command: it stops
# the recipe when PYTHON cannot be linked as PYTHON_LINK asks (pyembed/linkflags.py says why)
# rather than let cgo fall back to whichever python3-embed pkg-config finds.
GO_ENV = link_env="$$($(PYTHON) pyembed/linkflags.py $(PYTHON_LINK))" && eval "export $$link_env" &&

# The fuzz targets make test runs after the unit tests, as package/target, one go test each (it
# takes one -fuzz pattern), FUZZ_TIME each on top of their seed corpora in the package's
# testdata/fuzz: a bounded search for new failures on every run. Minimizing a newly interesting
# input could take most of a short run, so it gets FUZZ_MINIMIZE at most.
FUZZ_TARGETS := httpwire/FuzzRequestHead httpwire/FuzzChunkedBody httpwire/FuzzProxyHeader httpwire/FuzzHTTPConn
FUZZ_TIME ?= 15s
FUZZ_MINIMIZE ?= 3s

# make wheel builds the binary for PYTHON in a directory of its own (bin/gowsgi, which the
# tests run, is left alone) and packages it with packaging/wheel.py as a wheel in DIST that pip
# installs into a virtualenv of that Python.
DIST ?= dist
WHEEL_BUILD ?= build/py$(shell $(PYTHON) -c 'import sys; print("%d.%d" % sys.version_info[:2])')

# What make test-python runs against a build for PYTHON: the Go tests of the packages that run
# Python, and the pytest files that serve apps with the embedded interpreter. Their tests of apps
# that need Flask, gevent, Django or PasteDeploy skip where that Python cannot import them.
PYTHON_GO_PACKAGES := ./pyembed/ ./wsgi/
PYTHON_PYTEST_FILES := $(addprefix tests/,test_environ.py test_input.py test_response.py test_apps.py \
	test_embedding.py test_hooks.py test_timeout.py test_signals_crash.py test_preload.py \
	test_lifecycle.py test_python_logging.py test_venv.py test_cli.py)

# pytest runs under Debian's python3, which has pytest and requests, whichever Python gowsgi
# embeds: the tests reach gowsgi from outside and ask it which Python it embeds.
PYTEST := /usr/bin/python3 -m pytest

# Extra options for bench/bench.py, e.g. make bench BENCH_FLAGS="--duration 5 --only gowsgi".
BENCH_FLAGS ?=

# apt_install installs those of the named Debian packages that are not installed, with one
# `apt-get update` before, and does nothing when all are there. pkg-config counts as there when
# the command is, whichever package provides it.
define apt_install
	@missing=""; \
	for package in $(1); do \
		if [ "$$package" = pkg-config ] && command -v pkg-config >/dev/null 2>&1; then continue; fi; \
		dpkg-query -W -f='$${Status}' "$$package" 2>/dev/null | grep -q "install ok installed" \
			|| missing="$$missing $$package"; \
	done; \
	if [ -n "$$missing" ]; then \
		echo "installing Debian packages:$$missing"; \
		sudo=""; [ "$$(id -u)" -eq 0 ] || sudo=sudo; \
		$$sudo apt-get update -q \
			&& $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q $$missing; \
	fi
endef

.DEFAULT_GOAL := build
.PHONY: go-check build-deps deps bench-deps build wheel run test test-python test-python-go test-matrix bench bench-preload clean

go-check:
	@command -v go >/dev/null 2>&1 || { \
		echo "make: Go 1.26 is needed: install it in /usr/local/go or put go on PATH" >&2; exit 1; }

build-deps: go-check
	$(call apt_install,$(BUILD_PACKAGES))

deps: go-check
	$(call apt_install,$(BUILD_PACKAGES) $(RUN_PACKAGES))

bench-deps: go-check
	$(call apt_install,$(BUILD_PACKAGES) $(RUN_PACKAGES) $(BENCH_PACKAGES))

build: build-deps
	$(GO_ENV) go build -o $(BINARY) ./cmd/gowsgi

wheel: build-deps
	$(MAKE) --no-print-directory build BINARY=$(WHEEL_BUILD)/gowsgi
	$(PYTHON) packaging/wheel.py $(WHEEL_BUILD)/gowsgi $(DIST)

run: deps build
	cd examples/flask-hello && ../../bin/gowsgi app:app -b 127.0.0.1:8000

test: deps build
	@unformatted="$$(gofmt -l .)"; if [ -n "$$unformatted" ]; then \
		echo "gofmt -l: these files need gofmt -w:" >&2; echo "$$unformatted" >&2; exit 1; fi
	$(GO_ENV) go vet ./...
	@others="$$($(GO_ENV) go list -deps -test ./httpwire/... | grep '^gowsgi/' \
		| grep -Ev '^gowsgi/httpwire(/|_test|\.test| |$$)')"; if [ -n "$$others" ]; then \
		echo "httpwire and its tests must import no other gowsgi package, so that the engine" >&2; \
		echo "builds and is tested without Python; they import:" >&2; echo "$$others" >&2; exit 1; fi
	$(GO_ENV) go test ./...
	for target in $(FUZZ_TARGETS); do \
		$(GO_ENV) go test -run '^$$' -fuzz "^$${target#*/}\$$" -fuzztime $(FUZZ_TIME) \
			-fuzzminimizetime $(FUZZ_MINIMIZE) "./$${target%/*}/" || exit 1; \
	done
	$(PYTEST) tests
	/usr/bin/python3 tests/matrix.py

# The version matrix alone: see tests/matrix.py.
test-matrix: deps
	/usr/bin/python3 tests/matrix.py

# make test-python-go PYTHON=/path/to/python3.X [PYTHON_LINK=...] runs the Go tests of the
# packages that call Python's C API, linked with that Python (the version matrix runs it for each).
test-python-go: build-deps
	$(GO_ENV) go test $(PYTHON_GO_PACKAGES)

# make test-python PYTHON=/path/to/python3.X [PYTHON_LINK=static|shared] [BINARY=PATH] builds
# gowsgi for that Python into BINARY, by default build/pythonX.Y.Z-LINK/gowsgi so that the
# bin/gowsgi the main suite runs stays Debian's, then runs the tests above against it.
test-python: BINARY = build/python$(shell $(PYTHON) -c 'import platform; print(platform.python_version())')-$(or $(PYTHON_LINK),auto)/gowsgi
test-python: deps build test-python-go
	GOWSGI_BINARY=$(abspath $(BINARY)) GOWSGI_TEST_LINK=$(PYTHON_LINK) $(PYTEST) $(PYTHON_PYTEST_FILES)

bench: bench-deps build
	$(PYTHON) bench/bench.py $(BENCH_FLAGS)

bench-preload: bench-deps build
	$(PYTHON) bench/preload.py

clean:
	rm -rf bin build dist .pytest_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
