#!/usr/bin/env python3
"""unread_clients.py PORT N BODY_FILE - N clients that send one POST /encode (the body in
BODY_FILE) and do not read the answer, each with a 4 KB receive buffer (set before
connecting, so that the window the server sees stays small). Node's sockets cannot set
SO_RCVBUF, hence this helper of the hostile tests (connections.test.mjs).

Prints "sent N" once every request is written, then holds the sockets, unread, until a
line or the end of stdin. Then, for each socket, prints one JSON line on what its
receive buffer holds (at most 4 KB: the client reads nothing more): {"status": 200, 503,
or 0 for nothing, "retry_after": the header's value or null, "message": the error's
message or null}; and closes them all."""
import json
import re
import socket
import sys

port, n, body_file = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
with open(body_file, "rb") as f:
    body = f.read()
head = ("POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        "Content-Length: %d\r\n\r\n" % len(body)).encode()
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.connect(("127.0.0.1", port))
    s.sendall(head + body)
    socks.append(s)
print("sent", n, flush=True)
sys.stdin.readline()
for s in socks:
    s.setblocking(False)
    try:
        got = s.recv(4096)
    except OSError:
        got = b""
    status = re.match(rb"HTTP/1\.1 (\d{3})", got)
    retry = re.search(rb"\r\nRetry-After: *(\d+)", got, re.I)
    message = re.search(rb'"message":"((?:[^"\\]|\\.)*)"', got)
    print(json.dumps({"status": int(status.group(1)) if status else 0,
                      "retry_after": int(retry.group(1)) if retry else None,
                      "message": message.group(1).decode("utf-8", "replace") if message else None}))
    s.close()
sys.stdout.flush()
