//! Sizes on the command line: bytes, or a number with a K, M, G or T unit.

/// Parses "1048576", "512K", "64M", "1G", "2GiB", "1.5G".
pub fn parse_size(s: &str) -> std::result::Result<u64, String> {
    let t = s.trim();
    let split = t
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let mult: u64 = match unit
        .trim()
        .to_ascii_uppercase()
        .trim_end_matches("IB")
        .trim_end_matches('B')
    {
        "" => 1,
        "K" => 1 << 10,
        "M" => 1 << 20,
        "G" => 1 << 30,
        "T" => 1 << 40,
        _ => {
            return Err(format!(
                "size {s:?}: unknown unit {unit:?} (use K, M, G or T)"
            ))
        }
    };
    let n: f64 = num
        .parse()
        .map_err(|_| format!("size {s:?} is not a number"))?;
    if !(n.is_finite() && n > 0.0) {
        return Err(format!("size {s:?} must be positive"));
    }
    Ok((n * mult as f64) as u64)
}
