"""Which pot images a node holds, as the node says and the scheduler reads it.

``pot prepare -p <pot> -t <tag>`` imports the image as the pot ``<pot>_<tag>``
(every ``.`` turned into ``_``, share/pot/prepare.sh) unless a pot of that
name exists already, and then only clones it: starting from an image the node
holds takes well under a second, importing one takes seconds to minutes.  The
pot driver (client side) reports every such pot as the node attribute
``driver.pot.image.<pot>_<tag> = "1"`` and the scheduler (server side) gives
nodes holding a task's image a score boost.  Both compute the name here, so
they cannot disagree.
"""

from __future__ import annotations

IMAGE_ATTRIBUTE_PREFIX = "driver.pot.image."
# At most this many image attributes per node: a node holding more reports the first
# ones by name (sorted), so one node's attributes stay small.
MAX_IMAGE_ATTRIBUTES = 64


def image_pot_name(pot: str, tag: str) -> str:
    """The pot ``pot prepare`` imports the image ``pot``/``tag`` as."""
    return f"{pot}_{tag}".replace(".", "_")


def image_attribute(image_pot: str) -> str:
    """The node attribute saying the node holds ``image_pot`` (see :func:`image_pot_name`)."""
    return IMAGE_ATTRIBUTE_PREFIX + image_pot
