//! Names bcdedit prints: well-known objects, object types, elements.
//!
//! Sources: System Informer `ntbcd.h`, pybcd, ReactOS `bcd.h`, the Visus
//! Deployment Toolkit tables taken from Geoff Chappell's notes, and
//! Microsoft's `BcdElementType` pages; see DESIGN.md, 'BCD stores'.

use uuid::Uuid;

/// Well-known objects: alias, GUID.
pub const WELL_KNOWN: &[(&str, &str)] = &[
    ("{bootmgr}", "9dea862c-5cdd-4e70-acc1-f32b344d4795"),
    ("{fwbootmgr}", "a5a30fa2-3d06-4e9f-b5f4-a01df9d1fcba"),
    ("{memdiag}", "b2721d73-1db4-4c62-bf78-c548a880142d"),
    ("{ntldr}", "466f5a88-0af2-4f76-9038-095b170dc21c"),
    ("{ramdiskoptions}", "ae5534e0-a924-466c-b836-758539a3ee3a"),
    ("{globalsettings}", "7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e"),
    ("{dbgsettings}", "4636856e-540f-4170-a130-a84776f4c654"),
    ("{emssettings}", "0ce4991b-e6b3-4b16-b23c-5e0d9250e5d9"),
    ("{badmemory}", "5189b25c-5558-4bf2-bca4-289b11bd29e2"),
    (
        "{bootloadersettings}",
        "6efb52bf-1766-41db-a6b3-0ee5eff72bd7",
    ),
    (
        "{hypervisorsettings}",
        "7ff607e0-4395-11db-b0de-0800200c9a66",
    ),
    (
        "{kerneldbgsettings}",
        "313e8eed-7098-4586-a9bf-309c61f8d449",
    ),
    (
        "{resumeloadersettings}",
        "1afa9c49-16ab-4a5c-901b-212802da9460",
    ),
    (
        "{resumeloadersettings}",
        "1afa9c49-16ab-4a5c-4a90-212802da9460",
    ),
    ("{current}", "fa926493-6f1c-4193-a414-58f0b2456d1e"),
    ("{default}", "1cae1eb7-a0df-4d4d-9851-4860e34ef535"),
];

/// `{bootmgr}`.
pub const BOOTMGR: Uuid = Uuid::from_u128(0x9dea862c_5cdd_4e70_acc1_f32b344d4795);
/// `{memdiag}`.
pub const MEMDIAG: Uuid = Uuid::from_u128(0xb2721d73_1db4_4c62_bf78_c548a880142d);
/// `{globalsettings}`.
pub const GLOBALSETTINGS: Uuid = Uuid::from_u128(0x7ea2e1ac_2e61_4728_aaa3_896d9d0a9f0e);
/// `{dbgsettings}`.
pub const DBGSETTINGS: Uuid = Uuid::from_u128(0x4636856e_540f_4170_a130_a84776f4c654);
/// `{emssettings}`.
pub const EMSSETTINGS: Uuid = Uuid::from_u128(0x0ce4991b_e6b3_4b16_b23c_5e0d9250e5d9);
/// `{bootloadersettings}`.
pub const BOOTLOADERSETTINGS: Uuid = Uuid::from_u128(0x6efb52bf_1766_41db_a6b3_0ee5eff72bd7);
/// `{hypervisorsettings}`.
pub const HYPERVISORSETTINGS: Uuid = Uuid::from_u128(0x7ff607e0_4395_11db_b0de_0800200c9a66);
/// `{ramdiskoptions}`.
pub const RAMDISKOPTIONS: Uuid = Uuid::from_u128(0xae5534e0_a924_466c_b836_758539a3ee3a);
/// The device-options object of Microsoft's WinPE and setup media.
pub const MEDIA_OPTIONS: Uuid = Uuid::from_u128(0x7619dcc8_fafe_11d9_b411_000476eba25f);
/// The "Windows Setup" loader of Microsoft's media.
pub const MEDIA_LOADER: Uuid = Uuid::from_u128(0x7619dcc9_fafe_11d9_b411_000476eba25f);

/// The alias of a well-known object (`{bootmgr}`), if it has one.
pub fn alias(id: &Uuid) -> Option<&'static str> {
    let text = id.to_string();
    WELL_KNOWN.iter().find(|(_, g)| *g == text).map(|(a, _)| *a)
}

/// `{alias}` or `{guid}`.
pub fn render_id(id: &Uuid) -> String {
    alias(id).map_or_else(|| format!("{{{id}}}"), str::to_string)
}

