#!/usr/bin/env python3
"""Lives in a network namespace of its own (run under `unshare --net`): prints the
namespace's inode, then for each line "connect N" on stdin makes N loopback connections
(the client closes first) and answers "done"; exits at EOF, and the namespace with it."""
import os
import socket
import subprocess
import sys

subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
lst = socket.socket()
lst.bind(("127.0.0.1", 0))
lst.listen(512)
port = lst.getsockname()[1]
print(f"netns={os.stat('/proc/self/ns/net').st_ino}", flush=True)
for line in sys.stdin:
    n = int(line.split()[1])
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        s, _ = lst.accept()
        c.close()
        s.recv(1)
        s.close()
    print("done", flush=True)
