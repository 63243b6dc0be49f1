"""Tests of the Python binding `dart` against real WIM files.

A small synthetic WinPE fixture (made by the dart CLI, see conftest.py) is
generated once per module; every test writes its outputs under its own
tmp_path.
"""

from __future__ import annotations

import os
import shutil
import signal
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dart
from dart import _dart

EXPLORER_LOCKSMITH = dart.Tools.EXPLORER | dart.Tools.LOCKSMITH


@pytest.fixture(scope="module")
def fixture(tmp_path_factory: pytest.TempPathFactory, generate_fixture: Callable[..., dict[str, Any]]) -> dict[str, Any]:
    root = tmp_path_factory.mktemp("fixture")
    made = generate_fixture(root, base_bytes=1 << 20, payload_bytes=16384, grub=False)
    return dict(made)


def leftovers(directory: Path) -> list[str]:
    """Every file in a directory (outputs and partial outputs alike)."""
    return sorted(p.name for p in directory.iterdir())


# --- module surface ---------------------------------------------------------


def test_package_reexports_the_extension() -> None:
    for name in _dart.__all__:
        assert getattr(dart, name) is getattr(_dart, name), name
    assert dart.__version__ == dart.version() == _dart.__version__
    assert dart.Tools.__module__ == "dart"


def test_exceptions_form_a_tree() -> None:
    kinds = [
        dart.NotFoundError,
        dart.IoError,
        dart.ImageError,
        dart.ToolError,
        dart.InvalidInputError,
        dart.MediaError,
        dart.CancelledError,
    ]
    assert issubclass(dart.DartError, Exception)
    for kind in kinds:
        assert issubclass(kind, dart.DartError)
        assert kind.__module__ == "dart._dart"


def test_tools_is_an_intflag_built_from_the_extension() -> None:
    import enum

    assert issubclass(dart.Tools, enum.IntFlag)
    assert [(t.name, t.value) for t in dart.Tools] == dart.tool_flags()
    both = dart.Tools.EXPLORER | dart.Tools.LOCKSMITH
    assert isinstance(both, dart.Tools)
    assert int(both) == dart.parse_tools("explorer,locksmith") == 32 | 512
    assert dart.Tools.TCPIP_CONFIG == dart.parse_tools("TCP/IP Config")
    assert dart.Tools.REGISTRY_EDITOR in dart.Tools(dart.parse_tools("all"))
    assert dart.parse_tools("none") == 0


def test_tool_info_matches_the_flags() -> None:
    info = dart.tool_info()
    assert len(info) == len(dart.Tools) == 15
    by_name = {t["name"]: t for t in info}
    assert by_name["locksmith"]["flag"] == dart.Tools.LOCKSMITH
    assert by_name["locksmith"]["sensitive"] is True
    assert by_name["explorer"]["sensitive"] is False
    assert by_name["tcpip-config"]["display_name"] == "TCP/IP Config"
    assert by_name["explorer"]["powershell_switch"] == "AddExplorer"
    assert by_name["explorer"]["image_path"] == "/DaRT/Tools/explorer"


def test_unknown_tool_name_is_a_tool_error() -> None:
    with pytest.raises(dart.ToolError, match='"telnet"'):
        dart.parse_tools("explorer,telnet")


def test_support_levels() -> None:
    levels = dart.support_levels()
    assert set(levels) == {"remote", "end-user", "help-desk", "full"}
    assert levels["full"] == int(dart.Tools(dart.parse_tools("all")))
    end_user = dart.Tools(dart.support_level("End-User"))
    assert dart.Tools.DISK_WIPE not in end_user and dart.Tools.LOCKSMITH not in end_user
    assert dart.support_level("remote") == dart.Tools.REMOTE_CONNECTION | dart.Tools.TCPIP_CONFIG
    defined = dart.support_level("tier-1", '{"tier-1": ["explorer", "File Search"]}')
    assert defined == dart.Tools.EXPLORER | dart.Tools.FILE_SEARCH
    with pytest.raises(dart.ToolError, match="gold"):
        dart.support_level("gold")
    with pytest.raises(dart.InvalidInputError):
        dart.support_level("x", "{not json")


