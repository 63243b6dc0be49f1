//! Synthetic WinPE-like media for tests, benchmarks and the demo.
//!
//! No Microsoft binary is used or produced. [`generate`] writes:
//!
//! ```text
//! DIR/media/                 the bootable tree (bootmgr, boot/bcd, boot/boot.sdi,
//!                            boot/etfsboot.com, efi/boot/bootx64.efi,
//!                            efi/microsoft/boot/bcd, sources/boot.wim)
//! DIR/payloads/<tool>/       one stand-in payload per recovery tool
//! DIR/drivers/               a stand-in driver package
//! ```
//!
//! `sources/boot.wim` is captured with wimlib and carries two images like a
//! Windows media boot.wim (1: Windows PE, 2: Windows Setup, boot index 2),
//! with the XML properties Windows PE sets. When `grub-mkstandalone` is
//! installed, `bootx64.efi` is a GRUB EFI program that prints
//! [`BOOT_MARKER`] and powers off; otherwise it is a placeholder.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use dart_core::formats::bcd::{names, Store, WinPeEntry};
use dart_core::image::{capture, CaptureImage, Compression};
use dart_core::model::arch::Architecture;
use dart_core::model::media::Firmware;
use dart_core::model::tools::TOOL_INFO;
use dart_core::progress::Control;

/// What the stand-in UEFI loader prints when it boots.
pub const BOOT_MARKER: &str = "DART-BOOT-OK";

/// How big and how reproducible a fixture is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct FixtureOptions {
    /// Bytes of stand-in system files in the base image.
    pub base_bytes: u64,
    /// Bytes of stand-in program per tool payload.
    pub payload_bytes: u64,
    /// Compression of the base WIM (Windows uses LZX).
    pub compression: Compression,
    /// Build a GRUB `bootx64.efi` when `grub-mkstandalone` is available.
    pub grub: bool,
    /// Fixed GUID and timestamps in the base WIM.
    pub deterministic: Option<i64>,
    /// The architecture the base WIM says it is (`WINDOWS/ARCH`); the
    /// stand-in files are the same for every architecture.
    pub arch: Architecture,
}

impl Default for FixtureOptions {
    fn default() -> Self {
        FixtureOptions {
            base_bytes: 4 << 20,
            payload_bytes: 256 << 10,
            compression: Compression::Lzx,
            grub: true,
            deterministic: Some(1_700_000_000),
            arch: Architecture::X64,
        }
    }
}

/// Where [`generate`] put things.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Fixture {
    /// The bootable media tree.
    pub media: PathBuf,
    /// `media/sources/boot.wim`.
    pub base_wim: PathBuf,
    /// One subdirectory per tool.
    pub payloads: PathBuf,
    /// A drivers directory.
    pub drivers: PathBuf,
    /// Whether `bootx64.efi` is a real GRUB program printing [`BOOT_MARKER`].
    pub bootable_uefi_loader: bool,
}

/// Deterministic, compressible filler (roughly 3:1 with LZX), streamed.
fn write_filler(path: &Path, bytes: u64, seed: u64) -> Result<()> {
    const WORDS: [&str; 16] = [
        "kernel",
        "driver",
        "registry",
        "volume",
        "partition",
        "service",
        "recovery",
        "image",
        "boot",
        "network",
        "adapter",
        "session",
        "handle",
        "buffer",
        "sector",
        "cluster",
    ];
    let file = File::create(path).map_err(|e| Error::write(path, e))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut written = 0u64;
    let mut line = Vec::with_capacity(128);
    while written < bytes {
        line.clear();
        for _ in 0..8 {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            line.extend_from_slice(WORDS[(state & 15) as usize].as_bytes());
            line.push(b' ');
            line.extend_from_slice(format!("{:04x}", (state >> 20) & 0xffff).as_bytes());
            line.push(b' ');
        }
        line.push(b'\n');
        let take = line.len().min((bytes - written) as usize);
        out.write_all(&line[..take])
            .map_err(|e| Error::write(path, e))?;
        written += take as u64;
    }
    out.flush().map_err(|e| Error::write(path, e))
}

fn put(path: &Path, contents: &[u8]) -> Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).map_err(|e| Error::write(parent, e))?;
    }
    fs::write(path, contents).map_err(|e| Error::write(path, e))
}

