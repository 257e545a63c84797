#!/bin/sh
# The image's entry point: encoderd on the config in $ENCODERD_CONFIG (default
# /etc/encoderd/config.json: 0.0.0.0:8080, the random `base` model), the port in
# $ENCODERD_PORT when set (the HEALTHCHECK reads the same variable), then the arguments
# given to `docker run IMAGE ...` (e.g. --model /models/NAME; a later --config wins).
# ENCODERD_API_KEY is read by encoderd itself. exec: encoderd is PID 1 and gets SIGTERM.
set -e
config=${ENCODERD_CONFIG:-/etc/encoderd/config.json}
if [ -n "${ENCODERD_PORT:-}" ]; then
    exec /usr/local/bin/encoderd --config "$config" --port "$ENCODERD_PORT" "$@"
fi
exec /usr/local/bin/encoderd --config "$config" "$@"
