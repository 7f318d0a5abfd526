//! Printing traffic tables.

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