fn winpe_properties(flags: &str, arch: Architecture) -> Vec<(String, String)> {
    let arch_value = arch.wim_arch_value().to_string();
    [
        ("FLAGS", flags),
        ("WINDOWS/ARCH", arch_value.as_str()),
        ("WINDOWS/PRODUCTNAME", "Synthetic Windows PE (dart fixture)"),
        ("WINDOWS/EDITIONID", "WindowsPE"),
        ("WINDOWS/INSTALLATIONTYPE", "WindowsPE"),
        ("WINDOWS/PRODUCTTYPE", "WinNT"),
        ("WINDOWS/PRODUCTSUITE", "Terminal Server"),
        ("WINDOWS/LANGUAGES/LANGUAGE", "en-US"),
        ("WINDOWS/LANGUAGES/DEFAULT", "en-US"),
        ("WINDOWS/VERSION/MAJOR", "10"),
        ("WINDOWS/VERSION/MINOR", "0"),
        ("WINDOWS/VERSION/BUILD", "26100"),
        ("WINDOWS/VERSION/SPBUILD", "1"),
        ("WINDOWS/SYSTEMROOT", "WINDOWS"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// Builds a GRUB EFI program that prints [`BOOT_MARKER`] and powers off.
/// Returns `Ok(false)` when `grub-mkstandalone` or its x86_64-efi modules are
/// not installed.
pub fn build_grub_loader(output: &Path) -> Result<bool> {
    build_grub_loader_printing(output, BOOT_MARKER)
}

/// Builds a GRUB EFI program that prints `marker` and powers off (see
/// [`build_grub_loader`]).
pub fn build_grub_loader_printing(output: &Path, marker: &str) -> Result<bool> {
    if !Path::new("/usr/lib/grub/x86_64-efi").is_dir() {
        return Ok(false);
    }
    let work = tempfile::tempdir().map_err(|e| Error::write(&std::env::temp_dir(), e))?;
    let cfg = work.path().join("grub.cfg");
    put(&cfg, format!("echo {marker}\nhalt\n").as_bytes())?;
    let status = Command::new("grub-mkstandalone")
        .args([
            "-O",
            "x86_64-efi",
            "--modules=echo halt",
            "--locales=",
            "--themes=",
            "--fonts=",
        ])
        .arg("-o")
        .arg(output)
        .arg(format!("boot/grub/grub.cfg={}", cfg.display()))
        .output();
    match status {
        Ok(out) if out.status.success() => Ok(true),
        Ok(out) => Err(Error::Io {
            action: "running grub-mkstandalone for",
            path: output.to_path_buf(),
            source: std::io::Error::other(String::from_utf8_lossy(&out.stderr).trim().to_string()),
            untouched: "the fixture is incomplete",
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(Error::write(output, e)),
    }
}

/// Debian's isolinux (package `isolinux`) and its `ldlinux.c32` module
/// (package `syslinux-common`).
pub const ISOLINUX_FILES: [&str; 2] = [
    "/usr/lib/ISOLINUX/isolinux.bin",
    "/usr/lib/syslinux/modules/bios/ldlinux.c32",
];

/// Adds a BIOS stand-in loader to `media`: Debian's isolinux under
/// `isolinux/`, configured to print [`BOOT_MARKER`] on the serial port.
/// Returns the loader's path in the media (`isolinux/isolinux.bin`), or
/// `Ok(None)` when isolinux is not installed.
pub fn add_isolinux(media: &Path) -> Result<Option<String>> {
    add_syslinux(media, "isolinux", &ISOLINUX_FILES, "isolinux.cfg")
}

/// Debian's PXELINUX (package `pxelinux`) and its `ldlinux.c32` module
/// (package `syslinux-common`).
pub const PXELINUX_FILES: [&str; 2] = [
    "/usr/lib/PXELINUX/pxelinux.0",
    "/usr/lib/syslinux/modules/bios/ldlinux.c32",
];

/// Adds a BIOS PXE stand-in loader to `media`: Debian's PXELINUX under
/// `pxelinux/`, configured to print [`BOOT_MARKER`] on the serial port.
/// Returns the loader's path in the media (`pxelinux/pxelinux.0`), or
/// `Ok(None)` when PXELINUX is not installed.
pub fn add_pxelinux(media: &Path) -> Result<Option<String>> {
    add_syslinux(media, "pxelinux", &PXELINUX_FILES, "pxelinux.cfg/default")
}

/// Copies a SYSLINUX-family loader and `ldlinux.c32` into `media/dir` with
/// a configuration (at `config`, relative to that directory) that prints
/// the marker on the serial port.
fn add_syslinux(
    media: &Path,
    dir: &str,
    files: &[&str; 2],
    config: &str,
) -> Result<Option<String>> {
    if !files.iter().all(|f| Path::new(f).is_file()) {
        return Ok(None);
    }
    let dir_path = media.join(dir);
    let config = dir_path.join(config);
    let config_dir = config.parent().unwrap_or(&dir_path);
    fs::create_dir_all(config_dir).map_err(|e| Error::write(config_dir, e))?;
    let mut loader = None;
    for f in files {
        let from = Path::new(f);
        let name = from.file_name().unwrap_or_default();
        let to = dir_path.join(name);
        fs::copy(from, &to).map_err(|e| Error::write(&to, e))?;
        loader.get_or_insert_with(|| format!("{dir}/{}", name.to_string_lossy()));
    }
    put(
        &config,
        format!("SERIAL 0 115200\nSAY {BOOT_MARKER}\nPROMPT 0\n").as_bytes(),
    )?;
    Ok(loader)
}

/// Writes a synthetic WinPE-like media set, payloads and drivers under `dir`.
pub fn generate(dir: impl AsRef<Path>, options: &FixtureOptions) -> Result<Fixture> {
    let dir = dir.as_ref();
    let media = dir.join("media");
    let payloads = dir.join("payloads");
    let drivers = dir.join("drivers");

    // The Windows PE file tree that becomes boot.wim.
    let work = tempfile::tempdir_in(dir).or_else(|_| {
        fs::create_dir_all(dir)?;
        tempfile::tempdir_in(dir)
    });
    let work = work.map_err(|e| Error::write(dir, e))?;
    let pe = work.path().join("winpe");
    let sys32 = pe.join("Windows/System32");
    for (name, body) in [
        ("startnet.cmd", "wpeinit\r\n"),
        ("wpeinit.exe", "stand-in wpeinit"),
        ("winpeshl.exe", "stand-in winpeshl"),
        ("cmd.exe", "stand-in cmd"),
        ("drvload.exe", "stand-in drvload"),
        ("config/SYSTEM", "stand-in registry hive"),
    ] {
        put(&sys32.join(name), body.as_bytes())?;
    }
    fs::create_dir_all(pe.join("Program Files")).map_err(|e| Error::write(&pe, e))?;
    let chunk = 8u64 << 20;
    let mut left = options.base_bytes;
    let mut n = 0u64;
    while left > 0 {
        let size = left.min(chunk);
        write_filler(&sys32.join(format!("system{n:03}.dll")), size, n + 1)?;
        left -= size;
        n += 1;
    }

    put(
        &media.join("bootmgr"),
        b"stand-in bootmgr (BIOS boot manager)",
    )?;
    let (bios_store, uefi_store) = (media_store(Firmware::Bios)?, media_store(Firmware::Uefi)?);
    put(&media.join("boot/bcd"), &bios_store)?;
    put(&media.join("boot/boot.sdi"), &vec![0u8; 3 << 20])?;
    put(
        &media.join("boot/etfsboot.com"),
        &[0xEBu8, 0xFE].repeat(1024),
    )?;
    put(&media.join("efi/microsoft/boot/bcd"), &uefi_store)?;
    // What a WinPE image carries for media builders: the DVD stores and
    // boot.sdi (wimboot and template-based tools read these), the loaders.
    let sdi = vec![0u8; 3 << 20];
    for (dir, store) in [("PCAT", &bios_store), ("EFI", &uefi_store)] {
        put(&pe.join(format!("Windows/Boot/DVD/{dir}/BCD")), store)?;
        put(&pe.join(format!("Windows/Boot/DVD/{dir}/boot.sdi")), &sdi)?;
    }
    put(&sys32.join("boot/winload.exe"), b"stand-in BIOS OS loader")?;
    put(&sys32.join("boot/winload.efi"), b"stand-in UEFI OS loader")?;
    let loader = media.join("efi/boot/bootx64.efi");
    fs::create_dir_all(media.join("efi/boot")).map_err(|e| Error::write(&media, e))?;
    let bootable = options.grub && build_grub_loader(&loader)?;
    if !bootable {
        put(
            &loader,
            b"stand-in UEFI loader (grub-mkstandalone not installed)",
        )?;
    }
    // The image's own boot managers (2011 and 2023 CA) are the stand-in
    // loader too, so media that take them from the WIM still boot.
    for to in [
        "Windows/Boot/EFI/bootmgfw.efi",
        "Windows/Boot/EFI_EX/bootmgfw_EX.efi",
    ] {
        let to = pe.join(to);
        fs::create_dir_all(to.parent().unwrap_or(&pe)).map_err(|e| Error::write(&to, e))?;
        fs::copy(&loader, &to).map_err(|e| Error::write(&to, e))?;
    }

    let base_wim = media.join("sources/boot.wim");
    fs::create_dir_all(media.join("sources")).map_err(|e| Error::write(&media, e))?;
    let pe_image = CaptureImage {
        source: pe.clone(),
        name: format!("Microsoft Windows PE ({})", options.arch),
        properties: [(
            "DESCRIPTION".to_string(),
            format!("Microsoft Windows PE ({})", options.arch),
        )]
        .into_iter()
        .chain(winpe_properties("9", options.arch))
        .collect(),
    };
    // Setup is Windows PE plus setup files; capture it from the same tree.
    let setup_image_tree = work.path().join("winpe-setup");
    copy_dir_links(&pe, &setup_image_tree)?;
    put(
        &setup_image_tree.join("sources/setup.exe"),
        b"stand-in setup",
    )?;
    let setup_image = CaptureImage {
        source: setup_image_tree,
        name: format!("Microsoft Windows Setup ({})", options.arch),
        properties: [(
            "DESCRIPTION".to_string(),
            format!("Microsoft Windows Setup ({})", options.arch),
        )]
        .into_iter()
        .chain(winpe_properties("2", options.arch))
        .collect(),
    };
    capture(
        &[pe_image, setup_image],
        &base_wim,
        options.compression,
        Some(2),
        options.deterministic,
        &Control::default(),
    )?;

    for (i, t) in TOOL_INFO.iter().enumerate() {
        let d = payloads.join(t.payload_dir());
        let exe: String = t
            .display_name
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .collect();
        put(
            &d.join("README.txt"),
            format!("Stand-in payload for {}\r\n", t.display_name).as_bytes(),
        )?;
        write_filler(
            &d.join(format!("{exe}.exe")),
            options.payload_bytes,
            1000 + i as u64,
        )?;
        if t.flag == dart_core::model::tools::Tools::REMOTE_CONNECTION {
            put(
                &d.join("RemoteRecovery.exe"),
                b"stand-in remote recovery agent",
            )?;
        }
    }
    put(
        &drivers.join("netkvm/netkvm.inf"),
        b"; stand-in driver package\r\n[Version]\r\nSignature=\"$WINDOWS NT$\"\r\n",
    )?;
    put(&drivers.join("netkvm/netkvm.sys"), b"stand-in driver")?;

    Ok(Fixture {
        media,
        base_wim,
        payloads,
        drivers,
        bootable_uefi_loader: bootable,
    })
}

/// A store like the one WinPE media carry for `firmware`: the objects of
/// Microsoft's media and one entry, "Windows Setup" with Microsoft's id,
/// booting `\sources\boot.wim`; fixed timestamps, so fixtures are
/// reproducible.
pub fn media_store(firmware: Firmware) -> Result<Vec<u8>> {
    let mut store = Store::new_at(firmware, FIXTURE_FILETIME)?;
    let entry = WinPeEntry {
        firmware: Some(firmware),
        id: Some(names::MEDIA_LOADER),
        ..WinPeEntry::new("Windows Setup", r"\sources\boot.wim")
    };
    store.add_winpe(&entry, true)?;
    Ok(store.to_bytes())
}

/// 2024-01-01 as a FILETIME: the time stamped into fixture stores.
pub const FIXTURE_FILETIME: u64 = 133_485_408_000_000_000;

/// Mirrors a tree with hard links (same file system), falling back to copies.
fn copy_dir_links(from: &Path, to: &Path) -> Result<()> {
    fs::create_dir_all(to).map_err(|e| Error::write(to, e))?;
    for entry in fs::read_dir(from).map_err(|e| Error::read(from, e))? {
        let entry = entry.map_err(|e| Error::read(from, e))?;
        let src = entry.path();
        let dst = to.join(entry.file_name());
        if src.is_dir() {
            copy_dir_links(&src, &dst)?;
        } else if fs::hard_link(&src, &dst).is_err() {
            fs::copy(&src, &dst).map_err(|e| Error::write(&dst, e))?;
        }
    }
    Ok(())
}
/// A stand-in local disk: a new image file of `disk_bytes` with a `scheme`
/// partition table holding one "Windows" basic-data partition of
/// `os_bytes` (at 1 MiB) filled with a known pattern, and free space after
/// it. Returns the OS partition's first byte and length, so a test can hash
/// it before and after adding a recovery partition.
pub fn os_disk(
    path: &Path,
    scheme: dart_core::formats::partition::Scheme,
    disk_bytes: u64,
    os_bytes: u64,
) -> Result<(u64, u64)> {
    use dart_core::disk::{BlockDevice, FileDevice};
    use dart_core::formats::partition::{apply, Layout, PartitionKind};
    let mut dev = FileDevice::create(path, disk_bytes, 512)?;
    let mut layout = Layout::new(scheme, disk_bytes, 512);
    let os = layout.add(PartitionKind::BasicData, os_bytes, "Windows")?;
    apply(&mut dev, &layout)?;
    let pattern: Vec<u8> = (0..1u64 << 20).map(|i| (i * 7 % 251) as u8).collect();
    let mut at = 0;
    while at < os.size {
        let n = (os.size - at).min(pattern.len() as u64) as usize;
        dev.write_at(os.start + at, &pattern[..n])?;
        at += n as u64;
    }
    dev.flush()?;
    Ok((os.start, os.size))
}
