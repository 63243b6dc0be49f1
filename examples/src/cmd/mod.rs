//! The commands: one module per top-level command or command group, each
//! owning its clap arguments (an `Args` struct or a subcommand enum) and its
//! `run` function.

pub mod bcd;
pub mod bmap;
pub mod catalog;
pub mod clients;
pub mod demo;
pub mod export;
pub mod fixture;
pub mod flash;
pub mod image;
pub mod media;
pub mod medium;
pub mod partition;
pub mod plan;
pub mod policy;
pub mod serve;
pub mod stage;
pub mod verify;
