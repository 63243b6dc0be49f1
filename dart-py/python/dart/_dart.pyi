"""Save and deploy Windows PE recovery images (the extension module of `dart`)."""

import os
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Literal, TypedDict, final

from typing_extensions import NotRequired, TypeAlias, Unpack

_StrPath: TypeAlias = str | os.PathLike[str]
# Tools as flags (an int or ``dart.Tools``) or as names ("explorer,locksmith").
_ToolsArg: TypeAlias = int | str
# progress(phase, item, done, total); raising cancels the call.
_Progress: TypeAlias = Callable[[str, str, int, int], object]
# on_event(event), called from the boot server's threads with a dict: "kind",
# "message" and, when known, "client", "target", "rule", "at".
_OnEvent: TypeAlias = Callable[[dict[str, Any]], object]

__version__: str

class DartError(Exception):
    """Base class of every error the dart library raises."""

class NotFoundError(DartError):
    """An input file or directory does not exist."""

class IoError(DartError):
    """The operating system refused a read or a write."""

class ImageError(DartError):
    """A WIM file is not a WIM, is damaged or lacks the image asked for, or composing it failed."""

class ToolError(DartError):
    """A tool or support level name is unknown, or a selected tool has no payload."""

class InvalidInputError(DartError):
    """A setting or argument has a value it does not accept."""

class MediaError(DartError):
    """A media set lacks a file it needs to boot."""

class CancelledError(DartError):
    """A long operation was cancelled; its partial output was removed."""

class DiskError(DartError):
    """A disk or device: mounted or in use, too small, full, unreadable, or its partition table or file system cannot be used."""

class BootStoreError(DartError):
    """A BCD store is damaged, dirty (Windows left changes in its log files), not a BCD store, lacks the object named, or does not allow the edit."""

class UefiVariablesError(DartError):
    """A UEFI variable store (efivarfs or an OVMF variable file) is damaged, full, changed since the plan was made, or lacks the boot option named."""

class _ToolInfo(TypedDict):
    name: str
    display_name: str
    powershell_switch: str
    flag: int
    sensitive: bool
    image_path: str

class _Recipe(TypedDict, total=False):
    """The settings every image of a build shares: the keywords of
    ``build_image`` and ``build_variants`` (dart-core's ``ImageRecipe``).

    A keyword not listed raises ``TypeError``; a value the recipe does not
    take raises ``InvalidInputError`` naming the keyword.
    """

    base_index: int | None
    drivers: _StrPath | None
    name: str | None
    description: str | None
    remote_port: int | None
    remote_message: str | None
    scratch_space_mb: int | None
    winpeshl_ini: str | None
    startnet_cmd: str | None
    compression: str | None
    keep_other_images: bool
    deterministic: int | None
    threads: int

class _OutputReport(TypedDict):
    path: str
    tools: list[str]
    name: str
    boot_index: int
    bytes: int

class _BuildReport(TypedDict):
    base: str
    base_index: int
    compression: str
    outputs: list[_OutputReport]

class _ImageInfoDict(TypedDict):
    index: int
    name: str | None
    description: str | None
    architecture: str | None
    edition_id: str | None
    installation_type: str | None
    is_winpe: bool
    total_bytes: int
    file_count: int
    dir_count: int
    dart_tools: list[str] | None

class _WimInfo(TypedDict):
    path: str
    guid: str
    image_count: int
    boot_index: int | None
    compression: str
    chunk_size: int
    file_size: int
    images: list[_ImageInfoDict]

class _Finding(TypedDict):
    id: str
    method: str
    side: str
    text: str
    weight: int

class _Assessment(TypedDict):
    method: str
    score: int
    advantages: list[_Finding]
    disadvantages: list[_Finding]
    ruled_out: bool

class _Plan(TypedDict):
    facts: dict[str, Any]
    ranking: list[_Assessment]
    recommended: list[str]
    rationale: list[str]

def version() -> str:
    """The library version."""

def tool_flags() -> list[tuple[str, int]]:
    """Every tool flag as ``(NAME, value)``, in flag order."""

def tool_info() -> list[_ToolInfo]:
    """What the library knows about every tool, in flag order."""

def parse_tools(names: str) -> int:
    """Parses a tool list (``"explorer, Registry Editor"``, ``"all"``, ``"none"``) into flags."""

def support_level(name: str, definitions_json: str | None = None) -> int:
    """The tools of a built-in or defined support level, as flags."""

def support_levels() -> dict[str, int]:
    """The built-in support levels, name to flags."""

