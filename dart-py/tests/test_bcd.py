"""Tests of ``dart.BcdStore``: BCD stores created, saved, read back, edited.

What dart writes is also read by an independent reader, libhivex (Debian's
``python3-hivex``, importable only by the system interpreter
``/usr/bin/python3``, so it runs in a subprocess; and ``hivexml``).
"""

from __future__ import annotations

import doctest
import json
import shutil
import struct
import subprocess
from pathlib import Path
from typing import Any

import pytest

import dart
from dart import _dart

SYSTEM_PYTHON = "/usr/bin/python3"
MISSING = "{0badf00d-0000-4000-8000-000000000001}"

# Prints {"objects": [key names under Objects], "descriptions": {key: text}}
# of the hive argv[1], read with libhivex.
HIVEX_LISTING = r"""
import json, sys
import hivex
h = hivex.Hivex(sys.argv[1])
objects = h.node_get_child(h.root(), "Objects")
names, descriptions = [], {}
for obj in h.node_children(objects):
    name = h.node_name(obj)
    names.append(name)
    elements = h.node_get_child(obj, "Elements")
    element = elements and h.node_get_child(elements, "12000004")
    if element:
        value = h.node_get_value(element, "Element")
        descriptions[name] = h.value_string(value)
print(json.dumps({"objects": names, "descriptions": descriptions}))
"""


