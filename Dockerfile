# gowsgi serving examples/flask-hello on port 5000 with 4 workers of 2 threads each.

# Build with the Makefile's own steps: `make build` installs python3-dev with apt (the headers,
# the python3-embed pkg-config file and the static libpython), then builds bin/gowsgi with
# Python linked in.
FROM golang:1.26-bookworm AS build
WORKDIR /src
COPY . .
RUN make build

# Run on the same Debian: Flask for that Python brings python3.11, whose standard library and
# prefix the linked-in interpreter uses.
FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3-flask python3-pastedeploy \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --no-create-home gowsgi
COPY --from=build /src/bin/gowsgi /usr/local/bin/gowsgi
COPY examples/flask-hello /app
WORKDIR /app
USER gowsgi
EXPOSE 5000
CMD ["gowsgi", "app:app", "-b", "0.0.0.0:5000", "-w", "4", "--threads", "2"]
