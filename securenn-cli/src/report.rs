//! Printing traffic tables, and the latency percentiles of the serving commands.

use std::fmt::Write as _;

use securenn_dsl::net::ClusterStats;
use securenn_dsl::party::Role;

/// A table of payload bytes sent between each ordered pair of parties.
pub(crate) fn traffic_table(stats: &ClusterStats) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "  payload bytes sent (row: sender, column: receiver)");
    let _ = writeln!(
        out,
        "  {:<6}{:>14}{:>14}{:>14}{:>16}",
        "", "P0", "P1", "P2", "total sent"
    );
    for from in Role::ALL {
        let _ = write!(out, "  {:<6}", from.to_string());
        for to in Role::ALL {
            if from == to {
                let _ = write!(out, "{:>14}", "-");
            } else {
                let _ = write!(out, "{:>14}", stats.bytes[from.index()][to.index()]);
            }
        }
        let _ = writeln!(out, "{:>16}", stats.sent_by(from));
    }
    let _ = writeln!(
        out,
        "  total {} bytes, {} rounds",
        stats.total_bytes(),
        stats.rounds
    );
    out
}

/// The `percent` percentile of `sorted` latencies in seconds, in milliseconds: the
/// smallest latency at or above `percent` of them (NaN if there are none).
pub(crate) fn percentile_ms(sorted: &[f64], percent: usize) -> f64 {
    let rank = (sorted.len() * percent).div_ceil(100);
    sorted
        .get(rank.saturating_sub(1))
        .map_or(f64::NAN, |s| s * 1e3)
}
