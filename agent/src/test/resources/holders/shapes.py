#!/usr/bin/env python3
"""Server shapes whose sockets are held by another process than the one that made them
(HoldersKernelTest). Prints "key=value" lines the test reads, then "ready"; runs until
killed (stdin closed or SIGTERM)."""
import array
import ctypes
import os
import signal
import socket
import sys
import time

LIBC = ctypes.CDLL(None, use_errno=True)
PR_SET_PDEATHSIG = 1

def fork():
    """os.fork(), the child killed with its parent: nothing outlives the test's process."""
    pid = os.fork()
    if pid == 0:
        LIBC.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    return pid

def say(**kv):
    for k, v in kv.items():
        print(f"{k}={v}", flush=True)

def wait_forever():
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
    while True:
        time.sleep(3600)

def connect(port, n):
    out = []
    for _ in range(n):
        c = socket.create_connection(("127.0.0.1", port))
        out.append(c)
    return out

def prefork(port, leak):
    """The parent listens, two workers accept: A leaks `leak` CLOSE_WAIT sockets, B closes."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port))
    lst.listen(128)
    a_done_r, a_done_w = os.pipe()
    b_go_r, b_go_w = os.pipe()
    a = fork()
    if a == 0:
        kept = [lst.accept()[0] for _ in range(leak)]  # never closed: CLOSE_WAIT once the peer closes
        os.write(a_done_w, b"x")
        wait_forever()
    b = fork()
    if b == 0:
        os.read(b_go_r, 1)
        for _ in range(5):
            s, _ = lst.accept()
            s.recv(1)  # EOF: the peer closed
            s.close()
        wait_forever()
    cl = fork()
    if cl == 0:
        lst.close()
        first = connect(port, leak)
        os.read(a_done_r, 1)
        os.write(b_go_w, b"x")
        second = connect(port, 5)
        for s in first + second:
            s.close()
        wait_forever()
    say(parent=os.getpid(), workerA=a, workerB=b, client=cl)
    return [a, b, cl], lst

def scm_rights(port, n):
    """S connects n sockets, hands them to R over a unix socket, closes its copies; the server closes."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port))
    lst.listen(128)
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    handed_r, handed_w = os.pipe()
    r = fork()
    if r == 0:
        lst.close()
        left.close()
        got = []
        while len(got) < n:
            msg, anc, _, _ = right.recvmsg(16, socket.CMSG_SPACE(n * 4))
            for level, typ, data in anc:
                if level == socket.SOL_SOCKET and typ == socket.SCM_RIGHTS:
                    fds = array.array("i")
                    fds.frombytes(data[:len(data) - len(data) % fds.itemsize])
                    got += [socket.socket(fileno=f) for f in fds]
        os.write(handed_w, b"x")
        wait_forever()
    s = fork()
    if s == 0:
        lst.close()
        right.close()
        conns = connect(port, n)
        left.sendmsg([b"x"], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", [c.fileno() for c in conns]))])
        for c in conns:
            c.close()  # the receiver's copies keep them open
        wait_forever()
    right.close()
    left.close()
    accepted = [lst.accept()[0] for _ in range(n)]
    os.read(handed_r, 1)
    time.sleep(0.2)  # the sender closes its copies right after sending
    for c in accepted:
        c.close()  # FIN: the handed-over sockets go to CLOSE_WAIT
    say(server=os.getpid(), sender=s, receiver=r)
    return [r, s], lst

def inherited(port, n):
    """The parent connects, forks: both hold the sockets; the server closes them."""
    lst = socket.socket()
    lst.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lst.bind(("127.0.0.1", port))
    lst.listen(128)
    ready_r, ready_w = os.pipe()
    p = fork()
    if p == 0:
        lst.close()
        conns = connect(port, n)
        c = fork()
        if c == 0:
            wait_forever()
        say(child=c)
        os.write(ready_w, b"x")
        wait_forever()
    accepted = [lst.accept()[0] for _ in range(n)]
    os.read(ready_r, 1)
    for c in accepted:
        c.close()
    say(server=os.getpid(), parent=p)
    return [p], lst

if __name__ == "__main__":
    shape, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    kids, keep = {"prefork": prefork, "scm_rights": scm_rights, "inherited": inherited}[shape](port, n)
    signal.signal(signal.SIGTERM, lambda *a: os._exit(0))  # the children follow (PR_SET_PDEATHSIG)
    print("ready", flush=True)
    try:
        sys.stdin.read()  # until the test closes our stdin or kills us
    finally:
        for k in kids:
            try:
                os.kill(k, signal.SIGKILL)
            except OSError:
                pass
