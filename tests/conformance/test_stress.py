"""Concurrency stress: threads subscribe, dispose, read and close at random, on every streaming backend.

About two seconds per backend (ten in all). Afterwards: every worker returned (no deadlock), the client
holds no subscription, the server holds none, and the client's threads and file descriptors are back
where they started.
"""

from __future__ import annotations

import os
import random
import threading
import time

import pytest
from conftest import STREAMING, Target, backends
from polling import wait_until

from pacsys_rx.errors import PacsysError

DRFS = ("M:OUTTMP@p,20", "G:AMANDA@p,50", "M:OUTTMP@p,100", "G:AMANDA@I")
SECONDS = 2.0
WORKERS = 4


def client_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.startswith("pacsys-rx"))


def ignore(_: object) -> None:
    """A subscriber that does nothing."""


def open_fds() -> int:
    return len(os.listdir("/proc/self/fd"))


@pytest.mark.parametrize("target", backends(STREAMING), indirect=True)
def test_random_subscribe_dispose_read_close_leaves_nothing_behind(target: Target) -> None:
    threads_before, fds_before = client_threads(), open_fds()
    backend = target.make()
    deadline = time.monotonic() + SECONDS
    close_at = time.monotonic() + SECONDS * random.uniform(0.6, 0.9)
    failures: list[BaseException] = []

    def work(seed: int) -> None:
        chooser = random.Random(seed)
        held = []
        try:
            while time.monotonic() < deadline:
                action = chooser.random()
                if action < 0.4:
                    drfs = chooser.sample(DRFS, chooser.randint(1, 2))
                    held.append(backend.stream(drfs).subscribe(on_next=ignore, on_error=ignore))
                elif action < 0.75 and held:
                    held.pop(chooser.randrange(len(held))).dispose()
                elif action < 0.85:
                    backend.read("M:OUTTMP").subscribe(on_next=ignore, on_error=ignore)
                elif time.monotonic() > close_at:
                    backend.close()
                time.sleep(chooser.uniform(0.0, 0.01))
            for subscription in held:
                subscription.dispose()
        except PacsysError:
            pass
        except BaseException as error:  # an unexpected exception is a failure of the contract
            failures.append(error)

    workers = [threading.Thread(target=work, args=(seed,), name=f"stress-{seed}") for seed in range(WORKERS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(SECONDS + 10.0)
    assert not any(worker.is_alive() for worker in workers), "a worker deadlocked"
    assert failures == []
    backend.close()
    assert backend.subscription_count() == 0
    wait_until(lambda: target.server_subscriptions() == 0, what="no server-side subscription left")
    wait_until(lambda: client_threads() <= threads_before, timeout=15.0, what="client threads ended")
    wait_until(lambda: open_fds() <= fds_before + 2, what="file descriptors closed")
