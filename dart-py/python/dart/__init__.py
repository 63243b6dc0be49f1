"""Save and deploy Windows PE recovery images (DaRT-style) from Python.

Everything here comes from the extension module ``dart._dart``, a thin
binding of the Rust library ``dart-core``:

* ``RecoveryImage`` inspects a WIM; ``build_image`` / ``build_variants``
  compose recovery images carrying a chosen set of ``Tools``;
* ``MediaSet`` checks that a file tree can boot;
* ``plan`` ranks the three deployment methods for a site;
* ``write_iso`` writes a bootable ISO image for CD/DVD (hybrid: also for
  USB), ``plan_iso`` lays one out, ``read_iso`` lists an existing ISO
  (any ``media`` argument may be a directory or an ISO image);
* ``flash`` writes an image onto devices or files (several in one pass),
  ``verify`` compares a copy with its image, ``create_bmap`` writes a
  bmaptool block map;
* ``write_usb`` writes a bootable USB stick or image; ``read_disk``,
  ``plan_recovery``, ``add_recovery`` and ``update_recovery`` manage the
  recovery partition on a local disk;
* ``stage`` copies media into a network boot server root as a new version
  of an image, ``read_catalog`` lists what a root offers, and
  ``BootServer`` serves it over TFTP (and proxy-DHCP) under an access
  policy that keeps OS imaging images from ordinary clients;
* ``generate_fixture`` writes synthetic WinPE-like media for tests and demos.

Errors are raised as subclasses of ``DartError``. Long calls release the GIL;
a ``progress`` callback that raises cancels the call (``CancelledError``, with
the callback's exception as ``__cause__``) and Ctrl-C cancels it too (the
``KeyboardInterrupt`` propagates); either way no partial output is left.
"""

import enum

from dart import _dart
from dart._dart import (
    BootServer,
    CancelledError,
    DartError,
    DiskError,
    ImageError,
    ImageInfo,
    InvalidInputError,
    IoError,
    MediaError,
    MediaSet,
    NotFoundError,
    RecoveryImage,
    ToolError,
    build_image,
    add_recovery,
    build_variants,
    create_bmap,
    flash,
    generate_fixture,
    parse_tools,
    plan,
    plan_iso,
    plan_recovery,
    read_catalog,
    read_disk,
    read_iso,
    stage,
    support_level,
    support_levels,
    tool_flags,
    tool_info,
    update_recovery,
    verify,
    version,
    write_iso,
    write_usb,
)

Tools = enum.IntFlag("Tools", _dart.tool_flags(), module=__name__)
Tools.__doc__ = """A set of DaRT recovery tools, one flag per tool.

Combine with ``|``: ``Tools.EXPLORER | Tools.LOCKSMITH``. Functions that take
tools also accept a comma-separated string of names (``"explorer,locksmith"``).
"""

__version__: str = _dart.__version__

__all__ = [
    "BootServer",
    "CancelledError",
    "DartError",
    "DiskError",
    "ImageError",
    "ImageInfo",
    "InvalidInputError",
    "IoError",
    "MediaError",
    "MediaSet",
    "NotFoundError",
    "RecoveryImage",
    "ToolError",
    "Tools",
    "add_recovery",
    "build_image",
    "build_variants",
    "create_bmap",
    "flash",
    "generate_fixture",
    "parse_tools",
    "plan",
    "plan_iso",
    "plan_recovery",
    "read_catalog",
    "read_disk",
    "read_iso",
    "stage",
    "support_level",
    "support_levels",
    "tool_flags",
    "tool_info",
    "update_recovery",
    "verify",
    "version",
    "write_iso",
    "write_usb",
]
