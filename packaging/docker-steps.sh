#!/bin/sh
# The gowsgi steps of examples/flask-hello/Dockerfile, in one place for the Dockerfile and for
# tests/test_docker_steps.py, which runs them outside Docker against a python.org-layout Python
# (the layout of the python images' /usr/local).
#
#   docker-steps.sh build DIST
#       the gowsgi wheel for $PYTHON (default: the python3 on PATH) in DIST. It links that
#       Python's shared libpython, which every image of that Python has: the slim image, where
#       the wheel is installed, has no static one. Only Go and a C compiler are needed besides
#       that Python, whose headers come with it.
#   docker-steps.sh install WHEELS [REQUIREMENTS]
#       pip install -r REQUIREMENTS (default requirements.txt) with gowsgi's wheel found in
#       WHEELS: the Dockerfile's own pip line, with PIP_FIND_LINKS as its ENV line sets it.
set -eu

usage() {
	echo "usage: $0 build DIST | install WHEELS [REQUIREMENTS]" >&2
	exit 2
}

[ $# -ge 2 ] || usage
source_dir=$(cd "$(dirname "$0")/.." && pwd)
case "$1" in
build)
	python=${PYTHON:-$(command -v python3)}
	exec make -C "$source_dir" --no-print-directory wheel PYTHON="$python" PYTHON_LINK=shared \
		BUILD_PACKAGES="pkg-config gcc" DIST="$(realpath -m "$2")"
	;;
install)
	PIP_FIND_LINKS=$2 exec pip install --no-cache-dir -r "${3:-requirements.txt}"
	;;
*)
	usage
	;;
esac
