//! [`Mirror`]: several devices written as one, so a layout built on the
//! fly (a USB stick, an ISO image) goes onto N targets in one pass without
//! an intermediate file.

use std::path::{Path, PathBuf};

use super::BlockDevice;
use crate::error::{Error, Result};

/// Writes and flushes go to every device (in parallel); reads come from the
/// first. Its length is the shortest device's.
///
/// ```
/// use dart_core::disk::{BlockDevice, MemoryDevice, Mirror};
/// let mut m = Mirror::new(vec![
///     Box::new(MemoryDevice::new(1 << 20, 512)),
///     Box::new(MemoryDevice::new(2 << 20, 512)),
/// ])?;
/// assert_eq!(m.len(), 1 << 20);
/// m.write_at(512, b"same on both")?;
/// # Ok::<(), dart_core::Error>(())
/// ```
pub struct Mirror {
    devices: Vec<Box<dyn BlockDevice>>,
    name: PathBuf,
    len: u64,
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("name", &self.name)
            .field("len", &self.len)
            .finish_non_exhaustive()
    }
}

impl Mirror {
    /// Mirrors `devices`, which must share one logical sector size.
    pub fn new(devices: Vec<Box<dyn BlockDevice>>) -> Result<Mirror> {
        let Some(first) = devices.first() else {
            return Err(Error::invalid(
                "targets",
                "none",
                "name at least one device or image file",
            ));
        };
        let sector = first.sector_size();
        if let Some(odd) = devices.iter().find(|d| d.sector_size() != sector) {
            return Err(Error::invalid(
                "targets",
                odd.name().display(),
                format!(
                    "its {}-byte sectors differ from the {sector}-byte sectors of {}; write targets of one sector size together",
                    odd.sector_size(),
                    first.name().display()
                ),
            ));
        }
        let len = devices.iter().map(|d| d.len()).min().unwrap_or(0);
        let name = devices
            .iter()
            .map(|d| d.name().display().to_string())
            .collect::<Vec<_>>()
            .join(", ");
        Ok(Mirror {
            devices,
            name: PathBuf::from(name),
            len,
        })
    }

    fn each(&mut self, op: impl Fn(&mut dyn BlockDevice) -> Result<()> + Sync) -> Result<()> {
        if let [one] = self.devices.as_mut_slice() {
            return op(&mut **one);
        }
        std::thread::scope(|s| {
            let handles: Vec<_> = self
                .devices
                .iter_mut()
                .map(|d| {
                    let op = &op;
                    s.spawn(move || op(&mut **d))
                })
                .collect();
            let mut first_error = None;
            for h in handles {
                let r = h.join().unwrap_or_else(|_| {
                    Err(Error::invalid(
                        "targets",
                        "mirror",
                        "a writer thread panicked",
                    ))
                });
                if let Err(e) = r {
                    first_error.get_or_insert(e);
                }
            }
            first_error.map_or(Ok(()), Err)
        })
    }
}

impl BlockDevice for Mirror {
    fn name(&self) -> &Path {
        &self.name
    }
    fn len(&self) -> u64 {
        self.len
    }
    fn sector_size(&self) -> u32 {
        self.devices.first().map_or(512, |d| d.sector_size())
    }
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<()> {
        super::check_range(&self.name, "reading", offset, buf.len(), self.len)?;
        match self.devices.first_mut() {
            Some(d) => d.read_at(offset, buf),
            None => Ok(()),
        }
    }
    fn write_at(&mut self, offset: u64, buf: &[u8]) -> Result<()> {
        super::check_range(&self.name, "writing", offset, buf.len(), self.len)?;
        self.each(|d| d.write_at(offset, buf))
    }
    fn flush(&mut self) -> Result<()> {
        self.each(|d| d.flush())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::disk::MemoryDevice;
    use crate::formats::fat::{write_volume, FatOptions};

    #[test]
    fn a_volume_built_once_lands_on_every_device() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("efi/boot")).unwrap();
        std::fs::write(dir.path().join("efi/boot/bootx64.efi"), vec![7u8; 100_000]).unwrap();
        let media = crate::model::media::MediaSet::open(dir.path()).unwrap();
        let size = crate::formats::fat::volume_size_for(&media, 512) as usize;
        let mut m = Mirror::new(vec![
            Box::new(MemoryDevice::new(size, 512)),
            Box::new(MemoryDevice::new(size, 512)),
        ])
        .unwrap();
        let opts = FatOptions {
            timestamp: Some(1),
            ..FatOptions::default()
        };
        write_volume(&mut m, &media, &opts, &crate::progress::Control::default()).unwrap();
        let mut a = vec![0u8; size];
        m.read_at(0, &mut a).unwrap();
        let mut single = MemoryDevice::new(size, 512);
        write_volume(
            &mut single,
            &media,
            &opts,
            &crate::progress::Control::default(),
        )
        .unwrap();
        assert!(a == single.bytes());
        let mixed = Mirror::new(vec![
            Box::new(MemoryDevice::new(size, 512)),
            Box::new(MemoryDevice::new(size, 4096)),
        ]);
        assert!(mixed.unwrap_err().to_string().contains("4096"));
    }
}
