"""Media with a built image (``wim=``) or several behind a boot menu
(``images=``), from Python."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dart


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, generate_fixture: Callable[..., dict[str, Any]]) -> Path:
    root = tmp_path_factory.mktemp("menu-fixture")
    made = generate_fixture(root, base_bytes=1 << 20, payload_bytes=4096)
    return Path(made["media"])


def test_images_go_behind_a_menu_and_replace_boot_wim(media: Path, tmp_path: Path) -> None:
    full = tmp_path / "full.wim"
    basic = tmp_path / "basic.wim"
    shutil.copy(media / "sources" / "boot.wim", full)
    shutil.copy(media / "sources" / "boot.wim", basic)
    plan = dart.plan_iso(media, images=[("DaRT (full)", full), ("DaRT (basic)", basic)], default="DaRT (basic)", timeout=5)
    paths = {f["path"].lower() for f in plan["files"]}
    assert "sources/dart-full.wim" in paths and "sources/dart-basic.wim" in paths
    assert "sources/boot.wim" not in paths
    iso = tmp_path / "menu.iso"
    dart.write_iso(media, iso, images=[("DaRT (full)", full), ("DaRT (basic)", basic)], timestamp=1)
    assert iso.stat().st_size > 2 * full.stat().st_size


def test_a_built_wim_takes_the_place_of_boot_wim(media: Path, tmp_path: Path) -> None:
    usb = tmp_path / "usb.img"
    built = tmp_path / "built.wim"
    shutil.copy(media / "sources" / "boot.wim", built)
    report = dart.write_usb(media, usb, size=64 << 20, wim=built)
    assert usb.is_file() and report["fat"]["files"] > 0
    with pytest.raises(dart.ImageError, match="bootmgr"):
        dart.write_usb(media, tmp_path / "never.img", size=64 << 20, wim=media / "bootmgr")
    assert not (tmp_path / "never.img").exists()


def test_bad_menu_arguments_name_the_value(media: Path, tmp_path: Path) -> None:
    wim = media / "sources" / "boot.wim"
    with pytest.raises(dart.InvalidInputError, match="nope"):
        dart.plan_iso(media, images=[("A", wim)], default="nope")
    with pytest.raises(dart.InvalidInputError, match="2019"):
        dart.plan_iso(media, images=[("A", wim)], boot_manager="2019")
