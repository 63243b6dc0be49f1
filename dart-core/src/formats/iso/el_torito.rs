//! El Torito (the "Bootable CD-ROM Format Specification" 1.0): the boot
//! record volume descriptor, the boot catalog, and the boot-info-table that
//! isolinux-style loaders expect patched into their image.

use super::record::BLOCK;

/// Platform id of x86 PCs with BIOS firmware.
pub const PLATFORM_BIOS: u8 = 0x00;
/// Platform id of UEFI machines.
pub const PLATFORM_UEFI: u8 = 0xEF;
/// BIOS loaders are loaded as 4 virtual 512-byte sectors (as Windows'
/// `etfsboot.com` and isolinux expect).
pub const BIOS_LOAD_SECTORS: u16 = 4;

/// One boot image of the catalog.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BootImage {
    /// `PLATFORM_BIOS` or `PLATFORM_UEFI`.
    pub platform: u8,
    /// First block of the image.
    pub lba: u32,
    /// 512-byte sectors the firmware loads (no emulation).
    pub sectors: u16,
}

impl BootImage {
    /// A UEFI entry for an image of `bytes` bytes; the count saturates at
    /// 65535 sectors, where firmware reads the FAT image's own size.
    pub fn uefi(lba: u32, bytes: u64) -> BootImage {
        BootImage {
            platform: PLATFORM_UEFI,
            lba,
            sectors: u16::try_from(bytes.div_ceil(512)).unwrap_or(u16::MAX),
        }
    }
}

/// The boot record volume descriptor pointing at the catalog's block.
pub fn boot_record(catalog_lba: u32) -> [u8; BLOCK as usize] {
    let mut d = [0u8; BLOCK as usize];
    d[0] = 0;
    d[1..6].copy_from_slice(b"CD001");
    d[6] = 1;
    let id = b"EL TORITO SPECIFICATION";
    d[7..7 + id.len()].copy_from_slice(id);
    d[71..75].copy_from_slice(&catalog_lba.to_le_bytes());
    d
}

fn entry(image: &BootImage) -> [u8; 32] {
    let mut e = [0u8; 32];
    e[0] = 0x88; // bootable
    e[1] = 0; // no emulation
              // Load segment 0 means the traditional 0x7C0.
    e[6..8].copy_from_slice(&image.sectors.to_le_bytes());
    e[8..12].copy_from_slice(&image.lba.to_le_bytes());
    e
}

/// The boot catalog: the first image is the default entry (its platform
/// goes in the validation entry); every further image gets a section of
/// its own, the last marked final.
pub fn catalog(images: &[BootImage]) -> [u8; BLOCK as usize] {
    let mut c = [0u8; BLOCK as usize];
    let Some(first) = images.first() else {
        return c;
    };
    c[0] = 1;
    c[1] = first.platform;
    let id = b"dart";
    c[4..4 + id.len()].copy_from_slice(id);
    c[30] = 0x55;
    c[31] = 0xAA;
    let sum = c[..32].chunks_exact(2).fold(0u16, |s, w| {
        s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
    });
    c[28..30].copy_from_slice(&0u16.wrapping_sub(sum).to_le_bytes());
    c[32..64].copy_from_slice(&entry(first));
    let rest = &images[1..];
    for (i, image) in rest.iter().enumerate() {
        let at = 64 + i * 64;
        if at + 64 > c.len() {
            break;
        }
        c[at] = if i + 1 == rest.len() { 0x91 } else { 0x90 };
        c[at + 1] = image.platform;
        c[at + 2..at + 4].copy_from_slice(&1u16.to_le_bytes());
        c[at + 32..at + 64].copy_from_slice(&entry(image));
    }
    c
}

/// Patches the 56-byte boot-info-table at offset 8 of a loader image, as
/// `mkisofs -boot-info-table` does: the primary volume descriptor's block,
/// the image's block and length, and the 32-bit sum of the image from
/// byte 64. Images shorter than 64 bytes are left as they are.
pub fn patch_boot_info_table(image: &mut [u8], pvd_lba: u32, image_lba: u32) {
    if image.len() < 64 {
        return;
    }
    let sum = image[64..].chunks(4).fold(0u32, |s, w| {
        let mut b = [0u8; 4];
        b[..w.len()].copy_from_slice(w);
        s.wrapping_add(u32::from_le_bytes(b))
    });
    image[8..12].copy_from_slice(&pvd_lba.to_le_bytes());
    image[12..16].copy_from_slice(&image_lba.to_le_bytes());
    let len = image.len() as u32;
    image[16..20].copy_from_slice(&len.to_le_bytes());
    image[20..24].copy_from_slice(&sum.to_le_bytes());
    image[24..64].fill(0);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalog_checksums_and_sections() {
        let c = catalog(&[
            BootImage {
                platform: PLATFORM_BIOS,
                lba: 40,
                sectors: 4,
            },
            BootImage::uefi(50, 70_000 * 512),
        ]);
        let sum = c[..32].chunks_exact(2).fold(0u16, |s, w| {
            s.wrapping_add(u16::from_le_bytes([w[0], w[1]]))
        });
        assert_eq!(sum, 0);
        assert_eq!((c[30], c[31]), (0x55, 0xAA));
        assert_eq!(c[32], 0x88);
        assert_eq!(u32::from_le_bytes([c[40], c[41], c[42], c[43]]), 40);
        assert_eq!((c[64], c[65]), (0x91, PLATFORM_UEFI));
        assert_eq!(u16::from_le_bytes([c[102], c[103]]), u16::MAX);
        assert_eq!(u32::from_le_bytes([c[104], c[105], c[106], c[107]]), 50);
    }

    #[test]
    fn boot_info_table_sum() {
        let mut img: Vec<u8> = (0..2048u32).map(|i| i as u8).collect();
        patch_boot_info_table(&mut img, 16, 33);
        assert_eq!(&img[8..12], &16u32.to_le_bytes());
        assert_eq!(&img[12..16], &33u32.to_le_bytes());
        assert_eq!(&img[16..20], &2048u32.to_le_bytes());
        let sum = img[64..].chunks(4).fold(0u32, |s, w| {
            s.wrapping_add(u32::from_le_bytes([w[0], w[1], w[2], w[3]]))
        });
        assert_eq!(&img[20..24], &sum.to_le_bytes());
    }
}