/// Parses `{guid}`, `guid` or an alias (`{bootmgr}`, `bootmgr`).
pub fn parse_id(text: &str) -> Option<Uuid> {
    let t = text.trim();
    let bare = t.trim_start_matches('{').trim_end_matches('}');
    if let Ok(u) = Uuid::parse_str(bare) {
        return Some(u);
    }
    let braced = format!("{{{}}}", bare.to_ascii_lowercase());
    WELL_KNOWN
        .iter()
        .find(|(a, _)| *a == braced)
        .and_then(|(_, g)| Uuid::parse_str(g).ok())
}

/// Object types.
pub mod object_type {
    /// Firmware boot manager.
    pub const FWBOOTMGR: u32 = 0x1010_0001;
    /// Windows Boot Manager.
    pub const BOOTMGR: u32 = 0x1010_0002;
    /// Windows Boot Loader (OS loader, WinPE entries).
    pub const OSLOADER: u32 = 0x1020_0003;
    /// Resume from hibernation.
    pub const RESUME: u32 = 0x1020_0004;
    /// Memory tester.
    pub const MEMDIAG: u32 = 0x1020_0005;
    /// Inheritable settings for any application.
    pub const INHERIT_ANY: u32 = 0x2010_0000;
    /// Inheritable settings for OS loaders.
    pub const INHERIT_OSLOADER: u32 = 0x2020_0003;
    /// Device options (`{ramdiskoptions}`).
    pub const DEVICE: u32 = 0x3000_0000;
}

/// The title bcdedit prints above an object of this type.
pub fn object_title(kind: u32) -> &'static str {
    match kind {
        object_type::FWBOOTMGR => "Firmware Boot Manager",
        object_type::BOOTMGR => "Windows Boot Manager",
        object_type::OSLOADER => "Windows Boot Loader",
        object_type::RESUME => "Resume from Hibernate",
        object_type::MEMDIAG => "Windows Memory Tester",
        0x1030_0006 => "Windows Legacy OS Loader",
        0x1040_0007..=0x1040_0009 => "Real-mode Boot Application",
        0x2000_0000..=0x2FFF_FFFF => "Inheritable Settings",
        object_type::DEVICE => "Device options",
        _ => "Unknown Object",
    }
}

/// Element codes dart sets.
pub mod element {
    /// Library: the application's device.
    pub const DEVICE: u32 = 0x1100_0001;
    /// Library: the application's path.
    pub const PATH: u32 = 0x1200_0002;
    /// Library: description.
    pub const DESCRIPTION: u32 = 0x1200_0004;
    /// Library: locale.
    pub const LOCALE: u32 = 0x1200_0005;
    /// Library: inherited objects.
    pub const INHERIT: u32 = 0x1400_0006;
    /// Library: `bootems`.
    pub const BOOTEMS: u32 = 0x1600_0020;
    /// Library: debugger type.
    pub const DEBUGTYPE: u32 = 0x1500_0011;
    /// Library: debug port.
    pub const DEBUGPORT: u32 = 0x1500_0013;
    /// Library: baud rate.
    pub const BAUDRATE: u32 = 0x1500_0014;
    /// Boot manager: display order.
    pub const DISPLAYORDER: u32 = 0x2400_0001;
    /// Boot manager: default object.
    pub const DEFAULT: u32 = 0x2300_0003;
    /// Boot manager: timeout in seconds.
    pub const TIMEOUT: u32 = 0x2500_0004;
    /// Boot manager: tools display order.
    pub const TOOLSDISPLAYORDER: u32 = 0x2400_0010;
    /// OS loader: the OS device.
    pub const OSDEVICE: u32 = 0x2100_0001;
    /// OS loader: system root.
    pub const SYSTEMROOT: u32 = 0x2200_0002;
    /// OS loader: detect the HAL.
    pub const DETECTHAL: u32 = 0x2600_0010;
    /// OS loader: boot Windows PE.
    pub const WINPE: u32 = 0x2600_0022;
    /// OS loader: EMS.
    pub const EMS: u32 = 0x2600_00B0;
    /// OS loader: boot menu policy.
    pub const BOOTMENUPOLICY: u32 = 0x2500_00C2;
    /// Hypervisor debugger type.
    pub const HYPERVISORDEBUGTYPE: u32 = 0x2500_00F3;
    /// Hypervisor debug port.
    pub const HYPERVISORDEBUGPORT: u32 = 0x2500_00F4;
    /// Hypervisor baud rate.
    pub const HYPERVISORBAUDRATE: u32 = 0x2500_00F5;
    /// Device options: the device holding boot.sdi.
    pub const RAMDISKSDIDEVICE: u32 = 0x3100_0003;
    /// `recoverysequence` (library, object list): what Windows starts to
    /// recover an entry (Windows RE, or an image that replaces it).
    pub const RECOVERYSEQUENCE: u32 = 0x1400_0008;
    /// `recoveryenabled` (library, boolean).
    pub const RECOVERYENABLED: u32 = 0x1600_0009;
    /// Device options: the path of boot.sdi.
    pub const RAMDISKSDIPATH: u32 = 0x3200_0004;
    /// Device options: the TFTP block size a network RAM disk is read with
    /// (`ramdisktftpblocksize`, BcdDeviceInteger_RamdiskTftpBlockSize).
    pub const RAMDISKTFTPBLOCKSIZE: u32 = 0x3500_0007;
    /// Device options: the TFTP window size (`ramdisktftpwindowsize`,
    /// RFC 7440 windows).
    pub const RAMDISKTFTPWINDOWSIZE: u32 = 0x3500_0008;
    /// Device options: whether the boot manager asks for Microsoft's
    /// variable window extension (`ramdisktftpvarwindow`).
    pub const RAMDISKTFTPVARWINDOW: u32 = 0x3600_000B;
}