# --- inspecting images ------------------------------------------------------


def test_open_base_image(fixture: dict[str, Any]) -> None:
    image = dart.RecoveryImage(fixture["base_wim"])
    assert image.path == fixture["base_wim"]
    assert image.image_count == 2
    assert image.boot_index == 2
    assert image.default_index == 2
    assert image.compression == "lzx"
    assert image.chunk_size > 0
    assert image.file_size == os.path.getsize(fixture["base_wim"])
    assert len(image.guid) == 32
    images = image.images
    assert [i.index for i in images] == [1, 2]
    for info in images:
        assert info.is_winpe
        assert info.architecture == "x64"
        assert info.edition_id == "WindowsPE"
        assert info.installation_type == "WindowsPE"
        assert info.dart_tools is None
        assert info.total_bytes >= 1 << 20
        assert info.file_count > 0 and info.dir_count > 0
    assert images[0].name == "Microsoft Windows PE (x64)"
    assert images[1].description == "Microsoft Windows Setup (x64)"
    assert image.image(2).name == images[1].name
    assert "image_count=2" in repr(image)
    assert "is_winpe=True" in repr(images[0])


def test_open_is_the_constructor(fixture: dict[str, Any]) -> None:
    a = dart.RecoveryImage.open(Path(fixture["base_wim"]))
    b = dart.RecoveryImage(fixture["base_wim"])
    assert a.guid == b.guid and a.to_dict() == b.to_dict()


def test_to_dict(fixture: dict[str, Any]) -> None:
    d = dart.RecoveryImage(fixture["base_wim"]).to_dict()
    assert d["image_count"] == 2 and d["boot_index"] == 2
    assert d["images"][0]["architecture"] == "x64"
    assert d["path"] == fixture["base_wim"]


def test_list_files(fixture: dict[str, Any]) -> None:
    image = dart.RecoveryImage(fixture["base_wim"])
    files = image.list_files(1)
    assert "/Windows/System32/startnet.cmd" in files
    assert "/Windows/" in files
    assert files == sorted(files)
    assert "/sources/setup.exe" in image.list_files(2)
    with pytest.raises(dart.ImageError, match="image index 3"):
        image.list_files(3)
    with pytest.raises(dart.ImageError):
        image.image(0)


# --- building images --------------------------------------------------------


