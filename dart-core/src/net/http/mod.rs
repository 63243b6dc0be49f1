//! The boot server over HTTP (issue 18, in progress): the wire codec
//! first ([`wire`]); the server follows.

pub mod wire;
