//! This process's memory, from `/proc/self/status` (Linux; `None` elsewhere): recorded
//! along a training run, so that a long run shows whether memory grows.

/// A field of `/proc/self/status` in kB, e.g. `VmRSS`.
fn status_kb(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix(field)?.strip_prefix(':'))?
        .trim()
        .strip_suffix("kB")?
        .trim()
        .parse()
        .ok()
}

/// The resident set size now, in MB.
pub(crate) fn resident_mb() -> Option<f64> {
    status_kb("VmRSS").map(|kb| kb as f64 / 1024.0)
}

/// The peak resident set size so far, in MB.
pub(crate) fn peak_resident_mb() -> Option<f64> {
    status_kb("VmHWM").map(|kb| kb as f64 / 1024.0)
}
