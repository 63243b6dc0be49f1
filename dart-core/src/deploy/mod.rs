//! Deployments: the seed's methods, each returning a report.
//!
//! | function | method |
//! |---|---|
//! | [`usb::write_usb`] | removable media: a bootable USB stick or USB disk image |
//! | [`recovery::plan_add_recovery`], [`recovery::add_recovery`] | a dedicated recovery partition on the local disk |
//! | [`recovery::update_recovery`] | replacing the image on that partition in place |
//! | [`register::plan_register`], [`register::register`] | an entry for that partition in the installed Windows Boot Manager's store |
//! | [`uefi_entry::plan_uefi_entry`], [`uefi_entry::set_boot_next_at`] | a UEFI boot entry (`Boot####`, `BootOrder`, `BootNext`) for that partition |
//! | [`managed::set_up_recovery_at`], [`managed::unregister_recovery_at`] | all of it as one idempotent request, planned before anything is written |
//! | [`MediumSpec::prepare`] | what goes on a medium: the media, a built WIM in their place, or several images behind a boot menu |
//! | [`stage::stage`] | a network boot server: a media set copied into the server root as a new image version |

pub mod check;
pub mod iso;
pub mod managed;
pub mod medium;
pub mod recovery;
pub mod register;
pub mod stage;
pub mod uefi_entry;
pub mod usb;

pub use check::{check_medium, BootManagerCheck, MediumCheck, StoreCheck};
pub use iso::{plan_iso_from, plan_iso_to, write_iso_from, write_iso_onto};
pub use medium::{BootManager, Medium, MediumSpec, MenuEntry, MenuImage};
pub use recovery::{
    add_recovery, add_recovery_at, plan_add_recovery, plan_add_recovery_at, update_recovery,
    update_recovery_at, RecoveryReport,
};
pub use stage::{stage, stage_from, StageOptions};
pub use usb::{plan_usb, write_usb, write_usb_to, UsbOptions, UsbReport};
