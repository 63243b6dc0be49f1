"""Tests of the network boot server through the Python binding: staging
versions into a root, the catalog, TFTP under an access policy, events from
the server's threads, typed errors, stopping (also with a callback busy)."""

from __future__ import annotations

import faulthandler
import socket
import struct
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import dart

# The stand-in UEFI loader: three TFTP blocks.
LOADER = bytes((i * 7 + 3) & 0xFF for i in range(1500))
RESCUE_LOADER = "images/rescue/2/efi/boot/bootx64.efi"
IMAGING_LOADER = "images/win-imaging/1/efi/boot/bootx64.efi"
LOOPBACK_POLICY = {"rules": [{"name": "loopback", "ip": "127.0.0.1", "allow": "recovery"}]}


class TftpError(Exception):
    """An ERROR packet from the server."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"TFTP error {code}: {message}")
        self.code = code
        self.message = message


def tftp_get(addr: tuple[str, int], filename: str, timeout: float = 5.0) -> bytes:
    """Reads a file with a minimal TFTP client (RFC 1350: octet mode,
    512-byte blocks); raises TftpError for an ERROR packet."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(timeout)
        s.sendto(b"\x00\x01" + filename.encode() + b"\x00octet\x00", addr)
        data = bytearray()
        expect = 1
        while True:
            packet, peer = s.recvfrom(1024)
            opcode, number = struct.unpack("!HH", packet[:4])
            if opcode == 5:
                raise TftpError(number, packet[4:].split(b"\x00")[0].decode())
            assert opcode == 3, packet
            if number == (expect - 1) & 0xFFFF:  # a resent block
                s.sendto(struct.pack("!HH", 4, number), peer)
                continue
            assert number == expect & 0xFFFF, (number, expect)
            data += packet[4:]
            s.sendto(struct.pack("!HH", 4, number), peer)
            expect += 1
            if len(packet) - 4 < 512:
                return bytes(data)


def make_media(dir: Path, wim: bytes = b"not really a wim") -> Path:
    for rel, data in {"efi/boot/bootx64.efi": LOADER, "sources/boot.wim": wim}.items():
        path = dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return dir


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """A server root with a recovery image (versions 1 and 2) and an imaging image."""
    root = tmp_path / "root"
    root.mkdir()
    media = make_media(tmp_path / "media")
    dart.stage(media, root, "rescue")
    dart.stage(media, root, "rescue")
    dart.stage(media, root, "win-imaging", role="imaging")
    return root


