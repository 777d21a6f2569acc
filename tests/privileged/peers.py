#!/usr/bin/env python3
"""One TCP peer of a privileged test scenario, run as its own process (and, for the
network-namespace scenarios, inside its namespace through `ip netns exec`).

    peers.py server --family 4 --bind 127.0.0.1 --port 18501 --mode client_first --count 1
    peers.py client --family 4 --host 127.0.0.1 --port 18501 --mode client_first --count 1

The server prints "ready" once it listens. Modes that need a conductor (simultaneous,
listener_only, never_accept, hold, half_close, flood) read commands from stdin ("shutdown", "close") and answer "ok".
Each peer names itself (--name) so the test can check the comm synfin reports."""
import argparse
import ctypes
import os
import select
import socket
import struct
import sys
import time

PR_SET_NAME = 15


def set_comm(name):
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_NAME, os.fsencode(name)[:15], 0, 0, 0)  # any bytes, as argv gave them


def say(text):
    print(text, flush=True)


def wait_for(command):
    line = sys.stdin.readline().strip()
    if line != command:
        sys.exit(f"peer expected {command!r}, got {line!r}")


def read_until_eof(conn):
    try:
        while conn.recv(4096):
            pass
    except ConnectionResetError:
        pass


def conduct(mode, held, ready, close_first=0):
    """The conducted modes: say `ready`, then shut down and/or close the held sockets when
    told ("shutdown", "close"), answering "ok" each time."""
    for sock in held[:close_first]:
        sock.close()
    say(ready)
    if mode == "simultaneous":
        wait_for("shutdown")
        for sock in held:
            sock.shutdown(socket.SHUT_WR)
        say("ok")
    wait_for("close")
    for sock in held[close_first:]:
        sock.close()
    say("ok")


def serve(a, fam):
    listener = socket.socket(fam, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind((a.bind, a.port))
    # never_accept: listen(0) and never accept(): every connect past the first overflows.
    listener.listen(0 if a.mode == "never_accept" else 4096)
    say("ready")
    if a.mode in ("listener_only", "never_accept"):
        wait_for("close")
        listener.close()
        say("ok")
        return
    held = []
    for _ in range(a.count):
        conn, _ = listener.accept()
        if a.mode == "client_first":
            read_until_eof(conn)
            conn.close()
        elif a.mode == "server_first":
            conn.recv(1)
            conn.close()
        elif a.mode == "linger_abort":  # the client aborts: we see its RST
            conn.send(b"y")
            read_until_eof(conn)
            conn.close()
        elif a.mode == "unread_close":  # data waits unread in our queue: close() resets
            conn.recv(1, socket.MSG_PEEK)
            time.sleep(0.05)
            conn.close()
        elif a.mode == "nagle_close":
            # The second small write waits (Nagle) for the ACK of the first, and the FIN
            # behind it: close() finds the socket still in FIN_WAIT1.
            conn.send(b"a")
            conn.send(b"b")
            conn.shutdown(socket.SHUT_WR)
            conn.close()
        elif a.mode == "shutdown_close":  # close() once the FIN is acknowledged: FIN_WAIT2
            conn.shutdown(socket.SHUT_WR)
            time.sleep(0.3)
            conn.close()
        elif a.mode in ("simultaneous", "hold"):
            held.append(conn)
        elif a.mode == "half_close":  # the peer shut down its side; we keep sending
            read_until_eof(conn)
            say("accepted")
            while not select.select([sys.stdin], [], [], 0.1)[0]:
                conn.send(b"z" * 512)
            wait_for("close")
            conn.close()
            say("ok")
        else:
            sys.exit(f"unknown mode {a.mode}")
    listener.close()
    if a.mode in ("simultaneous", "hold"):
        conduct(a.mode, held, "accepted")


def connect(a, fam):
    sock = socket.socket(fam, socket.SOCK_STREAM)
    if a.source_port:  # a known 4-tuple, for packets crafted into this connection
        sock.bind(("", a.source_port))
    try:
        sock.connect((a.host, a.port))
    except ConnectionRefusedError:
        sock.close()
        say("refused")
        return None
    return sock


def flood(a, fam):
    """Non-blocking connects, held until told to close: their SYNs and retransmissions keep
    knocking on a listener that does not accept."""
    held = []
    for _ in range(a.count):
        sock = socket.socket(fam, socket.SOCK_STREAM)
        sock.setblocking(False)
        try:
            sock.connect((a.host, a.port))
        except BlockingIOError:
            pass
        held.append(sock)
    conduct(a.mode, held, "connected")
    say("done")


def client(a, fam):
    if a.mode == "flood":
        flood(a, fam)
        return
    held = []
    for _ in range(a.count):
        sock = connect(a, fam)
        if sock is None:
            continue
        if a.mode == "client_first":
            sock.send(b"x")
            sock.close()
        elif a.mode == "client_first_settled":
            # Data and FIN right behind the handshake's last ACK can reach XDP before the
            # kernel made the server's socket (its lookup then finds only the listener): let
            # the handshake settle first.
            time.sleep(0.02)
            sock.send(b"x")
            sock.close()
        elif a.mode == "server_first":
            sock.send(b"x")
            read_until_eof(sock)
            sock.close()
        elif a.mode == "linger_abort":
            sock.recv(1)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()
        elif a.mode == "unread_close":
            sock.send(b"unread data")
            read_until_eof(sock)
            sock.close()
        elif a.mode in ("simultaneous", "hold"):
            held.append(sock)
        elif a.mode == "half_close":
            sock.shutdown(socket.SHUT_WR)
            read_until_eof(sock)
            sock.close()
        elif a.mode == "shutdown_hold":  # our FIN sent, socket kept: the peer sits in CLOSE_WAIT
            sock.send(b"x")
            sock.shutdown(socket.SHUT_WR)
            held.append(sock)
        elif a.mode == "refused":
            sock.close()
        elif a.mode in ("nagle_close", "shutdown_close"):  # the server closes first; we linger
            read_until_eof(sock)
            time.sleep(0.6)
            sock.close()
        else:
            sys.exit(f"unknown mode {a.mode}")
    if a.mode in ("simultaneous", "hold", "shutdown_hold"):
        conduct(a.mode, held, "connected", a.close_first)
    say("done")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("role", choices=["server", "client"])
    ap.add_argument("--family", default="4", choices=["4", "6"])
    ap.add_argument("--bind", default=None)
    ap.add_argument("--host", default=None)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--mode", required=True)
    ap.add_argument("--count", type=int, default=1)
    ap.add_argument("--name", default=None)
    ap.add_argument("--source-port", type=int, default=0, help="client: bind this local port")
    ap.add_argument("--close-first", type=int, default=0,
                    help="client, hold mode: close this many at once, hold the rest")
    a = ap.parse_args()
    fam = socket.AF_INET6 if a.family == "6" else socket.AF_INET
    loopback = "::1" if a.family == "6" else "127.0.0.1"
    a.bind = a.bind or loopback
    a.host = a.host or loopback
    set_comm(a.name or ("sf-" + a.role))
    (serve if a.role == "server" else client)(a, fam)


if __name__ == "__main__":
    main()
