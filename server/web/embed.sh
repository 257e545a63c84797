#!/bin/sh
# Writes, on stdout, the C table of the visualizer's files (api_web_file, server/web.h):
# index.html is served at /, every other file at /web/<name>, each with its Content-Type
# (from its extension) and a strong ETag (the first 20 hex digits of its SHA-256).
# Usage: server/web/embed.sh FILE...   (the Makefile writes build/gen/web_assets.c)
set -eu
echo '/* generated from server/web/ by server/web/embed.sh (make) */'
echo '#include "web.h"'
i=0
for f in "$@"; do
    echo "static const unsigned char file$i[] = {"
    od -An -v -tx1 "$f" | sed 's/\([0-9a-f][0-9a-f]\)/0x\1,/g'
    echo '0};'
    i=$((i + 1))
done
echo 'const api_web_file encoderd_web_files[] = {'
i=0
for f in "$@"; do
    name=$(basename "$f")
    case "$name" in
        index.html) path=/ ;;
        *) path=/web/$name ;;
    esac
    case "$name" in
        *.html) type='text/html; charset=utf-8' ;;
        *.css) type='text/css; charset=utf-8' ;;
        *.js | *.mjs) type='text/javascript; charset=utf-8' ;;
        *.json) type='application/json' ;;
        *.svg) type='image/svg+xml' ;;
        *.png) type='image/png' ;;
        *.txt) type='text/plain; charset=utf-8' ;;
        *) echo "embed.sh: no Content-Type for $name" >&2; exit 1 ;;
    esac
    hash=$(sha256sum "$f" | cut -c1-20)
    echo "    {\"$path\", \"$type\", file$i, sizeof file$i - 1, \"\\\"$hash\\\"\"},"
    i=$((i + 1))
done
echo '};'
echo "const size_t encoderd_web_files_len = $i;"