def plan(facts: dict[str, Any] | None = None, /, **kwargs: Any) -> _Plan:
    """Ranks the three deployment methods for a site and recommends a combination.

    The site facts (see dart-core's ``SiteFacts``) are given as one dict or as
    keywords, not both; unknown facts raise ``InvalidInputError``.
    """

def build_image(
    base: _StrPath,
    payloads: _StrPath,
    tools: _ToolsArg,
    output: _StrPath,
    *,
    progress: _Progress | None = None,
    **settings: Unpack[_Recipe],
) -> _BuildReport:
    """Builds one recovery image; returns the build report.

    The keywords are the recipe's settings (``_Recipe``). Everything is
    checked before anything is written; on any error no output file is
    created or changed. The GIL is released while the image is built.
    ``progress(phase, item, done, total)`` is called from time to time; if it
    raises, the build is cancelled and ``CancelledError`` is raised with the
    callback's exception as ``__cause__``. Ctrl-C cancels the build as well
    and the ``KeyboardInterrupt`` propagates. A cancelled build leaves no
    output.
    """

def build_variants(
    base: _StrPath,
    payloads: _StrPath,
    variants: Sequence[tuple[_ToolsArg, _StrPath]],
    *,
    progress: _Progress | None = None,
    **settings: Unpack[_Recipe],
) -> _BuildReport:
    """Builds several variants (support levels) of a recovery image in one pass.

    ``variants`` holds ``(tools, output)`` tuples. The keywords, progress and
    cancellation are as for ``build_image``.
    """

@final
class ImageInfo:
    """One image inside a WIM file."""

    @property
    def index(self) -> int: ...
    @property
    def name(self) -> str | None: ...
    @property
    def description(self) -> str | None: ...
    @property
    def architecture(self) -> str | None: ...
    @property
    def edition_id(self) -> str | None: ...
    @property
    def installation_type(self) -> str | None: ...
    @property
    def is_winpe(self) -> bool: ...
    @property
    def total_bytes(self) -> int: ...
    @property
    def file_count(self) -> int: ...
    @property
    def dir_count(self) -> int: ...
    @property
    def dart_tools(self) -> int | None: ...

