"""HTTP worker processes that each listen on a socket of their own, so the kernel spreads
connections across them evenly.

uvicorn's ``--workers`` share one listening socket and whichever worker wakes first takes the
connection: under the fraud benchmark's load one of two workers took 82 to 96% of them while
the other idled (bench/RESULTS.md, 2026-12-03). Here every worker binds the port with
``SO_REUSEPORT`` and the kernel hashes each new connection to one of their sockets. The parent
holds the port bound but not listening — a port in use fails at once, and no connection is
queued where nobody accepts — restarts a worker that dies, and stops them all on SIGINT or
SIGTERM. Where the platform has no ``SO_REUSEPORT`` the caller falls back to uvicorn's own.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import signal
import socket
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from multiprocessing.process import BaseProcess

import uvicorn

from trustdesk.settings import load_settings

logger = logging.getLogger("trustdesk.web.workers")
SUPPORTED = hasattr(socket, "SO_REUSEPORT")
STARTUP_FAILURE = 3  # uvicorn's exit status for a worker that could not start serving
_BACKLOG = 2048  # uvicorn's default
_ORPHAN_CHECK_SECONDS = 1.0
_GRACE_SECONDS = 25  # under Workers._stop_all's 30 s join


@dataclass(frozen=True)
class WorkerSpec:
    """What a worker process needs to build the same application as the parent would."""

    host: str
    port: int
    config_path: str | None
    fixed_now: datetime | None
    log_level: str = "warning"


def _port_socket(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def serve_worker(spec: WorkerSpec, parent: int) -> None:
    """A worker process's body: its own listening socket, the application, uvicorn.

    ``parent`` is the supervisor's pid as the supervisor knew it: read here, after the spawn,
    it would already be init's for a worker whose supervisor died while starting it, and that
    worker would never notice it was orphaned."""
    from trustdesk.web.app import create_app

    threading.Thread(target=_stop_when_orphaned, args=(parent,), daemon=True).start()
    try:
        sock = _port_socket(spec.host, spec.port)
        sock.listen(_BACKLOG)
    except OSError as error:
        logger.error("worker cannot listen on %s:%s: %s", spec.host, spec.port, error)
        raise SystemExit(STARTUP_FAILURE) from None
    fixed = spec.fixed_now
    try:
        app = create_app(
            load_settings(spec.config_path),
            clock=(lambda: fixed) if fixed is not None else (lambda: datetime.now(UTC)),
        )
    except Exception:  # restarting would fail the same way: tell the parent to stop
        logger.exception("worker cannot build the application")
        raise SystemExit(STARTUP_FAILURE) from None
    # forwarded headers are the app's to believe or not (web.proxies), never uvicorn's
    # an orphan has nobody to kill it after SIGTERM: open connections get as long as the
    # supervisor's own stop gives them (Workers._stop_all), then the worker ends anyway
    config = uvicorn.Config(
        app,
        log_level=spec.log_level,
        proxy_headers=False,
        timeout_graceful_shutdown=_GRACE_SECONDS,
    )
    uvicorn.Server(config).run(sockets=[sock])


def _stop_when_orphaned(parent: int) -> None:
    """Stop this worker, as SIGTERM does, once its parent is gone. A parent killed outright
    (SIGKILL, the OOM killer) cannot stop its workers, and one left serving would hold its
    socket of the port beside the next ``serve``'s workers: the kernel would go on handing it
    connections, answered by the old code and configuration."""
    while os.getppid() == parent:
        time.sleep(_ORPHAN_CHECK_SECONDS)
    logger.warning("the supervisor (pid %s) is gone: stopping", parent)
    os.kill(os.getpid(), signal.SIGTERM)


class Workers:
    """``count`` processes running :func:`serve_worker`, kept at that number until stopped."""

    def __init__(self, spec: WorkerSpec, count: int) -> None:
        self.spec = spec
        self.count = count
        self._context = multiprocessing.get_context("spawn")  # no threads copied from here
        self._stopping = threading.Event()
        self.processes: list[BaseProcess] = []

    def run(self) -> int:
        """Serve until SIGINT or SIGTERM; the exit status (1 when a worker could not start)."""
        reserved = _port_socket(self.spec.host, self.spec.port)  # OSError: port taken
        previous = {
            sig: signal.signal(sig, lambda *_: self._stopping.set())
            for sig in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            self.processes = [self._start() for _ in range(self.count)]
            return self._supervise()
        finally:
            self._stop_all()
            reserved.close()
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def _start(self) -> BaseProcess:
        process = self._context.Process(target=serve_worker, args=(self.spec, os.getpid()))
        process.start()
        return process

    def _supervise(self) -> int:
        while not self._stopping.wait(0.5):
            for index, process in enumerate(self.processes):
                if process.is_alive():
                    continue
                if process.exitcode == STARTUP_FAILURE:
                    logger.error("a worker could not start (exit %s)", process.exitcode)
                    return 1
                logger.warning(
                    "worker %s exited (%s); starting another", process.pid, process.exitcode
                )
                self.processes[index] = self._start()
        return 0

    def _stop_all(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.terminate()  # SIGTERM: uvicorn finishes the requests it has
        for process in self.processes:
            process.join(timeout=30)
            if process.is_alive():
                process.kill()
                process.join()
