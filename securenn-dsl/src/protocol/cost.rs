//! The communication and rounds of each protocol, in one place: the paper's (Tables 1 and 2
//! of SecureNN, with ℓ = 64 and log p = 8) and this crate's, which each protocol's module
//! doc explains (P2 sends only P1's share of what it deals, independent messages share
//! rounds, Maxpool compares in a tournament). `securenn bench protocol` reports the paper's
//! figure beside each measurement, and the cost tests hold every protocol to both.
//!
//! Bytes are summed over the three parties (8 per element of Z_2^64 or Z_2^64−1, 1 per
//! element of Z_67); rounds are the session clock's advance. This module imports nothing.

/// The traffic of one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cost {
    /// Bytes sent, summed over the three parties.
    pub bytes: u64,
    /// Rounds.
    pub rounds: u64,
}

/// The paper's cost of a call and this crate's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Costs {
    /// The paper's Table 1/2 figure (an upper bound for ours).
    pub paper: Cost,
    /// What this crate's implementation sends, exactly.
    pub ours: Cost,
}

const fn costs(paper_bytes: u64, paper_rounds: u64, bytes: u64, rounds: u64) -> Costs {
    Costs {
        paper: Cost {
            bytes: paper_bytes,
            rounds: paper_rounds,
        },
        ours: Cost { bytes, rounds },
    }
}

/// MatMul of an `m×n` by an `n×v` matrix (Algorithm 1): 2(mn + nv) + mv elements; the
/// masked operands open in one round, not two.
pub const fn matmul(m: u64, n: u64, v: u64) -> Costs {
    let bytes = 16 * (m * n + n * v) + 8 * m * v;
    costs(bytes, 2, bytes, 1)
}

/// A convolution of a `side×side×in_channels` image with `out_channels` filters of
/// `kernel×kernel`, stride 1, no padding: the paper opens the masked im2col matrix
/// (m²f²i elements, m = side − kernel + 1); this crate opens the masked image (side²·i).
pub const fn conv2d(side: u64, kernel: u64, in_channels: u64, out_channels: u64) -> Costs {
    let (m, f, i, o) = (side - kernel + 1, kernel, in_channels, out_channels);
    let paper = (2 * m * m * f * f * i + 2 * f * f * o * i + m * m * o) * 8;
    let ours = (2 * side * side * i + 2 * f * f * o * i + m * m * o) * 8;
    costs(paper, 2, ours, 1)
}

/// An elementwise product of `n` pairs (a Beaver product): 5 elements per pair.
pub const fn mul_elementwise(n: u64) -> Costs {
    costs(40 * n, 2, 40 * n, 1)
}

/// SelectShare (Algorithm 2) of `n` elements: one elementwise product.
pub const fn select_share(n: u64) -> Costs {
    mul_elementwise(n)
}

/// PrivateCompare (Algorithm 3) of `n` 64-bit values: 2ℓ elements of Z_67 each.
pub const fn private_compare(n: u64) -> Costs {
    costs(128 * n, 1, 128 * n, 1)
}

/// ShareConvert (Algorithm 4) of `n` values: 4ℓ + 2ℓ log p bytes each in the paper.
pub const fn share_convert(n: u64) -> Costs {
    costs(304 * n, 4, 224 * n, 4)
}

/// ComputeMSB (Algorithm 5) of `n` values.
pub const fn compute_msb(n: u64) -> Costs {
    costs(360 * n, 5, 272 * n, 5)
}

/// DReLU (Algorithm 7) of `n` values: ShareConvert, then ComputeMSB.
pub const fn drelu(n: u64) -> Costs {
    costs(664 * n, 8, 496 * n, 8)
}

/// ReLU (Algorithm 8) of `n` values: DReLU and a product, the product in DReLU's last
/// round's shadow.
pub const fn relu(n: u64) -> Costs {
    costs(704 * n, 10, 536 * n, 9)
}

/// Division (Algorithm 6) of `n` pairs: the paper's 13 quotient bits, each a ReLU's cost;
/// this crate computes 14 (the integer bit too).
pub const fn division(n: u64) -> Costs {
    costs(704 * 13 * n, 10 * 13, 536 * 14 * n, 9 * 14)
}

