"""Test support shared by the Python tests: synthetic WinPE fixtures.

The library ships no test support; the fixtures come from the ``dart``
command-line tool (``dart fixture DIR``, in ``examples/``), which writes them
and prints where it put things as JSON. The tool is built with cargo (a no-op
when it is current) as ``target/debug/dart``, under ``$CARGO_TARGET_DIR``
when that is set.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]


def dart_cli() -> Path:
    """The ``dart`` CLI: built (or found current) by cargo."""
    target = Path(os.environ.get("CARGO_TARGET_DIR", "target"))
    cli = (target if target.is_absolute() else REPO / target) / "debug" / "dart"
    if shutil.which("cargo"):
        subprocess.run(["cargo", "build", "-q", "-p", "dart-examples", "--bin", "dart"], cwd=REPO, check=True)
    if not cli.is_file():
        pytest.fail(f"the dart CLI is not at {cli}; build it with: cargo build -p dart-examples --bin dart")
    return cli


@pytest.fixture(scope="session")
def generate_fixture() -> Callable[..., dict[str, Any]]:
    """``generate_fixture(root, base_bytes=..., payload_bytes=..., grub=False,
    installed_disk=False)`` writes a synthetic WinPE-like fixture under
    ``root`` with ``dart fixture`` and returns the paths it printed
    (``media``, ``base_wim``, ``payloads``, ``drivers``; with
    ``installed_disk``, ``installed_disk``: a stand-in installed Windows
    system's disk image, its ``path`` and its ``system`` and ``windows``
    partitions)."""
    cli = dart_cli()

    def generate(
        root: Path, *, base_bytes: int, payload_bytes: int, grub: bool = False, installed_disk: bool = False
    ) -> dict[str, Any]:
        args = [str(cli), "fixture", str(root), "--base-bytes", str(base_bytes), "--payload-bytes", str(payload_bytes)]
        if not grub:
            args.append("--no-grub")
        if installed_disk:
            args.append("--installed-disk")
        done = subprocess.run(args, check=True, stdout=subprocess.PIPE, text=True)
        made: dict[str, Any] = json.loads(done.stdout)
        return made

    return generate
