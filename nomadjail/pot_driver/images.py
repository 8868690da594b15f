"""The pot images a node holds, as node attributes for the scheduler's image-cache boost.

``pot prepare`` imports an image as the pot ``<pot>_<tag>`` and afterwards
only clones it (:mod:`nomadjail.structs.pot_images`), so every pot that
``pot ls -q`` lists is an image a task could start from at once -- except the
driver's own task pots, ``<task>_<invocation>_<alloc id>``, which no task
starts from (recognised by the allocation ID at the end).  Pots an operator
made by hand count as images: prepare would reuse one of that name just the
same.

The driver lists them at every fingerprint and reports at most
:data:`~nomadjail.structs.pot_images.MAX_IMAGE_ATTRIBUTES` of them (sorted by
name), and learns an image the moment a task's prepare imported it: it then
asks the client to fingerprint again (:meth:`ImageCache.saw` returns True), so
the servers know about it without waiting for the next periodic fingerprint.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterable

from ..structs.pot_images import MAX_IMAGE_ATTRIBUTES, image_attribute

# The end of a task pot's name: "_" and the allocation ID (a UUID).
_TASK_POT = re.compile(r"_[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def is_task_pot(name: str) -> bool:
    """Whether ``name`` is a pot the driver made for a task (not an image)."""
    return bool(_TASK_POT.search(name))


def image_pots(listed: Iterable[str]) -> set[str]:
    """The images among the pots ``pot ls -q`` printed (one name per line)."""
    return {name.strip() for name in listed
            if name.strip() and " " not in name.strip() and not is_task_pot(name.strip())}


class ImageCache:
    """What the driver knows of the node's images; thread safe (fingerprints and task
    starts run in different threads)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._images: set[str] = set()

    def replace(self, images: set[str]) -> None:
        """The node's images as pot listed them just now."""
        with self._lock:
            self._images = set(images)

    def saw(self, image: str) -> bool:
        """A task's prepare left the image ``image`` on the node; True if it is new."""
        with self._lock:
            if image in self._images:
                return False
            self._images.add(image)
            return True

    def attributes(self) -> dict[str, str]:
        """``driver.pot.image.<image> = "1"`` for the first images by name."""
        with self._lock:
            names = sorted(self._images)[:MAX_IMAGE_ATTRIBUTES]
        return {image_attribute(name): "1" for name in names}
