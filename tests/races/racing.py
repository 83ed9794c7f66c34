"""Racing helpers: N threads, each on its own real database connection, released at once."""

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from django.db import connection, connections

from core.errors import EscrowError


@dataclass
class RaceResult:
    outcomes: Counter = field(default_factory=Counter)
    # Anything but a domain refusal (a deadlock, an IntegrityError, a 500 ...) is a bug.
    unexpected: list[str] = field(default_factory=list)
    values: list[object] = field(default_factory=list)


def race(actions: list[Callable[[], object]], *, label: Callable[[int], str] | None = None) -> RaceResult:
    """Run each action in its own thread, all released by one barrier. Outcomes are counted as
    `<label>:ok` or `<label>:<ErrorClass>`; the label defaults to the action's position."""
    barrier = threading.Barrier(len(actions))
    result = RaceResult()
    lock = threading.Lock()

    def worker(i: int, action: Callable[[], object]) -> None:
        name = label(i) if label else str(i)
        try:
            barrier.wait(timeout=60)
            value = action()
            outcome = f"{name}:ok"
            with lock:
                result.values.append(value)
        except EscrowError as exc:
            outcome = f"{name}:{type(exc).__name__}"
        except Exception as exc:  # noqa: BLE001 - everything else is reported as a failure
            outcome = f"{name}:UNEXPECTED"
            with lock:
                result.unexpected.append(f"{type(exc).__name__}: {exc}")
        finally:
            connections.close_all()
        with lock:
            result.outcomes[outcome] += 1

    threads = [threading.Thread(target=worker, args=(i, a)) for i, a in enumerate(actions)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a racing thread hung"
    return result


@contextmanager
def connection_pool(size: int) -> Iterator[None]:
    """Give every racing thread its own connection: grow psycopg's pool (10 by default) for
    the race and put the configured one back afterwards."""
    options = connection.settings_dict.setdefault("OPTIONS", {})
    pool = options.get("pool")
    if not pool:
        yield
        return
    original = dict(pool) if isinstance(pool, dict) else pool
    connections.close_all()
    connection.close_pool()
    options["pool"] = {**(pool if isinstance(pool, dict) else {}), "max_size": size, "timeout": 60}
    try:
        yield
    finally:
        connections.close_all()
        connection.close_pool()
        options["pool"] = original
