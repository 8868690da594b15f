"""Allocation names (``job.group[N]``) and which indexes are taken.

A task group with ``count = 3`` runs ``web.api[0]``, ``web.api[1]`` and
``web.api[2]``; the index becomes NOMAD_ALLOC_INDEX inside the task, so
placements reuse the lowest free indexes (filling gaps left by stopped
allocations) and scale-downs remove the highest ones.
"""

from __future__ import annotations

from collections.abc import Iterable

from ..structs import Allocation, alloc_name


class AllocNameIndex:
    """The indexes in use by one task group's allocations during one eval.

    Duplicate indexes (two live allocations named ``web[1]``, which can happen
    after destructive updates that also scale up) are remembered so a new
    placement never adds a third.
    """

    __slots__ = ("job_id", "group", "count", "_used", "_duplicates")

    def __init__(self, job_id: str, group: str, count: int, allocs: Iterable[Allocation]):
        self.job_id = job_id
        self.group = group
        self.count = count
        self._used: set[int] = set()
        self._duplicates: dict[int, int] = {}
        for alloc in allocs:
            index = alloc.index
            if index in self._used:
                self._duplicates[index] = self._duplicates.get(index, 0) + 1
            else:
                self._used.add(index)

    def name(self, index: int) -> str:
        return alloc_name(self.job_id, self.group, index)

    def highest(self, n: int) -> set[str]:
        """Release and return the names of the ``n`` highest indexes in use."""
        chosen = sorted(self._used, reverse=True)[:max(n, 0)]
        self._used.difference_update(chosen)
        return {self.name(i) for i in chosen}

    def next(self, n: int) -> list[str]:
        """Claim ``n`` names: free indexes below ``count`` first, lowest first,
        then indexes above it that nobody uses."""
        names: list[str] = []
        index = 0
        while len(names) < n:
            if index not in self._used:
                self._used.add(index)
                names.append(self.name(index))
            index += 1
        return names

    def next_canaries(self, n: int, canaries: Iterable[Allocation],
                      destructive: Iterable[Allocation]) -> list[str]:
        """Claim ``n`` names for canaries (Nomad's NextCanaries): first the names
        of allocations the update replaces (a canary takes over the name of one
        it will replace, so promotion stops that one), then free indexes below
        ``count``, then indexes from ``count`` up -- never a name an existing
        canary holds."""
        taken = {alloc.name for alloc in canaries}
        names: list[str] = []
        replaced = sorted({alloc.index for alloc in destructive if alloc.index < self.count})
        free = [i for i in range(self.count) if i not in self._used]
        for index in (*replaced, *free):
            if len(names) >= n:
                return names
            name = self.name(index)
            if name not in taken and name not in names:
                self._used.add(index)
                names.append(name)
        index = self.count
        while len(names) < n:
            names.append(self.name(index))
            index += 1
        return names

    def is_duplicate(self, index: int) -> bool:
        return self._duplicates.get(index, 0) > 0

    def unset_index(self, index: int) -> None:
        """Forget one holder of ``index`` (a duplicate first, then the index)."""
        if self._duplicates.get(index):
            self._duplicates[index] -= 1
            if not self._duplicates[index]:
                del self._duplicates[index]
        else:
            self._used.discard(index)


def index_from_name(name: str) -> int:
    """The ``N`` of ``job.group[N]`` (0 when the name has no index)."""
    start = name.rfind("[")
    try:
        return int(name[start + 1:-1])
    except ValueError:
        return 0
