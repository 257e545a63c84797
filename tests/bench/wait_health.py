#!/usr/bin/python3
"""wait_health.py PORT PID: polls GET /health on 127.0.0.1:PORT every 2 ms (a curl per poll
would cost more than the resolution wanted) until it answers 200, then prints the time
(time.time_ns(), the clock of `date +%s%N`). Exits 1 when process PID has exited or after 30 s."""
import socket
import sys
import time

port, pid = int(sys.argv[1]), sys.argv[2]
deadline = time.time() + 30
while time.time() < deadline:
    try:
        with open(f"/proc/{pid}/stat") as f:
            if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                sys.exit("bench: encoderd exited")
    except OSError:
        sys.exit("bench: encoderd exited")
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            if b" 200 " in s.recv(64):
                print(time.time_ns())
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.002)
sys.exit("bench: encoderd did not answer /health in 30 s")
