"""Failed destroys: kept, persisted, retried with backoff until the driver succeeds."""

from __future__ import annotations

import threading
import uuid
from itertools import islice

import pytest

from nomadjail.client.pending_destroys import PendingDestroys, backoff
from nomadjail.drivers.base import DriverError, TaskHandle, TaskNotFound
from nomadjail.testing import wait_for


class Destroyer:
    """A driver whose ``destroy_task`` fails ``failures`` times per task (or as often as
    ``failing`` says for that task), then succeeds -- or, with ``gone_after``, says the
    task does not exist."""

    name = "destroyer"

    def __init__(self, failures: int = 0, *, failing: dict[str, int] | None = None,
                 gone_after: bool = False) -> None:
        self.failures = failures
        self.failing = failing or {}
        self.gone_after = gone_after
        self.calls: list[tuple[str, bool]] = []
        self._lock = threading.Lock()

    def destroy_task(self, handle: TaskHandle, force: bool) -> None:
        with self._lock:
            self.calls.append((handle.task_id, force))
            attempts = sum(1 for task_id, _ in self.calls if task_id == handle.task_id)
        if attempts <= self.failing.get(handle.task_id, self.failures):
            raise DriverError("device busy")
        if self.gone_after:
            raise TaskNotFound(f"{handle.task_id} is gone")


class Owner:
    """Plays the task runner: persists what is pending whenever asked."""

    def __init__(self, driver: Destroyer, *, first_delay: float = 0.01,
                 max_delay: float = 0.02) -> None:
        self.alloc_id = str(uuid.uuid4())
        self.persisted: list[list[TaskHandle]] = []
        self.destroys = PendingDestroys(driver=driver, persist=self.persist,
                                        alloc_id=self.alloc_id, task="web",
                                        first_delay=first_delay, max_delay=max_delay)

    def persist(self) -> None:
        self.persisted.append(self.destroys.pending())

    def retrier_running(self) -> bool:
        name = f"destroy-{self.alloc_id[:8]}-web"
        return any(thread.name == name for thread in threading.enumerate())


def handle(n: int = 0) -> TaskHandle:
    return TaskHandle(driver="destroyer", task_id=f"alloc/web/{n}", pid=100 + n)


@pytest.fixture
def owners():
    made: list[Owner] = []

    def make(driver: Destroyer, **delays: float) -> Owner:
        owner = Owner(driver, **delays)
        made.append(owner)
        return owner

    yield make
    for owner in made:
        owner.destroys.shutdown()


def test_a_destroy_that_works_is_done_at_once(owners) -> None:
    driver = Destroyer()
    owner = owners(driver)
    assert owner.destroys.destroy(handle()) is True
    assert owner.destroys.pending() == [] and owner.persisted == []
    assert driver.calls == [("alloc/web/0", True)]  # always forced


def test_task_not_found_means_done(owners) -> None:
    owner = owners(Destroyer(gone_after=True))
    assert owner.destroys.destroy(handle()) is True
    assert owner.destroys.pending() == []


def test_a_failed_destroy_is_persisted_and_retried_until_it_works(owners, caplog) -> None:
    driver = Destroyer(failures=3)
    owner = owners(driver)
    assert owner.destroys.destroy(handle()) is False
    assert owner.persisted == [[handle()]]  # persisted before destroy() returned
    failed = [r for r in caplog.records if "destroying task" in r.getMessage()]
    assert failed[0].levelname == "ERROR" and owner.alloc_id in failed[0].getMessage()
    assert "alloc/web/0 (pid 100) failed; will retry: device busy" in failed[0].getMessage()
    wait_for(lambda: not owner.destroys.pending(), message="retried until it worked")
    assert len(driver.calls) == 4
    wait_for(lambda: owner.persisted[-1] == [], message="the success persisted")
    assert any("failed again" in r.getMessage() for r in caplog.records)


def test_task_not_found_on_a_retry_means_done(owners) -> None:
    driver = Destroyer(failures=1, gone_after=True)
    owner = owners(driver)
    owner.destroys.destroy(handle())
    wait_for(lambda: not owner.destroys.pending(), message="gone on the retry")
    assert len(driver.calls) == 2


def test_a_handle_is_kept_once(owners) -> None:
    owner = owners(Destroyer(failures=100), first_delay=3600)
    owner.destroys.destroy(handle())
    owner.destroys.destroy(handle())
    assert owner.destroys.pending() == [handle()]


def test_each_round_retries_every_handle_and_keeps_those_that_fail(owners) -> None:
    driver = Destroyer(failing={"alloc/web/1": 1, "alloc/web/2": 3})
    owner = owners(driver)
    owner.destroys.restore([handle(1)])  # left by a previous client
    owner.destroys.destroy(handle(2))  # fails: both are retried from now on
    # 1 goes in the second round, 2 in the third; every change is persisted
    wait_for(lambda: owner.persisted[-1:] == [[]], message="both destroyed")
    assert owner.persisted == [[handle(1), handle(2)], [handle(2)], []]
    assert driver.calls.count(("alloc/web/1", True)) == 2
    assert driver.calls.count(("alloc/web/2", True)) == 4


def test_pending_destroys_survive_a_restart(owners) -> None:
    first = owners(Destroyer(failures=100), first_delay=3600)
    first.destroys.destroy(handle())
    first.destroys.shutdown()  # the client stops; the state db keeps what was persisted
    stored = first.persisted[-1]
    assert stored == [handle()]

    driver = Destroyer()
    second = owners(driver)
    second.destroys.restore(stored)
    assert second.destroys.pending() == [handle()]
    second.destroys.start()
    wait_for(lambda: not second.destroys.pending(), message="retried after the restart")
    assert driver.calls == [("alloc/web/0", True)]
    wait_for(lambda: second.persisted and second.persisted[-1] == [],
             message="the success persisted")


def test_start_with_nothing_pending_starts_no_retrier(owners) -> None:
    owner = owners(Destroyer())
    owner.destroys.start()
    assert not owner.retrier_running()


def test_shutdown_stops_the_retries_and_keeps_what_is_pending(owners) -> None:
    owner = owners(Destroyer(failures=100), first_delay=3600)
    owner.destroys.destroy(handle())
    assert owner.retrier_running()
    owner.destroys.shutdown()
    wait_for(lambda: not owner.retrier_running(), message="the retrier stopped")
    assert owner.destroys.pending() == [handle()]
    owner.destroys.start()  # a shut down owner never retries again
    assert not owner.retrier_running()


def test_backoff_doubles_up_to_the_maximum() -> None:
    assert list(islice(backoff(1.0, 60.0), 8)) == [1, 2, 4, 8, 16, 32, 60, 60]
    assert list(islice(backoff(3600.0, 60.0), 3)) == [3600, 60, 60]  # the first is as given