def test_build_image(fixture: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "DaRT.wim"
    report = dart.build_image(fixture["base_wim"], fixture["payloads"], EXPLORER_LOCKSMITH, out)
    assert report["base_index"] == 2
    assert report["compression"] == "lzx"
    [output] = report["outputs"]
    assert output["path"] == str(out)
    assert output["tools"] == ["explorer", "locksmith"]
    assert output["name"] == "DaRT10"
    assert output["bytes"] == out.stat().st_size

    built = dart.RecoveryImage(out)
    assert built.image_count == 1 and built.boot_index == 1
    assert built.images[0].dart_tools == int(dart.Tools.EXPLORER | dart.Tools.LOCKSMITH)
    assert built.images[0].name == "DaRT10"
    files = built.list_files(1)
    assert "/DaRT/Tools/explorer/" in files
    assert "/DaRT/Tools/locksmith/" in files
    assert "/DaRT/Tools/disk-wipe/" not in files
    assert leftovers(tmp_path) == ["DaRT.wim"]


def test_build_image_settings(fixture: dict[str, Any], tmp_path: Path) -> None:
    out = tmp_path / "custom.wim"
    report = dart.build_image(
        fixture["base_wim"],
        fixture["payloads"],
        "explorer, remote connection",
        str(out),
        base_index=1,
        drivers=fixture["drivers"],
        name="Help desk",
        description="DaRT for the help desk",
        remote_port=3388,
        remote_message="Hello",
        scratch_space_mb=128,
        compression="xpress",
        keep_other_images=True,
        deterministic=1_700_000_000,
        threads=1,
    )
    assert report["base_index"] == 1
    assert report["compression"] == "xpress"
    assert report["outputs"][0]["boot_index"] == 1
    built = dart.RecoveryImage(out)
    assert built.image_count == 2 and built.compression == "xpress"
    info = built.image(1)
    assert info.name == "Help desk" and info.description == "DaRT for the help desk"
    assert info.dart_tools == dart.Tools.EXPLORER | dart.Tools.REMOTE_CONNECTION
    assert any(f.startswith("/Windows/System32/DriverStore") or "netkvm" in f for f in built.list_files(1))

    again = tmp_path / "again.wim"
    dart.build_image(
        fixture["base_wim"],
        fixture["payloads"],
        dart.Tools.EXPLORER | dart.Tools.REMOTE_CONNECTION,
        again,
        base_index=1,
        drivers=fixture["drivers"],
        name="Help desk",
        description="DaRT for the help desk",
        remote_port=3388,
        remote_message="Hello",
        scratch_space_mb=128,
        compression="xpress",
        keep_other_images=True,
        deterministic=1_700_000_000,
        threads=1,
    )
    assert again.read_bytes() == out.read_bytes(), "deterministic builds are identical"


def test_build_variants_three_levels(fixture: dict[str, Any], tmp_path: Path) -> None:
    levels = ["remote", "end-user", "full"]
    variants = [(dart.support_level(level), tmp_path / f"{level}.wim") for level in levels]
    report = dart.build_variants(fixture["base_wim"], fixture["payloads"], variants, name="DaRT")
    assert [o["path"] for o in report["outputs"]] == [str(p) for _, p in variants]
    for tools, path in variants:
        built = dart.RecoveryImage(path)
        assert built.images[0].dart_tools == tools
        files = built.list_files(1)
        for t in dart.tool_info():
            assert (t["image_path"] + "/" in files) == bool(tools & t["flag"]), (path, t["name"])
    assert leftovers(tmp_path) == sorted(f"{level}.wim" for level in levels)


def test_build_variants_accepts_names(fixture: dict[str, Any], tmp_path: Path) -> None:
    report = dart.build_variants(
        fixture["base_wim"],
        fixture["payloads"],
        [("explorer", tmp_path / "a.wim"), ("explorer,locksmith", tmp_path / "b.wim")],
    )
    assert [o["tools"] for o in report["outputs"]] == [["explorer"], ["explorer", "locksmith"]]


# --- errors -----------------------------------------------------------------


def test_missing_base_is_not_found(fixture: dict[str, Any], tmp_path: Path) -> None:
    missing = tmp_path / "nope.wim"
    with pytest.raises(dart.NotFoundError) as caught:
        dart.RecoveryImage(missing)
    assert isinstance(caught.value, dart.DartError)
    assert str(missing) in str(caught.value)
    with pytest.raises(dart.NotFoundError):
        dart.build_image(missing, fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "out.wim")
    assert leftovers(tmp_path) == []


def test_not_a_wim_is_an_image_error(fixture: dict[str, Any], tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.wim"
    bogus.write_bytes(b"this is not a WIM file" * 100)
    with pytest.raises(dart.ImageError, match="not a WIM"):
        dart.RecoveryImage(bogus)
    with pytest.raises(dart.ImageError):
        dart.build_image(bogus, fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "out.wim")
    assert leftovers(tmp_path) == ["bogus.wim"]


def test_bad_base_index_is_an_image_error(fixture: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(dart.ImageError, match="image index 7"):
        dart.build_image(fixture["base_wim"], fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "o.wim", base_index=7)
    assert leftovers(tmp_path) == []


def test_unknown_tool_is_a_tool_error(fixture: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(dart.ToolError, match="telnet"):
        dart.build_image(fixture["base_wim"], fixture["payloads"], "explorer,telnet", tmp_path / "o.wim")
    with pytest.raises(dart.ToolError, match="unknown tool .flags 0x100000"):
        dart.build_image(fixture["base_wim"], fixture["payloads"], 1 << 20, tmp_path / "o.wim")
    with pytest.raises(TypeError):
        dart.build_image(fixture["base_wim"], fixture["payloads"], 1.5, tmp_path / "o.wim")  # type: ignore[arg-type]
    assert leftovers(tmp_path) == []


def test_missing_payload_is_a_tool_error(fixture: dict[str, Any], tmp_path: Path) -> None:
    payloads = tmp_path / "payloads"
    shutil.copytree(Path(fixture["payloads"]) / "explorer", payloads / "explorer")
    outputs = tmp_path / "out"
    outputs.mkdir()
    with pytest.raises(dart.ToolError, match="locksmith"):
        dart.build_image(fixture["base_wim"], payloads, EXPLORER_LOCKSMITH, outputs / "o.wim")
    assert leftovers(outputs) == []


def test_invalid_setting_is_an_invalid_input_error(fixture: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(dart.InvalidInputError, match="scratch space"):
        dart.build_image(
            fixture["base_wim"], fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "o.wim", scratch_space_mb=100
        )
    with pytest.raises(dart.InvalidInputError, match="compression"):
        dart.build_image(
            fixture["base_wim"], fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "o.wim", compression="zip"
        )
    with pytest.raises(dart.InvalidInputError, match="same file"):
        dart.build_variants(
            fixture["base_wim"],
            fixture["payloads"],
            [("explorer", tmp_path / "o.wim"), ("locksmith", tmp_path / "o.wim")],
        )
    assert leftovers(tmp_path) == []


# --- progress and cancellation ------------------------------------------------


def test_progress_callback_receives_calls(fixture: dict[str, Any], tmp_path: Path) -> None:
    calls: list[tuple[str, str, int, int]] = []

    def progress(phase: str, item: str, done: int, total: int) -> None:
        calls.append((phase, item, done, total))

    dart.build_image(fixture["base_wim"], fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "o.wim", progress=progress)
    phases = {c[0] for c in calls}
    assert {"validating", "staging", "writing image"} <= phases
    writes = [c for c in calls if c[0] == "writing image"]
    assert writes and all(c[1] == "o.wim" and 0 <= c[2] <= c[3] for c in writes)
    assert writes[-1][2] == writes[-1][3]


def test_raising_progress_callback_cancels(fixture: dict[str, Any], tmp_path: Path) -> None:
    class Stop(Exception):
        pass

    seen: list[str] = []

    def progress(phase: str, item: str, done: int, total: int) -> None:
        seen.append(phase)
        if phase == "writing image":
            raise Stop("enough")

    with pytest.raises(dart.CancelledError, match="cancelled") as caught:
        dart.build_image(
            fixture["base_wim"], fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "o.wim", progress=progress
        )
    assert isinstance(caught.value.__cause__, Stop)
    assert seen.count("writing image") == 1, "no report after the callback raised"
    assert leftovers(tmp_path) == []


def test_raising_early_cancels_variants(fixture: dict[str, Any], tmp_path: Path) -> None:
    def progress(phase: str, item: str, done: int, total: int) -> None:
        raise ValueError(phase)

    variants = [(dart.support_level("remote"), tmp_path / "r.wim"), (dart.support_level("full"), tmp_path / "f.wim")]
    with pytest.raises(dart.CancelledError) as caught:
        dart.build_variants(fixture["base_wim"], fixture["payloads"], variants, progress=progress)
    assert isinstance(caught.value.__cause__, ValueError)
    assert leftovers(tmp_path) == []


def test_ctrl_c_cancels(fixture: dict[str, Any], tmp_path: Path) -> None:
    def progress(phase: str, item: str, done: int, total: int) -> None:
        if phase == "writing image":
            os.kill(os.getpid(), signal.SIGINT)

    # Python's own Ctrl-C handler, whatever this process inherited: a test
    # run started in the background by a non-interactive shell ignores
    # SIGINT, and Python then installs no handler (seen on a fresh clone).
    inherited = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        with pytest.raises(KeyboardInterrupt):
            dart.build_image(
                fixture["base_wim"], fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "o.wim", progress=progress
            )
    finally:
        signal.signal(signal.SIGINT, inherited)
    assert leftovers(tmp_path) == []


def test_progress_must_be_callable(fixture: dict[str, Any], tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="progress"):
        dart.build_image(
            fixture["base_wim"], fixture["payloads"], EXPLORER_LOCKSMITH, tmp_path / "o.wim", progress=42  # type: ignore[arg-type]
        )
    assert leftovers(tmp_path) == []


# --- media ------------------------------------------------------------------


def test_media_set(fixture: dict[str, Any]) -> None:
    media = dart.MediaSet(fixture["media"])
    assert media.root == fixture["media"]
    files = dict(media.files())
    assert {"bootmgr", "boot/bcd", "boot/boot.sdi", "efi/boot/bootx64.efi", "sources/boot.wim"} <= set(files)
    assert files["sources/boot.wim"] == os.path.getsize(fixture["base_wim"])
    assert media.total_bytes == sum(files.values())
    assert media.boot_wim == fixture["base_wim"]
    assert media.uefi_architectures() == ["x64"]
    media.validate("x64")
    media.validate("amd64", "bios")
    with pytest.raises(dart.MediaError, match="bootia32.efi"):
        media.validate("x86", "uefi")
    with pytest.raises(dart.InvalidInputError, match="architecture"):
        media.validate("sparc")
    with pytest.raises(dart.InvalidInputError, match="firmware"):
        media.validate("x64", "coreboot")


def test_media_validate_names_the_missing_file(fixture: dict[str, Any], tmp_path: Path) -> None:
    copy = tmp_path / "media"
    shutil.copytree(fixture["media"], copy)
    (copy / "efi" / "boot" / "bootx64.efi").unlink()
    media = dart.MediaSet(copy)
    media.validate("x64", "bios")
    with pytest.raises(dart.MediaError) as caught:
        media.validate("x64", "both")
    assert "efi/boot/bootx64.efi" in str(caught.value)
    assert media.uefi_architectures() == []
    (copy / "sources" / "boot.wim").unlink()
    assert dart.MediaSet(copy).boot_wim is None
    with pytest.raises(dart.NotFoundError):
        dart.MediaSet(tmp_path / "nowhere")


# --- planning ---------------------------------------------------------------


def test_plan_ranks_three_methods() -> None:
    p = dart.plan(active_directory=True, network_boot_server=True, support_staff="central")
    methods = [a["method"] for a in p["ranking"]]
    assert sorted(methods) == ["network", "recovery-partition", "removable-media"]
    assert p["recommended"][0] == "network" == methods[0]
    assert p["rationale"]
    first = p["ranking"][0]
    assert isinstance(first["score"], int) and first["ruled_out"] is False
    for finding in first["advantages"] + first["disadvantages"]:
        assert finding["id"].startswith("network.")
        assert finding["text"] and 1 <= finding["weight"] <= 5
    assert p["facts"]["support_staff"] == "central"


def test_plan_takes_a_dict() -> None:
    p = dart.plan({"local_storage_available": False})
    partition = next(a for a in p["ranking"] if a["method"] == "recovery-partition")
    assert partition["ruled_out"] is True
    assert p["ranking"][-1]["method"] == "recovery-partition"
    assert dart.plan()["ranking"]


def test_plan_rejects_unknown_facts() -> None:
    with pytest.raises(dart.InvalidInputError, match="bitlockr"):
        dart.plan(bitlockr=True)
    with pytest.raises(dart.InvalidInputError, match="support_staff|on-site"):
        dart.plan(support_staff="everywhere")
    with pytest.raises(TypeError):
        dart.plan({"bitlocker": True}, slow_links=True)