def write_usb(
    media: _StrPath,
    target: _StrPath,
    *,
    size: int | None = None,
    scheme: str = "mbr",
    label: str = "DART",
    timestamp: int | None = None,
    wim: _StrPath | None = None,
    images: list[tuple[str, _StrPath]] | None = None,
    default: str | None = None,
    timeout: int | None = None,
    uefi_arch: str | None = None,
    boot_manager: str | None = None,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """Writes a bootable USB stick (or USB disk image) from a media directory.

    ``target`` is a block device or an existing image file, or, with
    ``size``, a new image file of that many bytes (removed again if the write
    fails). ``scheme`` is ``"mbr"`` (one active FAT32 partition, BIOS and
    UEFI) or ``"gpt"`` (a FAT32 EFI System Partition). A mounted or in-use
    device, or the running system's disk, raises ``DiskError`` before
    anything is written. Returns the layout and file-system report.
    """

def write_iso(
    media: _StrPath,
    output: _StrPath,
    *,
    label: str = "DART",
    hybrid: bool = False,
    boot_info_table: bool | None = None,
    bios_loader: str | None = None,
    timestamp: int | None = None,
    wim: _StrPath | None = None,
    images: list[tuple[str, _StrPath]] | None = None,
    default: str | None = None,
    timeout: int | None = None,
    uefi_arch: str | None = None,
    boot_manager: str | None = None,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """Writes a bootable ISO 9660 + Joliet image of ``media`` (a directory or
    an ISO image) to ``output``, replaced only once the new image is complete.

    El Torito entries: BIOS (``boot/etfsboot.com`` or isolinux, or
    ``bios_loader``; ``boot_info_table`` defaults to on for isolinux only)
    and UEFI (``efi/microsoft/boot/efisys.bin``, or a FAT image built from
    ``efi/boot/``). ``hybrid`` adds an MBR and a GPT so the same file boots
    when written raw to a USB stick. A fixed ``timestamp`` gives
    byte-identical output. Returns the layout written.
    """

def plan_iso(
    media: _StrPath,
    *,
    label: str = "DART",
    hybrid: bool = False,
    boot_info_table: bool | None = None,
    bios_loader: str | None = None,
    timestamp: int | None = None,
    wim: _StrPath | None = None,
    images: list[tuple[str, _StrPath]] | None = None,
    default: str | None = None,
    timeout: int | None = None,
    uefi_arch: str | None = None,
    boot_manager: str | None = None,
) -> dict[str, Any]:
    """Lays out the ISO image of ``media`` without writing anything: boot
    entries with their blocks, size, files."""

def read_iso(path: _StrPath) -> dict[str, Any]:
    """Reads an ISO image's file tree (Joliet, Rock Ridge or ISO 9660 names)
    and El Torito entries, read-only. A UDF-only image raises ``MediaError``
    naming UDF."""

def flash(
    image: _StrPath,
    targets: Sequence[_StrPath],
    *,
    verify: bool = False,
    bmap: _StrPath | None = None,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """Writes ``image`` onto every target (block devices or image files;
    paths that do not exist become new image files) in one pass over the
    image, skipping what holds no data: the ranges left out of the block map
    ``bmap`` (bmaptool's XML), or the image file's holes.

    The first and last MiB of each target are zeroed first and written last,
    so a cancelled or failed write leaves targets that boot nothing.
    ``progress`` counts bytes flushed to every target. ``verify`` reads each
    target back, bypassing the page cache, and raises ``DiskError`` naming
    the first byte that differs. Mounted or in-use devices, the system disk
    and targets smaller than the image raise ``DiskError`` before anything
    is written.
    """

def verify(
    image: _StrPath,
    target: _StrPath,
    *,
    bmap: _StrPath | None = None,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """Reads ``target`` back (bypassing the page cache) and compares it with
    ``image`` over the image's mapped ranges and its first and last MiB;
    raises ``DiskError`` naming the first differing byte."""

def create_bmap(image: _StrPath, output: _StrPath) -> dict[str, Any]:
    """Writes the block map of ``image`` to ``output`` in bmaptool's XML
    format (SHA-256 per range) and returns it."""

def read_disk(disk: _StrPath) -> dict[str, Any]:
    """Reads a disk's partition table (read-only): the layout firmware would
    use, plus both GPT copies. Raises ``DiskError`` for an unknown scheme or
    a GPT whose copies are both unusable."""

def plan_recovery(
    disk: _StrPath,
    media: _StrPath,
    *,
    size: int | None = None,
    headroom: int | None = None,
    wim: _StrPath | None = None,
) -> dict[str, Any]:
    """Plans a recovery partition for ``media`` in ``disk``'s free space
    without writing: layouts before and after, BitLocker volumes, notes."""

def add_recovery(
    disk: _StrPath,
    media: _StrPath,
    *,
    size: int | None = None,
    headroom: int | None = None,
    label: str = "DART",
    timestamp: int | None = None,
    wim: _StrPath | None = None,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """Adds a FAT32 Windows RE partition holding ``media`` in free space;
    other partitions are never moved, shrunk or written. The partition table
    is switched last, so an interruption leaves the old table."""

def update_recovery(
    disk: _StrPath,
    media: _StrPath,
    *,
    timestamp: int | None = None,
    wim: _StrPath | None = None,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """Replaces the media on ``disk``'s recovery partition in place. Unchanged
    files are skipped; each file is its old or its new version if the machine
    stops half way; ``sources/boot.wim`` is replaced last."""

def set_up_recovery(
    disk: _StrPath,
    media: _StrPath,
    *,
    wim: _StrPath | None = None,
    images: list[tuple[str, _StrPath]] | None = None,
    default: str | None = None,
    timeout: int | None = None,
    size: int | None = None,
    headroom: int | None = None,
    label: str = "DART",
    timestamp: int | None = None,
    register: bool = False,
    description: str = "DaRT Recovery",
    placement: str = "tools",
    bitlocker_suspended: bool = False,
    uefi_vars: _StrPath | None = None,
    uefi_efivarfs: bool = False,
    uefi_description: str | None = None,
    boot_order: str = "keep",
    boot_next: bool = False,
    update_if_present: bool = False,
    dry_run: bool = False,
    progress: _Progress | None = None,
) -> dict[str, Any]:
    """Sets up the recovery partition on ``disk`` (an installed system's disk
    or image) in one call that plans everything, and refuses, before its
    first write: adds a partition holding ``media`` in free space (or, with
    ``update_if_present``, updates the existing one in place); with
    ``register``, lists it in the installed boot store (``placement``:
    ``"tools"``, ``"menu"`` or ``"winre"``); with ``uefi_vars`` (an OVMF
    variable file) or ``uefi_efivarfs`` (the running system's variables),
    adds a UEFI boot entry (``boot_order``: ``"keep"``, ``"first"``,
    ``"last"``; ``boot_next``: the next start opens it once). Re-running it
    with the same media changes nothing. ``dry_run`` writes nothing and
    returns the plan. A BitLocker volume (unless ``bitlocker_suspended``) or
    a disk without a boot store raises ``DiskError``; a damaged variable
    store ``UefiVariablesError``."""

def register_recovery(
    disk: _StrPath,
    *,
    description: str = "DaRT Recovery",
    placement: str = "tools",
    bitlocker_suspended: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Registers ``disk``'s existing recovery partition in the installed
    boot store (``placement``: ``"tools"``, ``"menu"`` or ``"winre"``).
    ``dry_run`` writes nothing and returns the plan."""

def unregister_recovery(
    disk: _StrPath,
    *,
    bitlocker_suspended: bool = False,
    uefi_vars: _StrPath | None = None,
    uefi_efivarfs: bool = False,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Removes what dart added for ``disk``'s recovery partition: its
    boot-store entry (restoring the recovery sequence it replaced) and, with
    ``uefi_vars`` or ``uefi_efivarfs``, its UEFI boot options. The partition
    stays. ``dry_run`` writes nothing and returns the plan."""

def set_boot_next(
    disk: _StrPath,
    *,
    uefi_vars: _StrPath | None = None,
    dry_run: bool = False,
) -> dict[str, Any]:
    """Sets ``BootNext`` to the UEFI boot option of ``disk``'s recovery
    partition, so the next start opens it once: in ``uefi_vars`` (an OVMF
    variable file) or, when ``None``, the running system's variables. A
    store without such an option raises ``DiskError``."""

@final
class RecoveryImage:
    """An opened, inspected WIM file (opened read-only)."""

    def __new__(cls, path: _StrPath) -> RecoveryImage: ...
    @staticmethod
    def open(path: _StrPath) -> RecoveryImage: ...
    @property
    def path(self) -> str: ...
    @property
    def guid(self) -> str: ...
    @property
    def image_count(self) -> int: ...
    @property
    def boot_index(self) -> int | None: ...
    @property
    def default_index(self) -> int: ...
    @property
    def compression(self) -> str: ...
    @property
    def chunk_size(self) -> int: ...
    @property
    def file_size(self) -> int: ...
    @property
    def images(self) -> list[ImageInfo]: ...
    def image(self, index: int) -> ImageInfo: ...
    def list_files(self, index: int) -> list[str]: ...
    def to_dict(self) -> _WimInfo: ...

@final
class MediaSet:
    """A bootable file tree: a directory, or an ISO image read in place."""

    def __new__(cls, path: _StrPath) -> MediaSet: ...
    @property
    def root(self) -> str: ...
    @property
    def kind(self) -> str: ...
    def files(self) -> list[tuple[str, int]]: ...
    @property
    def total_bytes(self) -> int: ...
    @property
    def boot_wim(self) -> str | None: ...
    def uefi_architectures(self) -> list[str]: ...
    def validate(self, arch: str, firmware: str = "both") -> None: ...

class _MenuParts(TypedDict):
    wim: str
    sdi: str
    bios_store: NotRequired[str]
    uefi_store: NotRequired[str]

class _CatalogImage(TypedDict):
    name: str
    role: str
    version: int
    arch: str
    dir: str
    uefi_boot: str | None
    bios_boot: str | None
    bios_prompt_boot: NotRequired[str]
    menu: NotRequired[_MenuParts]
    files: int
    bytes: int
    staged_at: int

class _Catalog(TypedDict):
    images: list[_CatalogImage]
    retired: list[_CatalogImage]

def stage(
    media: _StrPath,
    root: _StrPath,
    name: str,
    *,
    role: str = "recovery",
    arch: str | None = None,
    bios_loader: str | None = None,
    keep: int = 2,
    wim: _StrPath | None = None,
    progress: _Progress | None = None,
) -> _CatalogImage:
    """Stages ``media`` (a directory or an ISO image) into the boot server
    root ``root`` as the next version of the image ``name``; returns its
    catalog entry.

    ``role`` is ``"recovery"`` (any client may boot it) or ``"imaging"``
    (only clients a policy rule lists); ``arch`` defaults to the one the
    media has a UEFI loader for; ``bios_loader`` is the BIOS PXE loader's
    path in the media (default: ``boot/pxeboot.n12`` and the like, if
    present); ``keep`` versions (at least 2) stay on disk. The files are
    copied first and the catalog is switched atomically after, so a running
    server never sees a half-copied image; a failure or a cancel (progress
    callback raising, Ctrl-C) removes the partial copy and leaves the
    catalog as it was.
    """

def read_catalog(root: _StrPath) -> _Catalog:
    """Reads the catalog of a boot server root: the current version of each
    image (``images``) and older versions kept on disk (``retired``)."""

class _KnownClient(TypedDict):
    mac: NotRequired[str]
    uuid: NotRequired[str]
    state: Literal["pending", "approved", "denied"]
    name: NotRequired[str]
    allow: NotRequired[str | list[str]]
    boot: NotRequired[str]
    arch: NotRequired[str]
    first_seen: int
    last_seen: int

def list_clients(
    root: _StrPath, *, state: Literal["pending", "approved", "denied"] | None = None
) -> list[_KnownClient]:
    """The clients recorded in the boot server root ``root`` (all, or those in
    ``state``), pending first; an empty list when the root has no client
    database."""

def approve_client(
    root: _StrPath,
    client: str,
    *,
    name: str | None = None,
    allow: str | list[str] | None = None,
    boot: str | None = None,
) -> _KnownClient:
    """Approves ``client`` (a MAC address or an SMBIOS UUID) in the client
    database of ``root``, pending or not yet seen (pre-staging); ``allow``
    (``"all"``, ``"recovery"``, ``"none"`` or image names) and ``boot`` give
    it images of its own. A running server answers it without a restart."""

def deny_client(root: _StrPath, client: str) -> _KnownClient:
    """Denies ``client``: it is answered nothing and not recorded as pending
    again."""

def forget_client(root: _StrPath, client: str) -> None:
    """Forgets ``client`` (if it asks again it is pending again); raises
    ``InvalidInputError`` when there is no such client."""

def import_clients(root: _StrPath, csv: str) -> int:
    """Pre-stages the clients of CSV text (header ``mac,uuid,name,allow,boot``),
    all or none; returns how many."""

@final
class BootServer:
    """A running network boot server: TFTP and, when ``proxy_dhcp`` names a
    network interface, proxy-DHCP, serving the images staged in ``root``
    under an access policy.

    ``policy`` is the policy as a dict (``{"rules": [{"name": ...,
    "mac"/"ip"/"subnet"/"arch": ..., "allow": "none" | "recovery" | "all" |
    [names], "boot": name}], "default": ...}``), or ``policy_file`` a JSON
    file of it; by default every client may boot recovery images only.
    ``tftp`` is where TFTP listens (port 0: the system chooses, see
    ``tftp_address``). ``http`` also serves the catalog over HTTP there
    (``"0.0.0.0:80"``); ``boot_url`` points UEFI HTTP Boot and iPXE clients
    at a ``dart export`` of the root served at that URL by any web server.
    A wrong setting raises ``InvalidInputError`` naming it; a port that
    cannot be bound raises ``IoError``.

    ``on_event(event)`` is called for each event with a dict (``kind``,
    ``message`` and, when known, ``client``, ``target``, ``rule``, ``at``)
    from the server's threads, possibly while the caller runs other code;
    an exception it raises is reported through ``sys.unraisablehook`` and
    the server goes on. ``stop()`` (or leaving a ``with`` block) returns
    when every server thread has ended.
    """

    def __new__(
        cls,
        root: _StrPath,
        *,
        policy: dict[str, Any] | None = None,
        policy_file: _StrPath | None = None,
        tftp: str = "0.0.0.0:69",
        tftp_reply_ports: tuple[int, int] | None = None,
        max_transfers: int | None = None,
        proxy_dhcp: str | None = None,
        server_ip: str | None = None,
        http: str | None = None,
        boot_url: str | None = None,
        on_event: _OnEvent | None = None,
    ) -> BootServer: ...
    @property
    def tftp_address(self) -> tuple[str, int]:
        """Where TFTP listens, as ``(host, port)``; raises ``DartError`` once stopped."""
    @property
    def http_address(self) -> tuple[str, int] | None:
        """Where HTTP listens, as ``(host, port)``, or ``None`` without ``http``;
        raises ``DartError`` once stopped."""
    @property
    def active_transfers(self) -> int:
        """TFTP transfers running now (0 once stopped)."""
    def set_policy(self, policy: dict[str, Any]) -> None:
        """Replaces the access policy; requests after the call are judged by
        the new one. A bad policy raises ``InvalidInputError`` and the old
        one stays."""
    def catalog(self) -> _Catalog:
        """The catalog the server offers now."""
    def stop(self) -> None:
        """Stops the server; returns when every server thread has ended (no
        ``on_event`` call follows). Stopping twice does nothing."""
    def __enter__(self) -> BootServer: ...
    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

class _BcdElement(TypedDict):
    code: str
    """The element code, ``"0x12000004"``."""
    name: str
    """bcdedit's name (``"description"``), or ``"custom:12000004"``."""
    value: Any
    """Devices, objects and raw bytes as bcdedit prints them; integers,
    booleans and lists as such."""

_BcdObject = TypedDict(
    "_BcdObject",
    {
        "id": str,
        "alias": str | None,
        "type": str,
        "name": str,
        "description": str | None,
        "elements": list[_BcdElement],
    },
)

@final
class BcdStore:
    """A BCD store held in memory; the file changes only when ``save`` writes it.

    Object ids are given as ``{guid}`` (braces optional), a bcdedit alias
    (``{bootmgr}``) or ``{default}``, and returned as ``{guid}``. A damaged or
    dirty store, or an edit it does not allow, raises ``BootStoreError``; a
    malformed argument ``InvalidInputError``; both name the input.
    """

    @staticmethod
    def new(firmware: str) -> BcdStore:
        """A new store for ``firmware`` (``"bios"`` or ``"uefi"``) with the
        objects Windows media stores carry and no boot entries."""
    @staticmethod
    def open(path: _StrPath) -> BcdStore:
        """Reads the store file at ``path``; a damaged or dirty hive, or a hive
        that is not a BCD store, raises ``BootStoreError``."""
    def save(self, path: _StrPath) -> None:
        """Writes the store to ``path``: a temporary file beside it, synced,
        then renamed over the old file. A failure leaves the old file."""
    def to_json(self) -> str:
        """The store as JSON text: ``{"objects": [...]}`` (see ``objects()``)."""
    def objects(self) -> list[_BcdObject]:
        """Every object, the boot manager first, then the menu's entries in
        order, then the rest."""
    def text(self) -> str:
        """The store listed as ``bcdedit /enum all`` lists it."""
    def add_winpe(
        self,
        description: str,
        wim: str,
        sdi: str | None = None,
        firmware: str | None = None,
        default: bool = False,
    ) -> str:
        """Adds a WinPE entry booting the WIM ``wim`` (a path on the boot
        device such as ``\\sources\\boot.wim``) from a RAM disk, at the end of
        the menu, and returns its id. It becomes the default when ``default``
        is set or the store has no default. ``sdi`` defaults to
        ``\\boot\\boot.sdi``; ``firmware`` (``"bios"`` or ``"uefi"``) to the
        store's."""
    def remove(self, id: str) -> None:
        """Removes the object ``id`` (from the menu and as the default too)."""
    def set_timeout(self, seconds: int) -> None:
        """Sets the menu timeout in seconds (0 to 999)."""
    def set_default(self, id: str) -> None:
        """Makes the boot entry ``id`` the default."""
    def set_display_order(self, ids: list[str]) -> None:
        """Sets the menu to the boot entries ``ids``, in order; the default
        must stay in it."""
    @property
    def default(self) -> str | None:
        """The default entry's id, or ``None``."""
    @property
    def display_order(self) -> list[str]:
        """The menu's entry ids, in order."""
    @property
    def timeout(self) -> int | None:
        """The menu timeout in seconds, or ``None`` when the store sets none."""

__all__ = [
    "DartError",
    "NotFoundError",
    "IoError",
    "ImageError",
    "ToolError",
    "InvalidInputError",
    "MediaError",
    "CancelledError",
    "DiskError",
    "BootStoreError",
    "UefiVariablesError",
    "version",
    "tool_flags",
    "tool_info",
    "parse_tools",
    "support_level",
    "support_levels",
    "plan",
    "build_image",
    "build_variants",
    "write_usb",
    "write_iso",
    "plan_iso",
    "read_iso",
    "flash",
    "verify",
    "create_bmap",
    "read_disk",
    "plan_recovery",
    "add_recovery",
    "update_recovery",
    "set_up_recovery",
    "register_recovery",
    "unregister_recovery",
    "set_boot_next",
    "RecoveryImage",
    "ImageInfo",
    "MediaSet",
    "stage",
    "read_catalog",
    "BootServer",
    "list_clients",
    "approve_client",
    "deny_client",
    "forget_client",
    "import_clients",
    "BcdStore",
]