/// Maxpool (Algorithm 9) of `windows` windows of `kernel×kernel`: k² − 1 comparisons per
/// window (a DReLU and two selections each), in the paper one after another, here in a
/// tournament of ⌈log₂ k²⌉ levels.
pub const fn maxpool(windows: u64, kernel: u64) -> Costs {
    let n = kernel * kernel;
    let comparisons = windows * (n - 1);
    let levels = u64::BITS as u64 - (n - 1).leading_zeros() as u64;
    costs(
        744 * comparisons,
        9 * (n - 1),
        576 * comparisons,
        9 * levels,
    )
}

/// The argmax of `rows` rows of `n` ≥ 2 values, all pairs compared at once
/// ([`argmax`](super::argmax())): n(n − 1)/2 DReLUs and n(n − 2) elementwise products per
/// row, 8 + ⌈log₂(n − 1)⌉ rounds. The paper finds it with Maxpool (Algorithm 9): n − 1
/// comparisons one after another. Fewer rounds for more bytes: for 10 classes, 12 rounds
/// against 81 and 25,520 bytes a row against 6,696.
pub const fn argmax(rows: u64, n: u64) -> Costs {
    if n < 2 {
        // One value a row: index 0, no message.
        return costs(0, 0, 0, 0);
    }
    let comparisons = rows * n * (n - 1) / 2;
    let products = rows * n * (n - 2);
    let levels = u64::BITS as u64 - (n - 2).leading_zeros() as u64;
    costs(
        744 * rows * (n - 1),
        9 * (n - 1),
        496 * comparisons + 40 * products,
        8 + levels,
    )
}

/// Maxpool then ReLU of `windows` windows of `kernel×kernel` ≥ 2 values, fused
/// ([`maxpool_relu`](super::maxpool_relu())): the tournament's levels on values only (a
/// DReLU and one product per comparison), then the last level's three DReLUs and three
/// products; 9 rounds a level, the last 10. The paper: Maxpool, then ReLU.
pub const fn maxpool_relu(windows: u64, kernel: u64) -> Costs {
    let n = kernel * kernel;
    if n < 2 {
        // A window of one value: ReLU alone.
        return relu(windows);
    }
    let levels = u64::BITS as u64 - (n - 1).leading_zeros() as u64;
    let paper = maxpool(windows, kernel).paper;
    let relu = relu(windows).paper;
    costs(
        paper.bytes + relu.bytes,
        paper.rounds + relu.rounds,
        windows * ((n - 2) * 536 + 3 * 496 + 3 * 40),
        9 * (levels - 1) + 10,
    )
}

/// DMaxpool (Algorithm 10) of `windows` indices into windows of `n` values.
pub const fn dmaxpool(windows: u64, n: u64) -> Costs {
    costs(16 * (n + 1) * windows, 2, (8 * n + 2) * windows, 2)
}

/// Truncation: local, no message.
pub const fn truncate() -> Costs {
    costs(0, 0, 0, 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ours_is_never_above_the_papers() {
        for c in [
            matmul(784, 128, 10),
            conv2d(28, 5, 1, 20),
            select_share(7),
            private_compare(7),
            share_convert(7),
            compute_msb(7),
            drelu(7),
            relu(7),
            division(7),
            maxpool(7, 2),
            maxpool(7, 3),
            dmaxpool(7, 16),
            truncate(),
        ] {
            assert!(c.ours.bytes <= c.paper.bytes, "{c:?}");
        }
        // A tournament over 9 values has 4 levels; over 4, 2.
        assert_eq!(maxpool(1, 3).ours.rounds, 36);
        assert_eq!(maxpool(1, 2).ours.rounds, 18);
        // The all-pairs argmax trades bytes for rounds: 10 classes, 9 factors, 4 levels.
        let classes = argmax(1, 10);
        assert_eq!(classes.ours.rounds, 12);
        assert!(classes.ours.rounds < classes.paper.rounds);
        assert!(classes.ours.bytes > classes.paper.bytes);
        assert_eq!(argmax(1, 2).ours.rounds, 8);
    }
}
