//! What an image is for: the word the catalog records and the policy
//! judges by.

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// What an image is for; the access policy lets every client boot
/// recovery images and only listed clients boot imaging images.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageRole {
    /// A recovery image (DaRT): any client may boot it by default.
    Recovery,
    /// An OS imaging (deployment) image: only clients a rule lists.
    Imaging,
}

impl ImageRole {
    /// `recovery` or `imaging`.
    pub fn name(self) -> &'static str {
        match self {
            ImageRole::Recovery => "recovery",
            ImageRole::Imaging => "imaging",
        }
    }
}

impl std::str::FromStr for ImageRole {
    type Err = Error;

    fn from_str(s: &str) -> Result<ImageRole> {
        match s {
            "recovery" => Ok(ImageRole::Recovery),
            "imaging" => Ok(ImageRole::Imaging),
            other => Err(Error::invalid(
                "image role",
                other,
                "use \"recovery\" or \"imaging\"",
            )),
        }
    }
}
