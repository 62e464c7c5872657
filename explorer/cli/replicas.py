"""`resnet-explorer serve --replicas N`: N Streamlit processes of the app on internal ports of this
machine, and HAProxy in front of them on the public address, as one server.

One Streamlit process runs every student's reruns on one core (issue 24: 100 students waited 2-5 s
at the 95th percentile on one process). HAProxy keeps each browser on one replica with a cookie it
inserts: Streamlit's websocket, its uploads and its media belong to the process that made the
session. The replicas share the data folder's store (the `replicated` setting: the queue, the
quotas, stop requests, the lecturer's screen; explorer/training/run_queue.py), and the first of
them to need it feeds the machine's training workers. The proxy overwrites X-Forwarded-For with
the client's address, so the replicas may trust it (`trusted_proxy`). Ctrl-C stops them all.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

from .. import paths
from .common import UsageError

MAX_REPLICAS = 64
START_SECONDS = 120.0  # a replica imports torch and Streamlit: seconds, more on a loaded machine
STOP_SECONDS = 20.0  # a replica stops its workers on the way out
COOKIE = "resnet_explorer_replica"
CONFIG = """\
# Written by `resnet-explorer serve --replicas {count}`; rewritten at each start.
global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 1h       # a student's websocket stays open for the whole lecture
    timeout server 1h
    timeout tunnel 1h       # the websocket, once upgraded

frontend explorer
    bind {address}:{port}
    default_backend replicas

backend replicas
    balance leastconn
    # each browser stays on the replica that made its session: websocket, uploads and media
    cookie {cookie} insert indirect nocache httponly
    # the client's address, whatever the client sent: the replicas trust it (trusted_proxy = 1)
    http-request set-header X-Forwarded-For %[src]
    option httpchk GET /_stcore/health
{servers}
"""


def check_count(count: int) -> None:
    if not 1 <= count <= MAX_REPLICAS:
        raise UsageError(f"--replicas: {count} is out of range; allowed 1..{MAX_REPLICAS} (about one per core)")


def haproxy() -> str:
    """The haproxy program; UsageError, in one line, where it is missing."""
    found = shutil.which("haproxy")
    if found is None:
        raise UsageError(
            "serve --replicas needs HAProxy in front of the replicas, and it is not installed: "
            "apt-get install -y haproxy (Debian, Ubuntu), then start again"
        )
    return found


def option(options: list[str], name: str, default: str) -> tuple[str, list[str]]:
    """A Streamlit option's value (`--name value` or `--name=value`) and the options without it."""
    value, rest, i = default, [], 0
    while i < len(options):
        item = options[i]
        if item == f"--{name}" and i + 1 < len(options):
            value, i = options[i + 1], i + 2
            continue
        if item.startswith(f"--{name}="):
            value = item.partition("=")[2]
        else:
            rest.append(item)
        i += 1
    return value, rest


def config(count: int, address: str, port: int, ports: list[int]) -> str:
    servers = "\n".join(
        f"    server replica{i} 127.0.0.1:{p} check cookie replica{i}" for i, p in enumerate(ports, start=1)
    )
    return CONFIG.format(count=count, address=address or "*", port=port, cookie=COOKIE, servers=servers)


def free_ports(count: int) -> list[int]:
    import socket

    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def healthy(port: int) -> bool:
    try:
        return urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2).read() == b"ok"
    except OSError:
        return False


def stop_all(processes: list[subprocess.Popen]) -> None:
    """Ask each to end, then kill whoever is still there after STOP_SECONDS."""
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_SECONDS
    for proc in processes:
        try:
            proc.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def run_replicas(count: int, command: list[str], options: list[str], cwd: Path) -> int:
    """Start the replicas, then HAProxy; until Ctrl-C or until one of them ends (then all end)."""
    check_count(count)
    program = haproxy()
    address, options = option(options, "server.address", "127.0.0.1")
    port_text, options = option(options, "server.port", "8501")
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise UsageError(f"--server.port: {port_text!r} is not a port; allowed 1..65535")
    ports = free_ports(count)
    env = {**os.environ, "RESNET_EXPLORER_REPLICATED": "1", "RESNET_EXPLORER_TRUSTED_PROXY": "1"}
    processes: list[subprocess.Popen] = []
    stopping = []

    def on_signal(signum: int, _frame: object) -> None:
        stopping.append(signum)

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for p in ports:
            args = [*command, *options, "--server.address=127.0.0.1", f"--server.port={p}", "--server.headless=true"]
            processes.append(subprocess.Popen(args, cwd=cwd, env=env, start_new_session=True))
        deadline = time.monotonic() + START_SECONDS
        while not stopping and not all(healthy(p) for p in ports):
            if any(proc.poll() is not None for proc in processes) or time.monotonic() > deadline:
                print("error: a replica did not start; see its output above", flush=True)
                return 1
            time.sleep(0.3)
        if stopping:
            return 0
        path = paths.home() / "haproxy.cfg"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(config(count, address, int(port_text), ports))
        processes.append(subprocess.Popen([program, "-db", "-f", str(path)], start_new_session=True))
        shown = address if address not in ("", "0.0.0.0") else "<this machine's address>"
        print(f"{count} replicas behind HAProxy ({path}): http://{shown}:{port_text}", flush=True)
        while not stopping and all(proc.poll() is None for proc in processes):
            time.sleep(0.2)
        return 0 if stopping else 1
    finally:
        stop_all(processes)
        for s, handler in previous.items():
            signal.signal(s, handler)
