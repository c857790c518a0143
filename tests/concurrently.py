"""Work run by several threads at once, each with its own session (and so its own connection),
for the tests that show no write is lost to a race (RELIABILITY.md)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def at_once(work: Callable[[int], T], workers: int) -> list[T | Exception]:
    """``work(i)`` in ``workers`` threads released together; each result, or what it raised,
    in the threads' order."""
    start = threading.Barrier(workers)
    results: list[T | Exception] = [RuntimeError("did not run")] * workers

    def run(i: int) -> None:
        start.wait()
        try:
            results[i] = work(i)
        except Exception as exc:  # noqa: BLE001 - asserted on by the caller
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def failures(results: list[object]) -> list[Exception]:
    return [result for result in results if isinstance(result, Exception)]
