"""Tests of the managed-PC side of the Python binding: the recovery
partition set up on a stand-in installed Windows system (added, registered
in its boot store, a UEFI boot entry in a copy of OVMF's variable file),
set up again (nothing changes), BootNext, unregistered; dry runs and
refusals leave every file byte-identical. The stores' contents are checked
with independent tools by the core's tests; here the reports and errors."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dart

OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory, generate_fixture: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fixture")
    return generate_fixture(root, base_bytes=1 << 20, payload_bytes=4096, installed_disk=True)


@pytest.fixture()
def pc(made: dict[str, Any], tmp_path: Path) -> Path:
    """A fresh copy of the installed system's disk."""
    disk = tmp_path / "pc.img"
    shutil.copyfile(made["installed_disk"]["path"], disk)
    return disk


@pytest.fixture()
def uefi_vars(tmp_path: Path) -> Path:
    """A fresh copy of OVMF's variable store template."""
    if not OVMF_VARS.is_file():
        pytest.skip(f"{OVMF_VARS} is missing (package ovmf)")
    vars_file = tmp_path / "OVMF_VARS.fd"
    shutil.copyfile(OVMF_VARS, vars_file)
    return vars_file


def changes(report: dict[str, Any] | None) -> list[dict[str, Any]]:
    assert report is not None
    found: list[dict[str, Any]] = report["changes"]
    return found


def test_exception_tree_has_uefi_variables_error() -> None:
    assert issubclass(dart.UefiVariablesError, dart.DartError)
    assert dart.UefiVariablesError.__doc__ and "UEFI variable store" in dart.UefiVariablesError.__doc__


def test_set_up_registers_adds_a_uefi_entry_and_is_idempotent(made: dict[str, Any], pc: Path, uefi_vars: Path) -> None:
    media = made["media"]
    args: dict[str, Any] = dict(
        register=True,
        uefi_vars=uefi_vars,
        boot_order="last",
        boot_next=True,
        headroom=4 << 20,
        update_if_present=True,
    )
    disk_before, vars_before = pc.read_bytes(), uefi_vars.read_bytes()
    dry = dart.set_up_recovery(pc, media, dry_run=True, **args)
    assert dry["dry_run"] is True and dry["fat"] is None
    assert pc.read_bytes() == disk_before and uefi_vars.read_bytes() == vars_before, "a dry run wrote"

    calls: list[str] = []
    report = dart.set_up_recovery(pc, media, progress=lambda p, i, d, t: calls.append(p), **args)
    assert report["dry_run"] is False and calls
    assert report["added"]["partition"]["number"] == report["partition"]
    registration = report["registration"]
    assert registration["placement"] == "tools" and registration["entry"]
    assert registration["recovery_partition"] == report["partition"] and changes(registration)
    uefi = report["uefi_entry"]
    assert uefi["number"] == 0 and "DaRT Recovery" in uefi["option"]
    names = [c["name"] for c in changes(uefi)]
    assert names == ["Boot0000", "BootOrder", "BootNext"], names
    assert pc.read_bytes() != disk_before and uefi_vars.read_bytes() != vars_before

    # Again: the partition is updated in place; the store and the variables
    # are already as asked.
    disk_now, vars_now = pc.read_bytes(), uefi_vars.read_bytes()
    again = dart.set_up_recovery(pc, media, **args)
    assert again["added"] is None and again["partition"] == report["partition"]
    assert again["updated"]["replaced"] == [] and again["updated"]["added"] == []
    assert changes(again["registration"]) == [] and changes(again["uefi_entry"]) == []
    assert uefi_vars.read_bytes() == vars_now
    assert len(pc.read_bytes()) == len(disk_now)