/// The name bcdedit prints for element `code` of an object of type
/// `kind` (application elements mean different things for a boot manager
/// and a loader), or `None`.
pub fn element_name(kind: u32, code: u32) -> Option<&'static str> {
    match code >> 28 {
        1 => library(code),
        2 => match kind {
            object_type::BOOTMGR | object_type::FWBOOTMGR => bootmgr(code),
            object_type::RESUME => resume(code),
            object_type::MEMDIAG => memdiag(code),
            k if k & 0xFFF0_0000 == 0x2010_0000 => bootmgr(code),
            k if k >> 28 == 1 || k & 0xFFF0_0000 == 0x2020_0000 => osloader(code),
            _ => None,
        },
        3 => device_options(code),
        _ => None,
    }
}

fn library(code: u32) -> Option<&'static str> {
    Some(match code {
        0x1100_0001 => "device",
        0x1200_0002 => "path",
        0x1200_0004 => "description",
        0x1200_0005 => "locale",
        0x1400_0006 => "inherit",
        0x1500_0007 => "truncatememory",
        0x1400_0008 => "recoverysequence",
        0x1600_0009 => "recoveryenabled",
        0x1700_000A => "badmemorylist",
        0x1600_000B => "badmemoryaccess",
        0x1500_000C => "firstmegabytepolicy",
        0x1500_000D => "relocatephysical",
        0x1500_000E => "avoidlowmemory",
        0x1600_000F => "traditionalkseg",
        0x1600_0010 => "bootdebug",
        0x1500_0011 => "debugtype",
        0x1500_0012 => "debugaddress",
        0x1500_0013 => "debugport",
        0x1500_0014 => "baudrate",
        0x1500_0015 => "channel",
        0x1200_0016 => "targetname",
        0x1600_0017 => "noumex",
        0x1500_0018 => "debugstart",
        0x1200_0019 => "busparams",
        0x1500_001A => "hostip",
        0x1500_001B => "port",
        0x1600_001C => "dhcp",
        0x1200_001D => "key",
        0x1600_001E => "vm",
        0x1600_0020 => "bootems",
        0x1500_0022 => "emsport",
        0x1500_0023 => "emsbaudrate",
        0x1200_0030 => "loadoptions",
        0x1600_0040 => "advancedoptions",
        0x1600_0041 => "optionsedit",
        0x1500_0042 => "keyringaddress",
        0x1100_0043 => "bootstatdevice",
        0x1200_0044 => "bootstatfilepath",
        0x1600_0045 => "preservebootstat",
        0x1600_0046 => "graphicsmodedisabled",
        0x1500_0047 => "configaccesspolicy",
        0x1600_0048 => "nointegritychecks",
        0x1600_0049 => "testsigning",
        0x1200_004A => "fontpath",
        0x1500_004B => "integrityservices",
        0x1500_004C => "volumebandid",
        0x1600_0050 => "extendedinput",
        0x1500_0051 => "initialconsoleinput",
        0x1500_0052 => "graphicsresolution",
        0x1600_0053 => "restartonfailure",
        0x1600_0054 => "highestmode",
        0x1600_0060 => "isolatedcontext",
        0x1500_0065 => "displaymessage",
        0x1500_0066 => "displaymessageoverride",
        0x1600_0067 => "nobootuxlogo",
        0x1600_0068 => "nobootuxtext",
        0x1600_0069 => "nobootuxprogress",
        0x1600_006A => "nobootuxfade",
        0x1600_006B => "bootuxreservepooldebug",
        0x1600_006C => "bootuxdisabled",
        0x1500_006D => "bootuxfadeframes",
        0x1600_006E => "bootuxdumpstats",
        0x1600_006F => "bootuxshowstats",
        0x1600_0071 => "multibootsystem",
        0x1600_0072 => "nokeyboard",
        0x1500_0073 => "aliaswindowskey",
        0x1600_0074 => "bootshutdowndisabled",
        0x1500_0075 => "performancefrequency",
        0x1500_0076 => "securebootrawpolicy",
        0x1700_0077 => "allowedinmemorysettings",
        0x1500_0079 => "bootuxtransitiontime",
        0x1600_007A => "mobilegraphics",
        0x1600_007B => "forcefipscrypto",
        0x1500_007D => "booterrorux",
        0x1600_007E => "flightsigning",
        0x1500_007F => "measuredbootlogformat",
        0x1500_0080 => "displayrotation",
        0x1500_0081 => "logcontrol",
        0x1600_0082 => "nofirmwaresync",
        0x1100_0084 => "windowssyspart",
        0x1600_0087 => "numlock",
        0x1200_0088 => "additionalcipolicy",
        _ => return None,
    })
}

