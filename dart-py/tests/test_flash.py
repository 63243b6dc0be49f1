"""Tests of the image writer through the Python binding: flash onto image
files (several at once), verify, block maps, typed errors, cancellation."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

import dart

MIB = 1 << 20


@pytest.fixture()
def image(tmp_path: Path) -> Path:
    """A 12 MiB image: data at the start, a hole, data at the end."""
    path = tmp_path / "disk.img"
    with open(path, "wb") as f:
        f.write(os.urandom(3 * MIB))
        f.seek(9 * MIB)
        f.write(os.urandom(3 * MIB))
    return path


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_flash_two_targets_and_verify(image: Path, tmp_path: Path) -> None:
    a, b = tmp_path / "a.img", tmp_path / "b.img"
    calls: list[int] = []
    report = dart.flash(image, [a, b], verify=True, progress=lambda p, i, d, t: calls.append(d))
    assert report["verified"] is True
    assert len(report["bytes_written"]) == 2
    assert digest(a) == digest(b) == digest(image)
    assert calls and calls[-1] > 0
    assert dart.verify(image, a)["bytes_compared"] > 0


def test_a_changed_byte_is_found_at_its_offset(image: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy.img"
    dart.flash(image, [copy])
    with open(copy, "r+b") as f:
        f.seek(10 * MIB + 12345)
        byte = f.read(1)
        f.seek(10 * MIB + 12345)
        f.write(bytes([byte[0] ^ 0xFF]))
    with pytest.raises(dart.DiskError, match=str(10 * MIB + 12345)):
        dart.verify(image, copy)


def test_bmap_round_trip(image: Path, tmp_path: Path) -> None:
    bmap = tmp_path / "disk.bmap"
    made = dart.create_bmap(image, bmap)
    assert made["image_size"] == image.stat().st_size
    assert "<bmap" in bmap.read_text()
    out = tmp_path / "out.img"
    dart.flash(image, [out], verify=True, bmap=bmap)
    assert digest(out) == digest(image)
    bmap.write_text(bmap.read_text().replace("<BlockSize> 4096", "<BlockSize> 4095"))
    with pytest.raises(dart.InvalidInputError, match="disk.bmap"):
        dart.flash(image, [tmp_path / "never.img"], bmap=bmap)
    assert not (tmp_path / "never.img").exists()


def test_errors_and_cancellation(image: Path, tmp_path: Path) -> None:
    with pytest.raises(dart.NotFoundError):
        dart.flash(tmp_path / "missing.img", [tmp_path / "x.img"])
    small = tmp_path / "small.img"
    small.write_bytes(b"\0" * MIB)
    with pytest.raises(dart.DiskError, match="small.img"):
        dart.flash(image, [small])
    assert small.read_bytes() == b"\0" * MIB

    def stop(phase: str, item: str, done: int, total: int) -> None:
        raise RuntimeError("stop")

    target = tmp_path / "cancelled.img"
    with pytest.raises(dart.CancelledError):
        dart.flash(image, [target], progress=stop)
    assert not target.exists()
