//! HTTP requests with a real client (curl), for the HTTP server's tests.

use std::process::Command;

/// Runs curl with `args` (the URL among them) and returns the status and
/// the body; panics when curl cannot run or prints no status.
pub fn curl(args: &[&str]) -> (u16, Vec<u8>) {
    let out = Command::new("curl")
        .args(["-s", "-o", "-", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .expect("curl runs");
    let text = out.stdout;
    let cut = text
        .iter()
        .rposition(|&b| b == b'\n')
        .expect("curl printed a status");
    let status = std::str::from_utf8(&text[cut + 1..])
        .ok()
        .and_then(|s| s.parse().ok())
        .expect("curl printed a numeric status");
    (status, text[..cut].to_vec())
}