fn bootmgr(code: u32) -> Option<&'static str> {
    Some(match code {
        0x2400_0001 => "displayorder",
        0x2400_0002 => "bootsequence",
        0x2300_0003 => "default",
        0x2500_0004 => "timeout",
        0x2600_0005 => "resume",
        0x2300_0006 => "resumeobject",
        0x2400_0007 => "startupsequence",
        0x2400_0010 => "toolsdisplayorder",
        0x2600_0020 => "displaybootmenu",
        0x2600_0021 => "noerrordisplay",
        0x2100_0022 => "bcddevice",
        0x2200_0023 => "bcdfilepath",
        0x2600_0024 => "hormenabled",
        0x2200_0026 => "passwordoverride",
        0x2200_0027 => "pinpassphraseoverride",
        0x2600_0028 => "processcustomactionsfirst",
        0x2700_0030 => "customactions",
        0x2600_0031 => "persistbootsequence",
        0x2600_0032 => "skipstartupsequence",
        _ => return None,
    })
}

fn osloader(code: u32) -> Option<&'static str> {
    Some(match code {
        0x2100_0001 => "osdevice",
        0x2200_0002 => "systemroot",
        0x2300_0003 => "resumeobject",
        0x2600_0004 => "stampdisks",
        0x2600_0010 => "detecthal",
        0x2200_0011 => "kernel",
        0x2200_0012 => "hal",
        0x2200_0013 => "dbgtransport",
        0x2500_0020 => "nx",
        0x2500_0021 => "pae",
        0x2600_0022 => "winpe",
        0x2600_0024 => "nocrashautoreboot",
        0x2600_0025 => "lastknowngood",
        0x2600_0026 => "oslnointegritychecks",
        0x2600_0027 => "osltestsigning",
        0x2600_0030 => "nolowmem",
        0x2500_0031 => "removememory",
        0x2500_0032 => "increaseuserva",
        0x2500_0033 => "perfmem",
        0x2600_0040 => "vga",
        0x2600_0041 => "quietboot",
        0x2600_0042 => "novesa",
        0x2600_0043 => "novga",
        0x2500_0050 => "clustermodeaddressing",
        0x2600_0051 => "usephysicaldestination",
        0x2500_0052 => "restrictapiccluster",
        0x2200_0053 => "evstore",
        0x2600_0054 => "uselegacyapicmode",
        0x2500_0055 => "x2apicpolicy",
        0x2600_0060 => "onecpu",
        0x2500_0061 => "numproc",
        0x2600_0062 => "maxproc",
        0x2500_0063 => "configflags",
        0x2600_0064 => "maxgroup",
        0x2600_0065 => "groupaware",
        0x2500_0066 => "groupsize",
        0x2600_0070 => "usefirmwarepcisettings",
        0x2500_0071 => "msi",
        0x2500_0072 => "pciexpress",
        0x2500_0080 => "safeboot",
        0x2600_0081 => "safebootalternateshell",
        0x2600_0090 => "bootlog",
        0x2600_0091 => "sos",
        0x2600_00A0 => "debug",
        0x2600_00A1 => "halbreakpoint",
        0x2600_00A2 => "useplatformclock",
        0x2600_00A3 => "forcelegacyplatform",
        0x2600_00A4 => "useplatformtick",
        0x2600_00A5 => "disabledynamictick",
        0x2500_00A6 => "tscsyncpolicy",
        0x2600_00B0 => "ems",
        0x2500_00C0 => "forcefailure",
        0x2500_00C1 => "driverloadfailurepolicy",
        0x2500_00C2 => "bootmenupolicy",
        0x2500_00E0 => "bootstatuspolicy",
        0x2600_00E1 => "disableelamdrivers",
        0x2500_00F0 => "hypervisorlaunchtype",
        0x2600_00F2 => "hypervisordebug",
        0x2500_00F3 => "hypervisordebugtype",
        0x2500_00F4 => "hypervisordebugport",
        0x2500_00F5 => "hypervisorbaudrate",
        0x2500_00F6 => "hypervisorchannel",
        0x2500_00F7 => "bootux",
        0x2200_00F9 => "hypervisorbusparams",
        0x2500_00FA => "hypervisornumproc",
        0x2500_00FB => "hypervisorrootprocpernode",
        0x2600_00FC => "hypervisoruselargevtlb",
        0x2500_00FD => "hypervisorhostip",
        0x2500_00FE => "hypervisorhostport",
        0x2500_0100 => "tpmbootentropy",
        0x2200_0110 => "hypervisorusekey",
        0x2200_0112 => "hypervisorproductskutype",
        0x2500_0113 => "hypervisorrootproc",
        0x2600_0114 => "hypervisordhcp",
        0x2500_0115 => "hypervisoriommupolicy",
        0x2600_0116 => "hypervisorusevapic",
        0x2200_0117 => "hypervisorloadoptions",
        0x2500_0118 => "hypervisormsrfilterpolicy",
        0x2500_0119 => "hypervisormmionxpolicy",
        0x2500_011A => "hypervisorschedulertype",
        _ => return None,
    })
}

