"""The image-cache boost: prefer nodes that already hold a pot task's image.

A pot task starts from the image ``pot``/``tag`` of its config.  A node that
holds it (the pot driver reports ``driver.pot.image.<pot>_<tag> = "1"``, see
:mod:`nomadjail.structs.pot_images`) starts the task in well under a second;
any other node first has ``pot prepare`` fetch and import the image.  Nomad
and the Go driver place blindly; here a feasible node that fits gets the
score component ``pot-image``: the share of the group's pot images it holds
(0..1).  It works like Nomad's node affinity: computed only after the
constraints and the resource fit passed (it can never make a node feasible),
and averaged into the final score with the other components only when it is
not zero, so a node without the image is not penalised, merely not boosted.

Like an affinity, the boost lifts the placement limit (Nomad scores every
node when a group has affinities), but only when some candidate node holds
one of the images: otherwise nothing could be boosted and the limit stays.

Images whose ``pot`` or ``tag`` is interpolated (``${...}``) are known only on
the client and give no boost.  Everything here is pure.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ..structs import Node, TaskGroup
from ..structs.pot_images import image_attribute, image_pot_name

SCORER_POT_IMAGE = "pot-image"
POT_DRIVER = "pot"


def group_images(group: TaskGroup) -> tuple[str, ...]:
    """The node attributes naming the images of the group's pot tasks (no duplicates)."""
    found: list[str] = []
    for task in group.tasks:
        if task.driver != POT_DRIVER:
            continue
        pot, tag = task.config.get("pot"), task.config.get("tag")
        if not (isinstance(pot, str) and isinstance(tag, str) and pot and tag):
            continue
        if "${" in pot or "${" in tag:
            continue  # interpolated by the client: not known here
        attribute = image_attribute(image_pot_name(pot, tag))
        if attribute not in found:
            found.append(attribute)
    return tuple(found)


def image_score(attributes: Mapping[str, str], images: tuple[str, ...]) -> float:
    """The share of ``images`` a node with ``attributes`` holds: 0.0 .. 1.0."""
    if not images:
        return 0.0
    held = sum(1 for attribute in images if attributes.get(attribute) == "1")
    return held / len(images)


def any_holder(nodes: Iterable[Node], images: tuple[str, ...]) -> bool:
    """Whether any of ``nodes`` holds at least one of ``images``."""
    return bool(images) and any(node.attributes.get(attribute) == "1"
                                for node in nodes for attribute in images)