def hivex_listing(path: Path) -> dict[str, Any]:
    """The store at ``path`` as libhivex reads it (see ``HIVEX_LISTING``)."""
    if not Path(SYSTEM_PYTHON).is_file():
        pytest.skip("no system python3 for python3-hivex")
    probe = subprocess.run([SYSTEM_PYTHON, "-c", "import hivex"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("python3-hivex is not installed (scripts/setup installs it)")
    done = subprocess.run(
        [SYSTEM_PYTHON, "-c", HIVEX_LISTING, str(path)], check=True, capture_output=True, text=True
    )
    listing: dict[str, Any] = json.loads(done.stdout)
    return listing


def two_entry_store() -> tuple[dart.BcdStore, str, str]:
    """A UEFI store with two WinPE entries; the second is the default."""
    store = dart.BcdStore.new("uefi")
    full = store.add_winpe("DaRT (full)", r"\sources\full.wim")
    user = store.add_winpe("DaRT (end user)", r"\sources\user.wim", sdi=r"\boot\user.sdi", default=True)
    store.set_timeout(15)
    return store, full, user


def test_boot_store_error_is_a_dart_error() -> None:
    assert issubclass(dart.BootStoreError, dart.DartError)
    assert dart.BootStoreError.__module__ == "dart._dart"
    assert "BootStoreError" in _dart.__all__ and "BcdStore" in _dart.__all__
    assert dart.BcdStore is _dart.BcdStore


def test_the_docstring_example_runs(tmp_path: Path) -> None:
    finder = doctest.DocTestFinder(recurse=False)
    tests = finder.find(dart.BcdStore, "BcdStore", globs={"path": str(tmp_path / "BCD")})
    assert tests and tests[0].examples
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in tests:
        runner.run(test)
    assert runner.summarize(verbose=False).failed == 0
    assert (tmp_path / "BCD").is_file()


def test_a_new_store_has_objects_but_no_entries() -> None:
    store = dart.BcdStore.new("bios")
    assert store.default is None
    assert store.display_order == []
    objects = store.objects()
    assert objects[0]["alias"] == "{bootmgr}"
    assert objects[0]["name"] == "Windows Boot Manager"
    assert "Windows Boot Manager" in store.text()
    assert repr(store).startswith(f"BcdStore(objects={len(objects)}, default=None")
    with pytest.raises(TypeError):
        dart.BcdStore()


def test_round_trip_through_a_file(tmp_path: Path) -> None:
    store, full, user = two_entry_store()
    assert store.default == user
    assert store.display_order == [full, user]
    store.set_display_order([user, full])
    store.set_default(full)
    path = tmp_path / "BCD"
    store.save(path)

    again = dart.BcdStore.open(path)
    assert again.default == full
    assert again.display_order == [user, full]
    assert again.timeout == 15
    # The same objects; those outside the menu come in stored order, and a
    # saved hive stores keys sorted by name.
    assert sorted(again.objects(), key=lambda o: o["id"]) == sorted(store.objects(), key=lambda o: o["id"])
    assert again.objects()[: 1 + 2] == store.objects()[: 1 + 2]  # {bootmgr}, then the menu
    assert json.loads(again.to_json()) == {"objects": again.objects()}
    by_id = {o["id"]: o for o in again.objects()}
    assert by_id[full]["description"] == "DaRT (full)"
    assert by_id[full]["alias"] == "{default}"
    assert by_id[user]["type"] == "0x10200003"
    elements = {e["name"]: e["value"] for e in by_id[user]["elements"]}
    assert elements["description"] == "DaRT (end user)"
    assert elements["path"].endswith(".efi")
    text = again.text()
    assert "DaRT (full)" in text and "DaRT (end user)" in text
    assert repr(again) == f"BcdStore(objects={len(by_id)}, default='{full}', timeout=15)"

    # Saving over the file replaces it, and ids given by alias resolve.
    again.remove("{default}")
    again.save(path)
    third = dart.BcdStore.open(path)
    assert third.display_order == [user] and third.default == user
    assert full not in {o["id"] for o in third.objects()}


def test_libhivex_reads_the_store(tmp_path: Path) -> None:
    store, full, user = two_entry_store()
    path = tmp_path / "BCD"
    store.save(path)
    listing = hivex_listing(path)
    ids = [o["id"] for o in store.objects()]
    assert sorted(name.lower() for name in listing["objects"]) == sorted(ids)
    descriptions = {k.lower(): v for k, v in listing["descriptions"].items()}
    assert descriptions[full] == "DaRT (full)"
    assert descriptions[user] == "DaRT (end user)"
    if shutil.which("hivexml"):
        xml = subprocess.run(["hivexml", str(path)], check=True, capture_output=True, text=True).stdout
        for id in ids:
            assert id.lower() in xml.lower()


def test_bad_ids_name_the_id_and_change_nothing(tmp_path: Path) -> None:
    store, full, _ = two_entry_store()
    path = tmp_path / "BCD"
    store.save(path)
    saved = path.read_bytes()
    before = store.to_json()
    with pytest.raises(dart.BootStoreError, match=MISSING):
        store.remove(MISSING)
    with pytest.raises(dart.InvalidInputError, match="not-an-id"):
        store.remove("not-an-id")
    with pytest.raises((dart.BootStoreError, dart.InvalidInputError), match=MISSING):
        store.set_default(MISSING)
    with pytest.raises((dart.BootStoreError, dart.InvalidInputError), match=MISSING):
        store.set_display_order([full, MISSING])
    with pytest.raises(dart.BootStoreError, match="not a boot entry"):
        store.set_default("{globalsettings}")
    with pytest.raises(dart.InvalidInputError, match="leaves out the default"):
        store.set_display_order([full])
    with pytest.raises(dart.InvalidInputError, match="timeout"):
        store.set_timeout(1000)
    with pytest.raises(dart.InvalidInputError, match="sources/x.wim"):
        store.add_winpe("X", "sources/x.wim")
    with pytest.raises(dart.InvalidInputError, match="firmware"):
        store.add_winpe("X", r"\sources\x.wim", firmware="both")
    with pytest.raises(TypeError):
        store.set_display_order(full)  # type: ignore[arg-type]
    assert store.to_json() == before
    assert path.read_bytes() == saved


def test_a_dirty_hive_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "BCD"
    two_entry_store()[0].save(path)
    data = bytearray(path.read_bytes())
    primary, secondary = struct.unpack_from("<II", data, 4)
    assert primary == secondary
    struct.pack_into("<I", data, 4, secondary + 1)
    checksum = 0
    for (dword,) in struct.iter_unpack("<I", bytes(data[:508])):
        checksum ^= dword
    struct.pack_into("<I", data, 508, checksum)
    path.write_bytes(bytes(data))
    with pytest.raises(dart.BootStoreError, match="dirty") as raised:
        dart.BcdStore.open(path)
    assert str(path) in str(raised.value)


def test_files_that_are_not_stores(tmp_path: Path) -> None:
    with pytest.raises(dart.NotFoundError, match="missing"):
        dart.BcdStore.open(tmp_path / "missing")
    junk = tmp_path / "junk"
    junk.write_bytes(b"regf" + bytes(8188))
    with pytest.raises(dart.BootStoreError, match="junk"):
        dart.BcdStore.open(junk)
    with pytest.raises(dart.InvalidInputError, match="both"):
        dart.BcdStore.new("both")
    with pytest.raises(dart.InvalidInputError, match="sparc"):
        dart.BcdStore.new("sparc")
