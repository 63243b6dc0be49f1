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
  recovery partition on a local disk; ``set_up_recovery`` adds or updates
  it, registers it in the installed boot store and adds a UEFI boot entry
  in one call (``register_recovery``, ``unregister_recovery`` and
  ``set_boot_next`` do one step each);
* ``stage`` copies media into a network boot server root as a new version
  of an image, ``read_catalog`` lists what a root offers, and
  ``BootServer`` serves it over TFTP (and proxy-DHCP) under an access
  policy that keeps OS imaging images from ordinary clients, with a boot
  menu generated for each client; ``list_clients``, ``approve_client``,
  ``deny_client``, ``forget_client`` and ``import_clients`` manage the
  clients a server with ``"answer": "known"`` holds as pending;
* ``BcdStore`` creates, reads, lists and edits BCD stores (the boot menus
  of Windows Boot Manager) and saves them crash-safely.

Errors are raised as subclasses of ``DartError``. Long calls release the GIL;
a ``progress`` callback that raises cancels the call (``CancelledError``, with
the callback's exception as ``__cause__``) and Ctrl-C cancels it too (the
``KeyboardInterrupt`` propagates); either way no partial output is left.
"""

import enum as _enum

from dart import _dart
from dart._dart import *  # noqa: F403  (the whole extension, as its __all__ lists it)


class Tools(_enum.IntFlag):
    """A set of DaRT recovery tools, one flag per tool.

    Combine with ``|``: ``Tools.EXPLORER | Tools.LOCKSMITH``. Functions that take
    tools also accept a comma-separated string of names (``"explorer,locksmith"``).
    The values are dart-core's (``tool_flags()`` lists them; a test compares).
    """

    COMPUTER_MANAGEMENT = 1 << 0
    CRASH_ANALYZER = 1 << 1
    DEFENDER = 1 << 2
    DISK_COMMANDER = 1 << 3
    DISK_WIPE = 1 << 4
    EXPLORER = 1 << 5
    FILE_RESTORE = 1 << 6
    FILE_SEARCH = 1 << 7
    HOTFIX_UNINSTALL = 1 << 8
    LOCKSMITH = 1 << 9
    REGISTRY_EDITOR = 1 << 10
    REMOTE_CONNECTION = 1 << 11
    SFC_SCAN = 1 << 12
    SOLUTION_WIZARD = 1 << 13
    TCPIP_CONFIG = 1 << 14


__version__: str = _dart.__version__
__all__ = ["Tools"]
__all__ += _dart.__all__
