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
//! use dart_core::partition::{apply, read_layout, Layout, PartitionKind, Scheme, MIB};
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