def test_boot_next_and_unregister(made: dict[str, Any], pc: Path, uefi_vars: Path, tmp_path: Path) -> None:
    fresh = tmp_path / "fresh.fd"
    shutil.copyfile(uefi_vars, fresh)
    dart.set_up_recovery(pc, made["media"], register=True, uefi_vars=uefi_vars, headroom=4 << 20)

    # BootNext: planned, then set, then already set.
    before = uefi_vars.read_bytes()
    plan = dart.set_boot_next(pc, uefi_vars=uefi_vars, dry_run=True)
    assert plan["number"] == 0 and [c["name"] for c in changes(plan)] == ["BootNext"]
    assert uefi_vars.read_bytes() == before, "a dry run wrote"
    dart.set_boot_next(pc, uefi_vars=uefi_vars)
    assert changes(dart.set_boot_next(pc, uefi_vars=uefi_vars)) == []

    # A store without the partition's boot option is refused by name.
    fresh_before = fresh.read_bytes()
    with pytest.raises(dart.DiskError, match="no boot option") as e:
        dart.set_boot_next(pc, uefi_vars=fresh)
    assert str(fresh) in str(e.value)
    assert fresh.read_bytes() == fresh_before

    # Unregister: a dry run writes nothing; then both go, the partition stays.
    disk_before, vars_before = pc.read_bytes(), uefi_vars.read_bytes()
    dry = dart.unregister_recovery(pc, uefi_vars=uefi_vars, dry_run=True)
    assert dry["dry_run"] is True and changes(dry["registration"]) and changes(dry["uefi_entry"])
    assert pc.read_bytes() == disk_before and uefi_vars.read_bytes() == vars_before, "a dry run wrote"
    gone = dart.unregister_recovery(pc, uefi_vars=uefi_vars)
    assert gone["dry_run"] is False and gone["registration"]["removes_backup"]
    assert "Boot0000" in [c["name"] for c in changes(gone["uefi_entry"])]
    with pytest.raises(dart.DiskError, match="no boot option"):
        dart.set_boot_next(pc, uefi_vars=uefi_vars, dry_run=True)
    assert dart.read_disk(pc)["layout"]["partitions"][-1]["kind"] == "windows-recovery"

    # Register alone, on the partition that stayed.
    planned = dart.register_recovery(pc, placement="winre", dry_run=True)
    assert planned["written"] is False and planned["plan"]["placement"] == "winre"
    assert dart.register_recovery(pc, placement="menu")["written"] is True


def test_bitlocker_volume_is_refused_naming_the_disk(made: dict[str, Any], pc: Path, uefi_vars: Path) -> None:
    windows_start = made["installed_disk"]["windows"]["start"]
    with open(pc, "r+b") as f:
        f.seek(windows_start + 3)
        f.write(b"-FVE-FS-")
    disk_before, vars_before = pc.read_bytes(), uefi_vars.read_bytes()
    with pytest.raises(dart.DiskError, match="BitLocker") as e:
        dart.set_up_recovery(pc, made["media"], register=True, uefi_vars=uefi_vars, boot_next=True, headroom=4 << 20)
    assert str(pc) in str(e.value) and "nothing was written" in str(e.value)
    with pytest.raises(dart.DiskError, match="BitLocker") as e:
        dart.unregister_recovery(pc, uefi_vars=uefi_vars)
    assert str(pc) in str(e.value)
    assert pc.read_bytes() == disk_before and uefi_vars.read_bytes() == vars_before
    # Once the admin says protection is suspended, it goes ahead.
    report = dart.set_up_recovery(pc, made["media"], register=True, bitlocker_suspended=True, headroom=4 << 20)
    assert changes(report["registration"])


def test_refusals_write_nothing(made: dict[str, Any], pc: Path, uefi_vars: Path, tmp_path: Path) -> None:
    media = made["media"]
    disk_before = pc.read_bytes()
    with pytest.raises(dart.InvalidInputError, match="top"):
        dart.set_up_recovery(pc, media, register=True, placement="top", headroom=4 << 20)
    with pytest.raises(dart.InvalidInputError, match="sideways"):
        dart.set_up_recovery(pc, media, uefi_vars=uefi_vars, boot_order="sideways", headroom=4 << 20)
    with pytest.raises(dart.InvalidInputError, match="uefi_vars"):
        dart.set_up_recovery(pc, media, boot_next=True, headroom=4 << 20)
    with pytest.raises(dart.InvalidInputError, match="not both"):
        dart.unregister_recovery(pc, uefi_vars=uefi_vars, uefi_efivarfs=True)
    missing = tmp_path / "missing.fd"
    with pytest.raises(dart.NotFoundError, match="missing.fd"):
        dart.set_up_recovery(pc, media, register=True, uefi_vars=missing, headroom=4 << 20)
    assert not missing.exists()
    damaged = tmp_path / "damaged.fd"
    damaged.write_bytes(b"\x5a" * OVMF_VARS.stat().st_size)
    with pytest.raises(dart.UefiVariablesError, match="damaged.fd"):
        dart.set_up_recovery(pc, media, register=True, uefi_vars=damaged, headroom=4 << 20)
    assert damaged.read_bytes() == b"\x5a" * OVMF_VARS.stat().st_size
    assert pc.read_bytes() == disk_before

    # A disk without a boot store: the error says where dart looked.
    plain = tmp_path / "plain.img"
    with open(plain, "wb") as f:
        f.truncate(96 << 20)
    script = "label: gpt\nstart=2048, size=32768, type=EBD0A0A2-B9E5-4433-87C0-68B6B72699C7\n"
    subprocess.run(["sfdisk", "-q", str(plain)], input=script.encode(), check=True)
    plain_before = plain.read_bytes()
    with pytest.raises(dart.DiskError) as e:
        dart.set_up_recovery(plain, media, register=True, headroom=4 << 20)
    assert str(plain) in str(e.value)
    assert plain.read_bytes() == plain_before
