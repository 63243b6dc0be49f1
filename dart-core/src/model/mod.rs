//! What the rest works on: the vocabulary of a recovery image before any
//! format or device is involved.
//!
//! - [`arch`]: Windows PE architectures ([`Architecture`](arch::Architecture)).
//! - [`tools`]: the DaRT tools ([`Tools`](tools::Tools)), their metadata
//!   and support levels.
//! - [`media`]: [`MediaSet`](media::MediaSet), the file tree that boots a
//!   recovery image (plain data; the ISO reader in
//!   [`formats::iso`](crate::formats::iso) also produces one).

pub mod arch;
pub mod media;
pub mod tools;
