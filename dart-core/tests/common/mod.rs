//! Helpers shared by the tests: tool and root checks, loop devices and
//! mounts undone on drop, boot media, pseudo-random data.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

// ---------------------------------------------------------------------------
// Environment

/// Whether `name` is an executable in PATH or the usual sbin directories.
pub fn have_tool(name: &str) -> bool {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/sbin", "/usr/sbin", "/bin", "/usr/bin"].map(PathBuf::from))
        .any(|dir| dir.join(name).is_file())
}

pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Checks that the test can run: root and every tool in `tools` (each entry
/// is a list of alternatives). Returns false when the test must be skipped
/// (DART_SKIP_ROOT_TESTS=1); panics with the reason otherwise.
pub fn ready(test: &str, tools: &[&[&str]]) -> bool {
    let mut missing = Vec::new();
    if !is_root() {
        missing.push("root (loop devices and mounts need it)".to_string());
    }
    for alternatives in tools {
        if !alternatives.iter().any(|t| have_tool(t)) {
            missing.push(format!("the tool {}", alternatives.join(" or ")));
        }
    }
    if missing.is_empty() {
        return true;
    }
    let what = missing.join(", ");
    if std::env::var("DART_SKIP_ROOT_TESTS").as_deref() == Ok("1") {
        eprintln!("SKIPPED {test}: it needs {what} (DART_SKIP_ROOT_TESTS=1)");
        return false;
    }
    panic!(
        "{test} needs {what}; run the tests as root with util-linux installed, \
         or set DART_SKIP_ROOT_TESTS=1 to skip the tests that need real block devices"
    );
}

pub fn output(cmd: &str, args: &[&str]) -> Output {
    Command::new(cmd)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {cmd}: {e}"))
}

/// Runs a command, panicking with its stderr when it fails; returns stdout.
pub fn run(cmd: &str, args: &[&str]) -> String {
    let out = output(cmd, args);
    assert!(
        out.status.success(),
        "{cmd} {} failed ({}): {}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

pub fn sha256_file(path: &Path) -> [u8; 32] {
    Sha256::digest(fs::read(path).unwrap()).into()
}

pub fn wait_for(what: &str, seconds: u64, mut done: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(seconds) {
        if done() {
            return true;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    eprintln!("timed out waiting for {what}");
    false
}

// ---------------------------------------------------------------------------
// Guards: loop devices and mounts are undone even when a test panics.

/// A loop device attached by this test; detached on drop.
pub struct Loop {
    /// The device node.
    pub dev: PathBuf,
}

impl Loop {
    pub fn attach(file: &Path, extra: &[&str]) -> Loop {
        let mut args = vec!["--find", "--show"];
        args.extend_from_slice(extra);
        let file = file.to_str().unwrap();
        args.push(file);
        let dev = run("losetup", &args).trim().to_string();
        assert!(dev.starts_with("/dev/loop"), "losetup printed {dev:?}");
        Loop {
            dev: PathBuf::from(dev),
        }
    }

    pub fn path(&self) -> &str {
        self.dev.to_str().unwrap()
    }

    /// The kernel name, e.g. `loop3`.
    pub fn name(&self) -> String {
        self.dev.file_name().unwrap().to_string_lossy().into_owned()
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        let out = output("losetup", &["-d", self.path()]);
        if !out.status.success() {
            eprintln!(
                "warning: losetup -d {} failed: {}",
                self.path(),
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
    }
}

/// A file system mounted by this test; unmounted on drop.
pub struct Mount {
    /// The mount point.
    pub dir: PathBuf,
}

impl Drop for Mount {
    fn drop(&mut self) {
        let dir = self.dir.to_str().unwrap();
        if !output("umount", &[dir]).status.success() {
            let out = output("umount", &["-l", dir]);
            if !out.status.success() {
                eprintln!(
                    "warning: umount {dir} failed: {}",
                    String::from_utf8_lossy(&out.stderr).trim()
                );
            }
        }
    }
}

/// Makes a FAT file system on `dev` and mounts it on `dir`. A kernel built
/// without vfat (as in some CI VMs) gets ext2 instead: what matters here is
/// that something is mounted.
pub fn mkfs_and_mount(dev: &str, dir: &Path) -> Mount {
    fs::create_dir_all(dir).unwrap();
    let dir_text = dir.to_str().unwrap();
    if have_tool("mkfs.fat") {
        run("mkfs.fat", &[dev]);
        let out = output("mount", &["-t", "vfat", dev, dir_text]);
        if out.status.success() {
            return Mount {
                dir: dir.to_path_buf(),
            };
        }
        eprintln!(
            "mounting FAT failed ({}); using ext2",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    run("mkfs.ext2", &["-q", "-F", dev]);
    run("mount", &[dev, dir_text]);
    Mount {
        dir: dir.to_path_buf(),
    }
}

/// Writes back everything the mounted file system holds and remounts it
/// read-only, so the backing file stops changing: a read-write ext2 mount
/// rewrites its superblock on its own (seen on CI), which would fail the
/// tests' "the refused device is unchanged" checks. It stays mounted.
pub fn settle(mount: &Mount) {
    let dir = mount.dir.to_str().unwrap();
    run("sync", &["-f", dir]);
    run("mount", &["-o", "remount,ro", dir]);
    run("sync", &[]);
}

/// A small synthetic WinPE media set whose stand-in UEFI loader boots
/// (GRUB printing the marker); returns the media directory.
pub fn bootable_media(dir: &Path) -> PathBuf {
    use dart_core::fixture::{generate, FixtureOptions};
    let fx = generate(
        dir,
        &FixtureOptions {
            base_bytes: 3 << 20,
            payload_bytes: 4096,
            ..FixtureOptions::default()
        },
    )
    .unwrap();
    assert!(
        fx.bootable_uefi_loader,
        "grub-mkstandalone (apt: grub-efi-amd64-bin) is required"
    );
    fx.media
}

/// A media tree whose UEFI loader is `size` bytes of `fill` and whose
/// `sources/boot.wim` is 1000 (nothing boots it): for boot server tests.
pub fn loader_media(dir: &Path, fill: u8, size: usize) -> dart_core::media::MediaSet {
    for (path, bytes) in [
        ("efi/boot/bootx64.efi", vec![fill; size]),
        ("sources/boot.wim", vec![fill; 1000]),
    ] {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
    dart_core::media::MediaSet::open(dir).unwrap()
}

/// A server root (`DIR/root`) with a recovery image "rescue" (loader of
/// `size` bytes `r`) and an imaging image "deploy" (`d`).
pub fn two_images(
    size: usize,
) -> (
    tempfile::TempDir,
    dart_core::net::CatalogImage,
    dart_core::net::CatalogImage,
) {
    use dart_core::net::stage::{stage, StageOptions};
    use dart_core::net::ImageRole;
    use dart_core::progress::Control;
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("root");
    fs::create_dir(&root).unwrap();
    let control = Control::default();
    let rescue = stage(
        &loader_media(&dir.path().join("a"), b'r', size),
        &root,
        &StageOptions::recovery("rescue"),
        &control,
    )
    .unwrap();
    let imaging = StageOptions {
        role: ImageRole::Imaging,
        ..StageOptions::recovery("deploy")
    };
    let deploy = stage(
        &loader_media(&dir.path().join("b"), b'd', size),
        &root,
        &imaging,
        &control,
    )
    .unwrap();
    (dir, rescue, deploy)
}

/// Pseudo-random bytes (xorshift64*), the same for the same seed.
pub fn random_bytes(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        out.extend_from_slice(&x.wrapping_mul(0x2545_F491_4F6C_DD1D).to_le_bytes());
    }
    out.truncate(len);
    out
}

/// Every file below `dir`, recursively.
pub fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

// ---------------------------------------------------------------------------
// Network

/// A PXE client's DHCP message of type `kind` from `mac`, architecture
/// `arch` (option 93 and the vendor class), claiming `ciaddr`.
pub fn pxe_message(
    kind: dhcproto::v4::MessageType,
    mac: [u8; 6],
    arch: u16,
    ciaddr: Ipv4Addr,
) -> Vec<u8> {
    use dhcproto::v4::{DhcpOption, Message, Opcode};
    use dhcproto::{Encodable, Encoder};
    let mut msg = Message::default();
    msg.set_opcode(Opcode::BootRequest)
        .set_xid(0x1234_5678)
        .set_chaddr(&mac)
        .set_ciaddr(ciaddr);
    let opts = msg.opts_mut();
    opts.insert(DhcpOption::MessageType(kind));
    opts.insert(DhcpOption::ClassIdentifier(
        format!("PXEClient:Arch:{arch:05}:UNDI:003016").into_bytes(),
    ));
    opts.insert(DhcpOption::ClientSystemArchitecture(arch.into()));
    let mut out = Vec::new();
    msg.encode(&mut Encoder::new(&mut out)).unwrap();
    out
}
