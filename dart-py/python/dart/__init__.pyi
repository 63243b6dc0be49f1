import enum

from dart._dart import CancelledError as CancelledError
from dart._dart import DartError as DartError
from dart._dart import DiskError as DiskError
from dart._dart import ImageError as ImageError
from dart._dart import ImageInfo as ImageInfo
from dart._dart import InvalidInputError as InvalidInputError
from dart._dart import IoError as IoError
from dart._dart import MediaError as MediaError
from dart._dart import MediaSet as MediaSet
from dart._dart import NotFoundError as NotFoundError
from dart._dart import RecoveryImage as RecoveryImage
from dart._dart import ToolError as ToolError
from dart._dart import build_image as build_image
from dart._dart import build_variants as build_variants
from dart._dart import generate_fixture as generate_fixture
from dart._dart import parse_tools as parse_tools
from dart._dart import plan as plan
from dart._dart import support_level as support_level
from dart._dart import support_levels as support_levels
from dart._dart import tool_flags as tool_flags
from dart._dart import tool_info as tool_info
from dart._dart import version as version
from dart._dart import add_recovery as add_recovery
from dart._dart import plan_recovery as plan_recovery
from dart._dart import read_disk as read_disk
from dart._dart import update_recovery as update_recovery
from dart._dart import plan_iso as plan_iso
from dart._dart import read_iso as read_iso
from dart._dart import write_iso as write_iso
from dart._dart import write_usb as write_usb
from dart._dart import flash as flash
from dart._dart import verify as verify
from dart._dart import create_bmap as create_bmap
from dart._dart import BootServer as BootServer
from dart._dart import read_catalog as read_catalog
from dart._dart import stage as stage

__version__: str

class Tools(enum.IntFlag):
    """A set of DaRT recovery tools, one flag per tool."""

    COMPUTER_MANAGEMENT = 1
    CRASH_ANALYZER = 2
    DEFENDER = 4
    DISK_COMMANDER = 8
    DISK_WIPE = 16
    EXPLORER = 32
    FILE_RESTORE = 64
    FILE_SEARCH = 128
    HOTFIX_UNINSTALL = 256
    LOCKSMITH = 512
    REGISTRY_EDITOR = 1024
    REMOTE_CONNECTION = 2048
    SFC_SCAN = 4096
    SOLUTION_WIZARD = 8192
    TCPIP_CONFIG = 16384

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