fn resume(code: u32) -> Option<&'static str> {
    Some(match code {
        0x2100_0001 => "filedevice",
        0x2200_0002 => "filepath",
        0x2600_0003 => "customsettings",
        0x2600_0004 => "pae",
        0x2100_0005 => "associatedosdevice",
        0x2600_0006 => "debugoptionenabled",
        0x2500_0007 => "bootux",
        0x2500_0008 => "bootmenupolicy",
        0x2600_0024 => "hormenabled",
        _ => return None,
    })
}

fn memdiag(code: u32) -> Option<&'static str> {
    Some(match code {
        0x2500_0001 => "passcount",
        0x2500_0002 => "testmix",
        0x2500_0003 => "failurecount",
        0x2500_0004 => "testtofail",
        0x2600_0005 => "cacheenable",
        _ => return None,
    })
}

fn device_options(code: u32) -> Option<&'static str> {
    Some(match code {
        0x3500_0001 => "ramdiskimageoffset",
        0x3500_0002 => "ramdisktftpclientport",
        0x3100_0003 => "ramdisksdidevice",
        0x3200_0004 => "ramdisksdipath",
        0x3500_0005 => "ramdiskimagelength",
        0x3600_0006 => "exportascd",
        0x3500_0007 => "ramdisktftpblocksize",
        0x3500_0008 => "ramdisktftpwindowsize",
        0x3600_0009 => "ramdiskmcenabled",
        0x3600_000A => "ramdiskmctftpfallback",
        0x3600_000B => "ramdisktftpvarwindow",
        _ => return None,
    })
}

/// The code of the element bcdedit calls `name` on an object of type
/// `kind`.
pub fn element_code(kind: u32, name: &str) -> Option<u32> {
    let name = name.trim().to_ascii_lowercase();
    (0x1000_0000u32..0x3800_0000)
        .step_by(0x0100_0000)
        .flat_map(|base| (0..0x200).map(move |s| base | s))
        .find(|&c| element_name(kind, c) == Some(name.as_str()))
}
