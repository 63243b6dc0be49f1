//! Recovery images: inspecting WIM files and composing DaRT images.
//!
//! * [`RecoveryImage`] opens a WIM and reports its images (name, description,
//!   architecture, WinPE or not, sizes, compression, boot index).
//! * [`build_image`] / [`build_variants`] compose recovery images from a base
//!   WinPE WIM, a tool set, tool payloads, drivers, startup and Remote
//!   Connection settings; several support levels share one pass.
//! * [`capture`] makes a new WIM from directories (fixtures, base images).

mod build;
mod capture;
pub mod header;
mod info;
mod output;
mod recipe;
mod stage;
pub mod startup;
mod wim;

pub use build::{build_image, build_variants, BuildReport, OutputReport};
pub use capture::{capture, CaptureImage};
pub use info::{Compression, ImageInfo, RecoveryImage, WimInfo};
pub use recipe::{
    ImageRecipe, ImageVariant, RemoteConnection, StartupConfig, CONVENTIONAL_REMOTE_PORT,
    DEFAULT_IMAGE_NAME, MAX_WELCOME_MESSAGE, SCRATCH_SPACE_CHOICES,
};
