"""The images a node holds, fingerprinted for the scheduler's image-cache boost."""

from __future__ import annotations

import shlex

from nomadjail.pot_driver import PotDriver
from nomadjail.pot_driver.images import ImageCache, image_pots, is_task_pot
from nomadjail.structs.pot_images import MAX_IMAGE_ATTRIBUTES, image_pot_name

from .double import PotDouble, run_double

ALLOC = "0b8c7d2e-1f3a-4b5c-8d9e-0a1b2c3d4e5f"


def shell(script: str) -> dict:
    return {"command": "/bin/sh", "args": ["-c", shlex.quote(script)]}


def test_task_pots_are_not_images_and_pots_name_is_the_schedulers() -> None:
    assert is_task_pot(f"web_v2_1a2b3c4d_{ALLOC}")
    assert not is_task_pot("nginx-only_1_0") and not is_task_pot("my-own-jail")
    assert image_pots([f"web_1a2b_{ALLOC}", "nginx-only_1_0", "", "  base_13_2  "]) == {
        "nginx-only_1_0", "base_13_2"}
    assert image_pot_name("nginx-only", "1.0") == "nginx-only_1_0"  # prepare's tr '.' '_'


def test_the_attributes_are_bounded_and_a_known_image_is_not_new() -> None:
    cache = ImageCache()
    cache.replace({f"img{i:03d}_1_0" for i in range(MAX_IMAGE_ATTRIBUTES + 10)})
    attributes = cache.attributes()
    assert len(attributes) == MAX_IMAGE_ATTRIBUTES
    assert "driver.pot.image.img000_1_0" in attributes and all(
        value == "1" for value in attributes.values())
    assert cache.saw("img000_1_0") is False
    assert cache.saw("fresh_2_0") is True and cache.saw("fresh_2_0") is False


def test_a_start_that_imports_an_image_asks_for_a_fingerprint_that_shows_it(
        pot_driver: PotDriver, pot_double: PotDouble, task_config) -> None:
    asked: list[int] = []
    pot_driver.notify_fingerprint_changes(lambda: asked.append(1))
    assert "driver.pot.image.nginx-only_1_0" not in pot_driver.fingerprint().attributes

    handles = [pot_driver.start_task(task_config(shell("exit 0"), name=f"t{i}"))
               for i in range(2)]
    for handle in handles:
        pot_driver.wait_task(handle)
    assert asked == [1]  # the first start imported the image; the second reused it
    attributes = pot_driver.fingerprint().attributes
    assert {k: v for k, v in attributes.items() if k.startswith("driver.pot.image.")} == {
        "driver.pot.image.nginx-only_1_0": "1"}  # the task pots are not images

    for handle in handles:
        pot_driver.destroy_task(handle, True)
    assert run_double(pot_double, "destroy", "-p", "nginx-only_1_0").returncode == 0
    assert "driver.pot.image.nginx-only_1_0" not in pot_driver.fingerprint().attributes
