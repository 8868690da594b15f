"""Wake readers when the state store moves past an index.

Blocking queries (``?index=N&wait=5m``) and internal loops (scheduler
workers, the plan applier's refresh) wait here.  Threads wait on a
``threading.Condition``; asyncio handlers wait on an ``asyncio.Event`` that the
writer sets through ``loop.call_soon_threadsafe``, so a thousand parked HTTP
long polls cost no threads at all.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable


class IndexWatch:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._async_waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._closed = False

    @property
    def closed(self) -> bool:
        """Whether :meth:`close` was called: waits return at once from then on."""
        return self._closed

    def close(self) -> None:
        """Release every waiter now and make later waits return at once: the agent is
        shutting down and parked long polls must answer instead of holding it up."""
        self._closed = True
        self.notify()

    def notify(self) -> None:
        """Called by the writer after every commit."""
        with self._cond:
            self._cond.notify_all()
        with self._lock:
            waiters = list(self._async_waiters)
        for loop, event in waiters:
            try:
                loop.call_soon_threadsafe(event.set)
            except RuntimeError:  # the loop has closed; its waiter is gone too
                pass

    def wait(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Block the calling thread until ``ready()`` or ``timeout`` seconds pass."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not ready() and not self._closed:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
        return ready()

    async def wait_async(self, ready: Callable[[], bool], timeout: float) -> bool:
        """Await ``ready()`` without holding a thread; False on timeout.  Once the watch
        is closed it returns at once, but still yields to the event loop first, so a
        caller that loops on it cannot starve every other request."""
        if self._closed:
            await asyncio.sleep(0)
            return ready()
        if ready():
            return True
        loop = asyncio.get_running_loop()
        event = asyncio.Event()
        waiter = (loop, event)
        with self._lock:
            self._async_waiters.add(waiter)
        try:
            deadline = loop.time() + timeout
            while not ready():
                if self._closed:
                    return False
                remaining = deadline - loop.time()
                if remaining <= 0:
                    return False
                try:
                    await asyncio.wait_for(event.wait(), remaining)
                except TimeoutError:
                    return ready()
                event.clear()
            return True
        finally:
            with self._lock:
                self._async_waiters.discard(waiter)
