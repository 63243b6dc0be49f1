//! Small media sets and server roots for tests.

use std::fs;
use std::path::{Path, PathBuf};

/// A small synthetic WinPE media set whose stand-in UEFI loader boots
/// (GRUB printing the marker); returns the media directory.
pub fn bootable_media(dir: &Path) -> PathBuf {
    use crate::fixture::{generate, FixtureOptions};
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
pub fn loader_media(dir: &Path, fill: u8, size: usize) -> dart_core::model::media::MediaSet {
    for (path, bytes) in [
        ("efi/boot/bootx64.efi", vec![fill; size]),
        ("sources/boot.wim", vec![fill; 1000]),
    ] {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, bytes).unwrap();
    }
    dart_core::model::media::MediaSet::open(dir).unwrap()
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
    use dart_core::deploy::stage::{stage, StageOptions};
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
