"""Tests of the disk side of the Python binding: USB images and the recovery
partition, on real image files checked by sfdisk."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dart

MIB = 1 << 20


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, generate_fixture: Callable[..., dict[str, Any]]) -> Path:
    root = tmp_path_factory.mktemp("fixture")
    made = generate_fixture(root, base_bytes=1 << 20, payload_bytes=4096, grub=False)
    return Path(made["media"])


def os_disk(path: Path, size_mib: int = 96) -> None:
    """A GPT disk image with one 16 MiB basic-data partition, made by sfdisk."""
    with open(path, "wb") as f:
        f.truncate(size_mib * MIB)
    script = "label: gpt\nstart=2048, size=32768, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n"
    subprocess.run(["sfdisk", "-q", str(path)], input=script.encode(), check=True)


def test_write_usb_creates_a_bootable_layout(media: Path, tmp_path: Path) -> None:
    img = tmp_path / "usb.img"
    calls: list[tuple[str, int, int]] = []
    report = dart.write_usb(
        media, img, size=48 * MIB, scheme="gpt", progress=lambda p, i, d, t: calls.append((p, d, t))
    )
    assert report["layout"]["scheme"] == "gpt"
    assert report["layout"]["partitions"][0]["kind"] == "efi-system"
    assert calls and calls[-1][1] == calls[-1][2]
    state: dict[str, Any] = dart.read_disk(img)
    assert state["layout"] == report["layout"]
    dump = subprocess.run(["sfdisk", "--dump", str(img)], capture_output=True, text=True, check=True)
    assert "C12A7328-F81F-11D2-BA4B-00A0C93EC93B" in dump.stdout


def test_too_small_target_is_a_disk_error_and_leaves_nothing(media: Path, tmp_path: Path) -> None:
    img = tmp_path / "tiny.img"
    with pytest.raises(dart.DiskError, match="bytes are needed"):
        dart.write_usb(media, img, size=2 * MIB)
    assert not img.exists()


def test_bad_scheme_is_invalid_input(media: Path, tmp_path: Path) -> None:
    with pytest.raises(dart.InvalidInputError, match="mbr or gpt"):
        dart.write_usb(media, tmp_path / "x.img", size=48 * MIB, scheme="apm")


def test_raising_progress_cancels_the_usb_write(media: Path, tmp_path: Path) -> None:
    def stop(phase: str, item: str, done: int, total: int) -> None:
        raise RuntimeError("stop")

    img = tmp_path / "usb.img"
    with pytest.raises(dart.CancelledError) as info:
        dart.write_usb(media, img, size=48 * MIB, progress=stop)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert not img.exists()


def test_recovery_partition_plan_add_update(media: Path, tmp_path: Path) -> None:
    disk = tmp_path / "disk.img"
    os_disk(disk)
    before = disk.read_bytes()[MIB : 17 * MIB]
    plan = dart.plan_recovery(disk, media, headroom=4 * MIB)
    assert plan["partition"]["kind"] == "windows-recovery"
    assert plan["partition"]["attributes"] == 0x8000000000000001
    assert plan["partition"]["start"] == 17 * MIB
    report = dart.add_recovery(disk, media, headroom=4 * MIB)
    assert report["plan"]["after"]["partitions"][1]["number"] == 2
    assert disk.read_bytes()[MIB : 17 * MIB] == before
    dump = subprocess.run(["sfdisk", "--dump", str(disk)], capture_output=True, text=True, check=True)
    assert "DE94BBA4-06D1-4D40-A16A-BFD50179D6AC" in dump.stdout
    update = dart.update_recovery(disk, media)
    assert update["unchanged"] >= 1
    with pytest.raises(dart.DiskError, match="already a FAT32 recovery partition"):
        dart.plan_recovery(disk, media)


def test_unknown_scheme_is_a_disk_error(media: Path, tmp_path: Path) -> None:
    disk = tmp_path / "blank.img"
    with open(disk, "wb") as f:
        f.truncate(64 * MIB)
    with pytest.raises(dart.DiskError, match="unknown partition scheme"):
        dart.plan_recovery(disk, media)
    assert disk.read_bytes() == b"\0" * (64 * MIB)
