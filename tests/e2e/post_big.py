#!/usr/bin/env python3
"""POST bodies of 2, 4 and 10 times the server's max_body_bytes with Python's http.client,
declared (Content-Length) and chunked: every one must get the JSON 413.

http.client writes the whole body before it reads a byte of the answer (as requests
does). A server that answers early and closes with the body unread makes the kernel
reset the connection, and the client sees "Broken pipe" instead of the 413; encoderd
reads and drops the rest after answering (lingering close) so that the answer arrives.

Usage: post_big.py PORT MAX_BODY_BYTES    exit 0 when all got their 413, else 1.
"""
import http.client
import json
import sys


def post(port, body, chunked):
    conn = http.client.HTTPConnection('127.0.0.1', port, timeout=60)
    try:
        headers = {'Content-Type': 'application/json'}
        if chunked:
            parts = (body[i:i + 65536] for i in range(0, len(body), 65536))
            conn.request('POST', '/encode', body=parts, headers=headers, encode_chunked=True)
        else:
            conn.request('POST', '/encode', body=body, headers=headers)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def main():
    port, limit = int(sys.argv[1]), int(sys.argv[2])
    failed = 0
    for times in (2, 4, 10):
        body = b'{"text":"' + b'a' * (times * limit) + b'"}'
        for chunked in (False, True):
            what = f'{times}x the limit, {"chunked" if chunked else "declared"}'
            try:
                status, data = post(port, body, chunked)
                error = json.loads(data)['error']
                ok = status == 413 and error['code'] == 413 and error['type'] == 'too_large'
                print(f'{"ok  " if ok else "FAIL"} {what}: {status} {error["message"]}')
            except Exception as e:  # the failure this test is about: BrokenPipeError
                ok = False
                print(f'FAIL {what}: {e!r}')
            failed += not ok
    return 1 if failed else 0


if __name__ == '__main__':
    sys.exit(main())
