#!/bin/bash
# The image's HEALTHCHECK: GET /health on 127.0.0.1:${ENCODERD_PORT:-8080} and exit 0 on a
# 200. Plain bash (/dev/tcp), so the image needs no curl or wget. encoderd opens its port
# only once the model is loaded, so a 200 means it can serve.
port=${ENCODERD_PORT:-8080}
exec 3<>"/dev/tcp/127.0.0.1/$port" || exit 1
printf 'GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
IFS= read -r -t 5 status <&3 || exit 1
case $status in
    "HTTP/1."?" 200 "*) exit 0 ;;
    *) echo "unhealthy: $status" >&2; exit 1 ;;
esac