def wait_for(events: list[dict[str, Any]], match: Callable[[dict[str, Any]], bool]) -> dict[str, Any]:
    """The first event that matches, waiting up to 10 s for it."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for event in list(events):
            if match(event):
                return event
        time.sleep(0.01)
    raise AssertionError(f"no matching event in {events}")


def test_staging_twice_makes_versions_1_and_2(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    calls: list[int] = []
    first = dart.stage(
        make_media(tmp_path / "m1", b"wim one"), root, "rescue", progress=lambda p, i, d, t: calls.append(d)
    )
    assert calls and calls[-1] == first["bytes"]
    assert (first["version"], first["role"], first["arch"]) == (1, "recovery", "x64")
    assert first["uefi_boot"] == "images/rescue/1/efi/boot/bootx64.efi"
    second = dart.stage(str(make_media(tmp_path / "m2", b"wim two")), str(root), "rescue", arch="x64", keep=3)
    assert second["version"] == 2
    assert (root / second["dir"] / "sources/boot.wim").read_bytes() == b"wim two"
    assert (root / first["dir"] / "sources/boot.wim").read_bytes() == b"wim one"
    catalog = dart.read_catalog(root)
    assert catalog["images"] == [second]
    assert catalog["retired"] == [first]
    assert dart.read_catalog(tmp_path) == {"images": [], "retired": []}
    # A root that does not exist yet is created.
    fresh = dart.stage(make_media(tmp_path / "m3", b"wim three"), tmp_path / "srv" / "dart", "rescue")
    assert (tmp_path / "srv" / "dart" / fresh["dir"] / "sources/boot.wim").is_file()


def test_staging_errors_are_typed_and_change_nothing(tmp_path: Path, root: Path) -> None:
    media = make_media(tmp_path / "media")
    before = dart.read_catalog(root)
    with pytest.raises(dart.InvalidInputError, match="image name"):
        dart.stage(media, root, "../escape")
    with pytest.raises(dart.InvalidInputError, match="image role"):
        dart.stage(media, root, "rescue", role="bogus")
    with pytest.raises(dart.InvalidInputError, match="keep"):
        dart.stage(media, root, "rescue", keep=1)
    with pytest.raises(dart.MediaError, match="nope.n12"):
        dart.stage(media, root, "rescue", bios_loader="boot/nope.n12")
    not_a_dir = tmp_path / "a-file"
    not_a_dir.write_bytes(b"x")
    with pytest.raises(dart.InvalidInputError, match="not a directory"):
        dart.stage(media, not_a_dir, "rescue")

    def cancel(phase: str, item: str, done: int, total: int) -> None:
        raise RuntimeError("stop")

    with pytest.raises(dart.CancelledError) as info:
        dart.stage(media, root, "rescue", progress=cancel)
    assert isinstance(info.value.__cause__, RuntimeError)
    assert dart.read_catalog(root) == before


def test_server_serves_recovery_and_refuses_imaging_by_rule(root: Path) -> None:
    events: list[dict[str, Any]] = []
    with dart.BootServer(root, tftp="127.0.0.1:0", policy=LOOPBACK_POLICY, on_event=events.append) as server:
        host, port = server.tftp_address
        assert host == "127.0.0.1" and port != 0
        assert repr(server) == f"BootServer(tftp=127.0.0.1:{port})"
        assert server.catalog() == dart.read_catalog(root)
        assert tftp_get((host, port), RESCUE_LOADER) == LOADER
        finished = wait_for(events, lambda e: e["kind"] == "tftp-finished")
        assert finished["target"] == RESCUE_LOADER

        with pytest.raises(TftpError) as refused:
            tftp_get((host, port), IMAGING_LOADER)
        assert refused.value.code == 2
        assert '"loopback"' in refused.value.message and "win-imaging" in refused.value.message
        denied = wait_for(events, lambda e: e["kind"] == "denied")
        assert denied["rule"] == "loopback"
        assert denied["at"] == "tftp"
        assert denied["target"] == IMAGING_LOADER
        assert denied["client"]["ip"] == "127.0.0.1"
        assert "loopback" in denied["message"]

        # A new policy lets this client boot the imaging image too; a bad
        # one is refused and the policy in force stays.
        server.set_policy({"rules": [{"name": "bench", "ip": "127.0.0.1", "allow": "all"}]})
        assert tftp_get((host, port), IMAGING_LOADER) == LOADER
        with pytest.raises(dart.InvalidInputError, match="sometimes"):
            server.set_policy({"rules": [{"name": "bench", "allow": "sometimes"}]})
        assert tftp_get((host, port), IMAGING_LOADER) == LOADER
        # The client is done when it sends its last ACK; the server's
        # session ends when it has read it, a moment later.
        deadline = time.monotonic() + 5
        while server.active_transfers and time.monotonic() < deadline:
            time.sleep(0.01)
        assert server.active_transfers == 0
    assert all(isinstance(e["message"], str) for e in events)


def test_bad_settings_raise_typed_errors(root: Path, tmp_path: Path) -> None:
    with pytest.raises(dart.InvalidInputError, match="policy: allow \"sometimes\""):
        dart.BootServer(root, tftp="127.0.0.1:0", policy={"rules": [{"name": "a", "allow": "sometimes"}]})
    with pytest.raises(dart.InvalidInputError, match="unique"):
        dart.BootServer(
            root,
            tftp="127.0.0.1:0",
            policy={"rules": [{"name": "a", "allow": "all"}, {"name": "a", "allow": "none"}]},
        )
    with pytest.raises(dart.InvalidInputError, match="policy: .*colour"):
        dart.BootServer(root, tftp="127.0.0.1:0", policy={"colour": "blue"})
    with pytest.raises(dart.InvalidInputError, match="tftp"):
        dart.BootServer(root, tftp="nonsense")
    with pytest.raises(dart.InvalidInputError, match="server_ip"):
        dart.BootServer(root, tftp="127.0.0.1:0", server_ip="10.0.0")
    with pytest.raises(dart.InvalidInputError, match="policy_file"):
        dart.BootServer(root, tftp="127.0.0.1:0", policy=LOOPBACK_POLICY, policy_file=tmp_path / "p.json")
    with pytest.raises(dart.InvalidInputError, match="no-such-if0"):
        dart.BootServer(root, tftp="127.0.0.1:0", proxy_dhcp="no-such-if0")
    with pytest.raises(dart.NotFoundError):
        dart.BootServer(tmp_path / "nowhere", tftp="127.0.0.1:0")
    with pytest.raises(TypeError, match="on_event"):
        dart.BootServer(root, tftp="127.0.0.1:0", on_event="print")  # type: ignore[arg-type]
    with dart.BootServer(root, tftp="127.0.0.1:0") as busy:
        with pytest.raises(dart.IoError, match=str(busy.tftp_address[1])):
            dart.BootServer(root, tftp=f"127.0.0.1:{busy.tftp_address[1]}")


def test_the_boot_server_serves_the_same_files_over_http(root: Path) -> None:
    import http.client

    events: list[dict[str, Any]] = []
    with dart.BootServer(
        root, tftp="127.0.0.1:0", http="127.0.0.1:0", policy=LOOPBACK_POLICY, on_event=events.append
    ) as server:
        address = server.http_address
        assert address is not None and address[0] == "127.0.0.1" and address[1] != 0
        connection = http.client.HTTPConnection(*address, timeout=20)
        connection.request("GET", "/" + RESCUE_LOADER)
        response = connection.getresponse()
        assert response.status == 200 and response.read() == LOADER
        # The same connection, a byte range.
        connection.request("GET", "/" + RESCUE_LOADER, headers={"Range": "bytes=0-3"})
        response = connection.getresponse()
        assert response.status == 206 and response.read() == LOADER[:4]
        connection.request("GET", "/" + IMAGING_LOADER)
        response = connection.getresponse()
        assert response.status == 403 and b"loopback" in response.read()
        denied = wait_for(events, lambda e: e["kind"] == "denied")
        assert denied["at"] == "http" and denied["rule"] == "loopback"
        assert wait_for(events, lambda e: e["kind"] == "http-served")["target"] == "/" + RESCUE_LOADER
        connection.close()
    with dart.BootServer(root, tftp="127.0.0.1:0") as no_http:
        assert no_http.http_address is None
    with pytest.raises(dart.InvalidInputError, match="http"):
        dart.BootServer(root, tftp="127.0.0.1:0", http="80")
    # A boot URL (an export served elsewhere) is checked at start.
    with dart.BootServer(root, tftp="127.0.0.1:0", boot_url="http://boot.example.org/dart/"):
        pass
    with pytest.raises(dart.InvalidInputError, match="base URL"):
        dart.BootServer(root, tftp="127.0.0.1:0", boot_url="ftp://boot.example.org")


def test_policy_file_and_stop(root: Path, tmp_path: Path) -> None:
    policy = tmp_path / "policy.json"
    policy.write_text('{"default": "none"}')
    server = dart.BootServer(root, tftp="127.0.0.1:0", policy_file=policy, max_transfers=4)
    addr = server.tftp_address
    with pytest.raises(TftpError) as refused:
        tftp_get(addr, RESCUE_LOADER)
    assert refused.value.code == 2 and '"default"' in refused.value.message
    server.stop()
    server.stop()
    assert repr(server) == "BootServer(stopped)"
    assert server.active_transfers == 0
    with pytest.raises(dart.DartError, match="stopped"):
        server.tftp_address
    with pytest.raises(dart.DartError, match="stopped"):
        server.catalog()
    # The port is free again.
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(addr)


def test_a_raising_callback_is_reported_and_the_server_goes_on(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    reported: list[BaseException | None] = []
    monkeypatch.setattr(sys, "unraisablehook", lambda u: reported.append(u.exc_value))

    def boom(event: dict[str, Any]) -> None:
        raise ValueError(f"callback failed on {event['kind']}")

    with dart.BootServer(root, tftp="127.0.0.1:0", on_event=boom) as server:
        assert tftp_get(server.tftp_address, RESCUE_LOADER) == LOADER
        assert tftp_get(server.tftp_address, RESCUE_LOADER) == LOADER
    assert reported and all(isinstance(e, ValueError) for e in reported)


def test_stop_returns_while_a_callback_waits_for_the_gil(root: Path) -> None:
    """stop() releases the GIL: a server thread inside the callback can
    finish, so stop does not deadlock against it."""
    in_callback = threading.Event()

    def slow(event: dict[str, Any]) -> None:
        in_callback.set()
        time.sleep(0.3)  # the main thread calls stop() meanwhile

    server = dart.BootServer(root, tftp="127.0.0.1:0", on_event=slow)
    addr = server.tftp_address

    def fetch() -> None:
        try:
            tftp_get(addr, RESCUE_LOADER, timeout=2)
        except (OSError, TftpError, AssertionError):
            pass

    client = threading.Thread(target=fetch)
    client.start()
    # Were stop() to hold the GIL, nothing could run again: the watchdog
    # ends the test run after 60 s instead of hanging it.
    faulthandler.dump_traceback_later(60, exit=True)
    try:
        assert in_callback.wait(10)
        server.stop()
    finally:
        faulthandler.cancel_dump_traceback_later()
    client.join()


def test_a_dropped_server_stops(root: Path) -> None:
    events: list[dict[str, Any]] = []
    server = dart.BootServer(root, tftp="127.0.0.1:0", on_event=events.append)
    addr = server.tftp_address
    assert tftp_get(addr, RESCUE_LOADER) == LOADER
    del server
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(addr)


def test_clients_are_approved_denied_forgotten_and_imported(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    assert dart.list_clients(root) == []
    assert not (root / "dart-clients.db").exists(), "listing creates nothing"
    record = dart.approve_client(
        root, "52:54:00:AA:BB:01", name="bench", allow=["win11-imaging"], boot="win11-imaging"
    )
    assert record["mac"] == "52:54:00:aa:bb:01"
    assert record["state"] == "approved"
    assert record["allow"] == ["win11-imaging"]
    with pytest.raises(dart.InvalidInputError, match='"b"'):
        dart.approve_client(root, "52:54:00:aa:bb:02", allow=["a"], boot="b")
    with pytest.raises(dart.InvalidInputError, match="52:54:zz"):
        dart.approve_client(root, "52:54:zz")
    with pytest.raises(dart.InvalidInputError, match="line 2"):
        dart.import_clients(root, "mac,allow\nnot-a-mac,all\n")
    assert len(dart.list_clients(root)) == 1
    assert dart.import_clients(root, "mac,name,allow\n52:54:00:aa:bb:03,lab,recovery\n") == 1
    assert dart.deny_client(root, "52:54:00:aa:bb:03")["state"] == "denied"
    assert [c["name"] for c in dart.list_clients(root, state="denied")] == ["lab"]
    dart.forget_client(root, "52:54:00:aa:bb:03")
    with pytest.raises(dart.InvalidInputError, match="no such client"):
        dart.forget_client(root, "52:54:00:aa:bb:03")
    assert len(dart.list_clients(root)) == 1
