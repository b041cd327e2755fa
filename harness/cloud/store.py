"""In-memory state of the emulated services, per account and region, safe across threads.

The endpoint serves requests on many threads (werkzeug's threaded server), and one Greengrass
call may touch several kinds of state at once — CreateDeployment cancels the previous revision's
job and creates a new one; a device's UpdateJobExecution changes what ListEffectiveDeployments
answers. So each account+region has ONE re-entrant lock, held for a whole operation: every
operation is atomic with respect to every other, as the real services appear to a client. moto's
state is read under the same lock (moto itself does not lock; reads of its dicts are safe).

Like moto's ``BackendDict``, backends are created on first use for any account and region, and
:meth:`CloudStore.reset` forgets everything (``mock_cloud`` does so on entry and exit, as
``mock_aws`` resets moto).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from harness.cloud.greengrass.models import GreengrassBackend
    from harness.cloud.jobs import JobsBackend

Clock = Callable[[], float]


class RegionState:
    """Everything emulated for one account in one region, behind one lock."""

    def __init__(self, account_id: str, region: str, clock: Clock = time.time) -> None:
        from harness.cloud.greengrass.models import GreengrassBackend
        from harness.cloud.jobs import JobsBackend

        self.account_id = account_id
        self.region = region
        self.lock = threading.RLock()
        self.jobs: JobsBackend = JobsBackend(account_id, region, clock)
        self.greengrass: GreengrassBackend = GreengrassBackend(account_id, region, self.jobs, clock)


class CloudStore:
    """All :class:`RegionState` objects, created on first use."""

    def __init__(self, clock: Clock = time.time) -> None:
        self._lock = threading.Lock()
        self._regions: dict[tuple[str, str], RegionState] = {}
        self.clock = clock

    def region(self, account_id: str, region: str) -> RegionState:
        key = (account_id, region)
        with self._lock:
            state = self._regions.get(key)
            if state is None:
                state = self._regions[key] = RegionState(account_id, region, self.clock)
            return state

    @contextmanager
    def locked(self, account_id: str, region: str) -> Iterator[RegionState]:
        """The region's state with its lock held, for one whole operation."""
        state = self.region(account_id, region)
        with state.lock:
            yield state

    def reset(self) -> None:
        with self._lock:
            self._regions.clear()


#: the state of this process's endpoint (the server process has exactly one)
default_store = CloudStore()
