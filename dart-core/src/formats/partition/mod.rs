//! The partitioner: disk layouts as plain data, GPT and MBR on disk, and
//! crash-safe writing.
//!
//! Plan first, then apply: a [`Layout`] can be built, checked, printed and
//! serialised without touching a disk; [`apply`](apply::apply) writes it so
//! that a crash leaves the old table or the new one; [`read_disk`] and
//! [`read_layout`] read one back, refusing ambiguous or unknown tables.
//!
//! ```
//! use dart_core::disk::MemoryDevice;
//! use dart_core::formats::partition::{apply, read_layout, Layout, PartitionKind, Scheme, MIB};
//! let mut disk = MemoryDevice::new(64 << 20, 512);
//! let mut layout = Layout::new(Scheme::Gpt, 64 * MIB, 512);
//! layout.add(PartitionKind::BasicData, 16 * MIB, "Windows")?;
//! apply(&mut disk, &layout)?;
//! assert_eq!(read_layout(&mut disk)?, layout);
//! # Ok::<(), dart_core::Error>(())
//! ```

pub mod apply;
pub mod gpt;
pub mod kind;
pub mod layout;
pub mod mbr;
pub mod read;
pub mod recovery;

pub use apply::{apply, ApplyReport};
pub use kind::{GptAttributes, PartitionKind};
pub use layout::{human, FreeRegion, Layout, Partition, Scheme, MIB};
pub use read::{read_disk, read_disk_at, read_layout, DiskState, GptCopy};
pub use recovery::{plan_recovery, RecoveryOptions, RecoveryPlan};

/// A GUID derived from a seed, for deterministic builds.
pub(crate) fn derived_guid(seed: &[u8], what: &str) -> uuid::Uuid {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    h.update(seed);
    h.update(what.as_bytes());
    let d = h.finalize();
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    uuid::Builder::from_random_bytes(b).into_uuid()
}

/// Fuzzing entry point (also run over the seed corpus by `cargo test`): any
/// bytes as a 512-byte-sector disk through the table reader and the
/// recovery planner, which must not panic and must only report partitions
/// inside the disk.
#[cfg(feature = "fuzzing")]
pub fn fuzz_one(data: &[u8]) {
    let mut bytes = data.to_vec();
    bytes.resize(data.len().next_multiple_of(512).max(4 * 512), 0);
    let mut disk = crate::disk::MemoryDevice::from_bytes(bytes, 512);
    let len = crate::disk::BlockDevice::len(&disk);
    if let Ok(state) = read_disk(&mut disk) {
        for p in &state.layout.partitions {
            assert!(p.end() <= len, "partition {} ends past the disk", p.number);
        }
        let _ = state.warnings();
        let _ = state.layout.to_string();
    }
    let _ = plan_recovery(&mut disk, 4096, &RecoveryOptions::default());
}
