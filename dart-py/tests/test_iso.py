"""Tests of the ISO side of the Python binding: images written by dart,
read back by pycdlib (an independent reader) and xorriso, and ISO images
used as media."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pycdlib
import pytest

import dart


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory, generate_fixture: Callable[..., dict[str, Any]]) -> Path:
    root = tmp_path_factory.mktemp("fixture")
    made = generate_fixture(root, base_bytes=1 << 20, payload_bytes=4096, grub=False)
    return Path(made["media"])


def test_write_iso_reads_back_with_pycdlib(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "dart.iso"
    calls: list[int] = []
    report = dart.write_iso(
        media, out, label="DaRT10", hybrid=True, timestamp=1_700_000_000, progress=lambda p, i, d, t: calls.append(d)
    )
    assert {b["platform"] for b in report["plan"]["boot"]} == {"bios", "uefi"}
    assert out.stat().st_size == report["plan"]["bytes"]
    assert calls
    iso = pycdlib.PyCdlib()
    iso.open(str(out))
    try:
        for rel, size in dart.MediaSet(media).files():
            buf = io.BytesIO()
            iso.get_file_from_iso_fp(buf, joliet_path="/" + rel)
            assert len(buf.getvalue()) == size
            assert buf.getvalue() == (media / rel).read_bytes(), rel
    finally:
        iso.close()
    el_torito = subprocess.run(
        ["xorriso", "-indev", str(out), "-report_el_torito", "plain"], capture_output=True, text=True, check=True
    )
    assert "BIOS" in el_torito.stdout and "UEFI" in el_torito.stdout


def test_plan_writes_nothing_and_is_deterministic(media: Path, tmp_path: Path) -> None:
    a = dart.plan_iso(media, timestamp=1)
    b = dart.plan_iso(media, timestamp=1)
    assert a == b
    assert a["files"] and not list(tmp_path.iterdir())


def test_iso_is_a_media_source(media: Path, tmp_path: Path) -> None:
    first = tmp_path / "first.iso"
    dart.write_iso(media, first, timestamp=5)
    from_iso = dart.MediaSet(first)
    assert from_iso.kind == "iso"
    assert from_iso.files() == dart.MediaSet(media).files()
    assert from_iso.boot_wim is None
    contents = dart.read_iso(first)
    assert contents["names"] == "Joliet"
    assert len(contents["boot_entries"]) == 2
    second = tmp_path / "second.iso"
    dart.write_iso(first, second, timestamp=5)
    assert second.read_bytes() == first.read_bytes()


def test_bad_inputs_raise_typed_errors(media: Path, tmp_path: Path) -> None:
    out = tmp_path / "x.iso"
    with pytest.raises(dart.InvalidInputError, match="volume label"):
        dart.write_iso(media, out, label="x" * 33)
    with pytest.raises(dart.MediaError, match="boot/none.bin"):
        dart.write_iso(media, out, bios_loader="boot/none.bin")
    junk = tmp_path / "junk.iso"
    junk.write_bytes(b"\0" * 40000)
    with pytest.raises(dart.MediaError, match="junk.iso"):
        dart.read_iso(junk)
    assert not out.exists()


def test_raising_progress_cancels_and_leaves_nothing(media: Path, tmp_path: Path) -> None:
    def stop(phase: str, item: str, done: int, total: int) -> None:
        raise RuntimeError("stop")

    out = tmp_path / "x.iso"
    with pytest.raises(dart.CancelledError):
        dart.write_iso(media, out, progress=stop)
    assert list(tmp_path.iterdir()) == []
