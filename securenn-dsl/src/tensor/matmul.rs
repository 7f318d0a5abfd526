//! The cache-blocked matrix product over a ring (wrapping `u64` arithmetic for
//! [`Z64`](crate::ring::Z64)).
//!
//! Four ideas make it several times faster than the textbook loop ([`matmul_naive`];
//! `cargo bench -p securenn-dsl --bench kernels` measures them):
//!
//! - **Blocking.** The depth is cut into blocks of [`KC`] so that a packed block of B stays
//!   in cache; B's block is packed into panels of as many columns as a tile has, contiguous
//!   in k; a micro-kernel keeps a tile of C in registers while it streams the tile's rows
//!   of A and one panel of B, so each element of C is loaded and stored once per block
//!   rather than once per multiply-add.
//! - **Winograd's inner product** (S. Winograd, "A new algorithm for inner product", IEEE
//!   Trans. Computers, 1968). In a commutative ring, for even n,
//!   `Σ_k a_k b_k = Σ_p (a_2p + b_2p+1)(a_2p+1 + b_2p) − Σ_p a_2p a_2p+1 − Σ_p b_2p b_2p+1`.
//!   The last two sums depend on the row of A alone and on the column of B alone, so they
//!   are computed once (m·n/2 + n·v/2 products) and the m·v inner products need n/2
//!   products each instead of n. The multiplier is the bottleneck and additions are cheap,
//!   so this nearly halves the time. Every ring here is commutative, and wrapping
//!   arithmetic is exact modulo the ring's modulus, so the result is identical to the
//!   textbook product. An odd depth leaves one column of A and one row of B, added as a
//!   rank-1 update.
//! - **A portable tile** of [`PORTABLE_ROWS`]×[`PORTABLE_COLS`], each edge tile (say the
//!   last two of ten columns) its own loop, so that it does no wasted work
//!   ([`matmul_portable`]).
//! - **A wide tile where the CPU has 64-bit vector multiplies.** Over Z_2^64 on a CPU with
//!   AVX-512F and AVX-512DQ (detected at run time), the same code runs compiled for those
//!   features with [`WIDE_ROWS`]×[`WIDE_COLS`] tiles, each row of a tile eight `u64` lanes
//!   of one register, so that one `vpmullq` does eight pair products: about 2.9 times the
//!   portable kernel on 784×128×128.

use crate::ring::Ring;

/// Rows of A (and C) per tile of the portable kernel.
const PORTABLE_ROWS: usize = 4;
/// Columns of B (and C) per tile of the portable kernel.
const PORTABLE_COLS: usize = 4;
/// Rows per tile of the wide kernel.
const WIDE_ROWS: usize = 8;
/// Columns per tile of the wide kernel: one 512-bit register of `u64`.
const WIDE_COLS: usize = 8;
/// Depth of one cache block (even, so that blocks hold whole pairs): a packed panel is
/// 8 KiB of `u64` (16 KiB for the wide kernel's).
const KC: usize = 256;

/// `out = a · b` for row-major `a` (m×n), `b` (n×v) and `out` (m×v), wrapping in the ring.
///
/// Over Z_2^64, on a CPU with AVX-512F and AVX-512DQ (checked at run time), the blocked
/// algorithm runs with wide tiles compiled for 512-bit vectors, where a 64-bit multiply is
/// one instruction for eight lanes; elsewhere the portable kernel runs
/// ([`matmul_portable`]). Both compute the same exact product.
///
/// # Panics
///
/// If a slice is shorter than its dimensions say. [`Tensor::matmul`](super::Tensor::matmul)
/// checks shapes and never panics.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::tensor::matmul_into;
///
/// let a = [Z64::new(1), Z64::new(2)]; // 1×2
/// let b = [Z64::new(3), Z64::new(u64::MAX)]; // 2×1: 3 and -1
/// let mut c = [Z64::new(0)];
/// matmul_into(&a, &b, 1, 2, 1, &mut c);
/// assert_eq!(c[0], Z64::new(1)); // 3 - 2
/// ```
pub fn matmul_into<R: Ring>(a: &[R], b: &[R], m: usize, n: usize, v: usize, out: &mut [R]) {
    check_lengths("matmul_into", a, b, m, n, v, out);
    #[cfg(target_arch = "x86_64")]
    if wide::applies::<R>() {
        wide::product(a, b, m, n, v, out);
        return;
    }
    blocked::<R, PORTABLE_ROWS, PORTABLE_COLS>(a, b, m, n, v, out, portable_tile);
}

/// The blocked product with the portable kernel, on every CPU: what [`matmul_into`]
/// computes where the wide kernel does not apply.
///
/// # Panics
///
/// If a slice is shorter than its dimensions say.
///
/// # Examples
///
/// ```
/// use securenn_dsl::ring::Z64;
/// use securenn_dsl::tensor::{matmul_into, matmul_portable};
///
/// let a: Vec<Z64> = (0..6).map(Z64::new).collect(); // 2×3
/// let b: Vec<Z64> = (0..12).map(Z64::new).collect(); // 3×4
/// let (mut fast, mut portable) = ([Z64::new(0); 8], [Z64::new(0); 8]);
/// matmul_into(&a, &b, 2, 3, 4, &mut fast);
/// matmul_portable(&a, &b, 2, 3, 4, &mut portable);
/// assert_eq!(fast, portable);
/// ```
pub fn matmul_portable<R: Ring>(a: &[R], b: &[R], m: usize, n: usize, v: usize, out: &mut [R]) {
    check_lengths("matmul_portable", a, b, m, n, v, out);
    blocked::<R, PORTABLE_ROWS, PORTABLE_COLS>(a, b, m, n, v, out, portable_tile);
}

fn check_lengths<R>(name: &str, a: &[R], b: &[R], m: usize, n: usize, v: usize, out: &[R]) {
    assert!(a.len() >= m * n, "{name}: `a` is shorter than m×n");
    assert!(b.len() >= n * v, "{name}: `b` is shorter than n×v");
    assert!(out.len() >= m * v, "{name}: `out` is shorter than m×v");
}

/// The kernel compiled for AVX-512: [`blocked`] with [`wide_tile`].
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{WIDE_COLS, WIDE_ROWS, blocked, wide_tile};
    use crate::ring::{Ring, Z64};
    use core::any::TypeId;

    /// Whether the wide kernel serves `R` on this CPU: Z_2^64's arithmetic is `u64`'s
    /// (the other rings reduce after every operation and gain nothing), and the CPU has
    /// AVX-512F and AVX-512DQ (the 64-bit multiply). The standard library caches the
    /// detection.
    pub(super) fn applies<R: Ring>() -> bool {
        TypeId::of::<R>() == TypeId::of::<Z64>()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
    }

    /// The product with the wide kernel; the caller has checked [`applies`].
    pub(super) fn product<R: Ring>(a: &[R], b: &[R], m: usize, n: usize, v: usize, out: &mut [R]) {
        assert!(applies::<R>(), "the wide kernel runs only where it applies");
        // SAFETY: `applies` checked that this CPU has the features the function is compiled
        // for; the function itself is safe Rust (bounds-checked slices).
        #[allow(unsafe_code, reason = "calling a function compiled for AVX-512")]
        unsafe {
            avx512(a, b, m, n, v, out)
        }
    }

    /// [`blocked`] and everything it inlines, compiled with AVX-512 (closures and inlined
    /// callees take the function's target features).
    #[target_feature(enable = "avx512f,avx512dq")]
    fn avx512<R: Ring>(a: &[R], b: &[R], m: usize, n: usize, v: usize, out: &mut [R]) {
        blocked::<R, WIDE_ROWS, WIDE_COLS>(a, b, m, n, v, out, wide_tile);
    }
}

/// The portable kernel's tile for `rows` ≤ 4 rows and `cols` ≤ 4 columns, each size its
/// own loop.
fn portable_tile<R: Ring>(
    tile: &Tile<'_, R>,
    rows: usize,
    cols: usize,
) -> [[R; PORTABLE_COLS]; PORTABLE_ROWS] {
    macro_rules! by_cols {
        ($rows:literal) => {
            match cols {
                4 => tile.compute::<PORTABLE_ROWS, PORTABLE_COLS, $rows, 4>(),
                3 => tile.compute::<PORTABLE_ROWS, PORTABLE_COLS, $rows, 3>(),
                2 => tile.compute::<PORTABLE_ROWS, PORTABLE_COLS, $rows, 2>(),
                _ => tile.compute::<PORTABLE_ROWS, PORTABLE_COLS, $rows, 1>(),
            }
        };
    }
    match rows {
        4 => by_cols!(4),
        3 => by_cols!(3),
        2 => by_cols!(2),
        _ => by_cols!(1),
    }
}

/// The wide kernel's tile for `rows` ≤ 8 rows, always eight columns wide: the panel's
/// padding columns are zero and their results are not stored, so an edge panel costs one
/// register, not a narrower loop.
#[inline(always)]
fn wide_tile<R: Ring>(
    tile: &Tile<'_, R>,
    rows: usize,
    _cols: usize,
) -> [[R; WIDE_COLS]; WIDE_ROWS] {
    match rows {
        8 => tile.compute::<WIDE_ROWS, WIDE_COLS, 8, WIDE_COLS>(),
        7 => tile.compute::<WIDE_ROWS, WIDE_COLS, 7, WIDE_COLS>(),
        6 => tile.compute::<WIDE_ROWS, WIDE_COLS, 6, WIDE_COLS>(),
        5 => tile.compute::<WIDE_ROWS, WIDE_COLS, 5, WIDE_COLS>(),
        4 => tile.compute::<WIDE_ROWS, WIDE_COLS, 4, WIDE_COLS>(),
        3 => tile.compute::<WIDE_ROWS, WIDE_COLS, 3, WIDE_COLS>(),
        2 => tile.compute::<WIDE_ROWS, WIDE_COLS, 2, WIDE_COLS>(),
        _ => tile.compute::<WIDE_ROWS, WIDE_COLS, 1, WIDE_COLS>(),
    }
}

/// The cache-blocked product with TILE_ROWS×TILE_COLS tiles: `kernel(tile, rows, cols)`
/// returns the tile's Winograd pair products, of which the first `rows` rows and `cols`
/// columns are stored. Always inlined, so that each caller compiles it for its own target
/// features.
#[inline(always)]
fn blocked<R: Ring, const TILE_ROWS: usize, const TILE_COLS: usize>(
    a: &[R],
    b: &[R],
    m: usize,
    n: usize,
    v: usize,
    out: &mut [R],
    kernel: impl Fn(&Tile<'_, R>, usize, usize) -> [[R; TILE_COLS]; TILE_ROWS],
) {
    let out = &mut out[..m * v];
    out.fill(R::ZERO);
    if m == 0 || v == 0 || n == 0 {
        return;
    }
    let even_depth = n - n % 2;
    let panels = v.div_ceil(TILE_COLS);
    let mut packed = vec![R::ZERO; KC.min(even_depth) * TILE_COLS * panels];
    for k0 in (0..even_depth).step_by(KC) {
        let depth = KC.min(even_depth - k0);
        let packed = &mut packed[..depth * TILE_COLS * panels];
        pack_b::<R, TILE_COLS>(b, v, k0, depth, packed);
        for i0 in (0..m).step_by(TILE_ROWS) {
            let rows = TILE_ROWS.min(m - i0);
            for (panel_index, panel) in packed.chunks_exact(depth * TILE_COLS).enumerate() {
                let j0 = panel_index * TILE_COLS;
                let tile = Tile {
                    a,
                    n,
                    i0,
                    k0,
                    depth,
                    panel,
                };
                let cols = TILE_COLS.min(v - j0);
                let acc = kernel(&tile, rows, cols);
                for (ii, acc_row) in acc.iter().enumerate().take(rows) {
                    let out_row = &mut out[(i0 + ii) * v + j0..][..cols];
                    for (c, &x) in out_row.iter_mut().zip(acc_row) {
                        *c += x;
                    }
                }
            }
        }
    }
    // Winograd's correction terms (the column terms a row of B at a time, so that they
    // vectorize), and the last column of A times the last row of B when the depth is odd.
    let mut column_terms = vec![R::ZERO; v];
    for pair in b[..even_depth * v].chunks_exact(2 * v) {
        let (even, odd) = pair.split_at(v);
        for ((term, &x), &y) in column_terms.iter_mut().zip(even).zip(odd) {
            *term += x * y;
        }
    }
    for (i, out_row) in out.chunks_exact_mut(v).enumerate() {
        let a_row = &a[i * n..(i + 1) * n];
        let row_term: R = a_row[..even_depth]
            .chunks_exact(2)
            .map(|pair| pair[0] * pair[1])
            .sum();
        for (c, &column_term) in out_row.iter_mut().zip(&column_terms) {
            *c -= row_term + column_term;
        }
        if n % 2 == 1 {
            let a_last = a_row[n - 1];
            for (c, &b_last) in out_row.iter_mut().zip(&b[(n - 1) * v..n * v]) {
                *c += a_last * b_last;
            }
        }
    }
}

/// Packs rows `k0..k0+depth` of `b` (n×v) into panels of TILE_COLS columns, each panel
/// stored k-major (`panel[k * TILE_COLS + j]`), the last panel zero-padded.
#[inline(always)]
fn pack_b<R: Ring, const TILE_COLS: usize>(
    b: &[R],
    v: usize,
    k0: usize,
    depth: usize,
    packed: &mut [R],
) {
    for (panel_index, panel) in packed.chunks_exact_mut(depth * TILE_COLS).enumerate() {
        let j0 = panel_index * TILE_COLS;
        let cols = TILE_COLS.min(v - j0);
        for (k, dst) in panel.chunks_exact_mut(TILE_COLS).enumerate() {
            let src = &b[(k0 + k) * v + j0..][..cols];
            dst[..cols].copy_from_slice(src);
            dst[cols..].fill(R::ZERO);
        }
    }
}

/// One micro-kernel invocation: rows `i0..` of A over the (even) depth `k0..k0+depth`, times
/// a packed panel.
struct Tile<'a, R> {
    a: &'a [R],
    n: usize,
    i0: usize,
    k0: usize,
    depth: usize,
    panel: &'a [R],
}

impl<R: Ring> Tile<'_, R> {
    /// Winograd's pair products `Σ_p (a_2p + b_2p+1)(a_2p+1 + b_2p)` for the first
    /// USED_ROWS rows and USED_COLS columns of a TILE_ROWS×TILE_COLS tile, accumulated in a
    /// register-resident array (the panel holds TILE_COLS columns). The rest of the array
    /// is zero; a used column over the panel's zero padding holds values no one stores.
    #[inline(always)]
    fn compute<
        const TILE_ROWS: usize,
        const TILE_COLS: usize,
        const USED_ROWS: usize,
        const USED_COLS: usize,
    >(
        &self,
    ) -> [[R; TILE_COLS]; TILE_ROWS] {
        let mut acc = [[R::ZERO; TILE_COLS]; TILE_ROWS];
        let rows: [&[R]; USED_ROWS] =
            core::array::from_fn(|ii| &self.a[(self.i0 + ii) * self.n + self.k0..][..self.depth]);
        for (pair, b_rows) in self.panel.chunks_exact(2 * TILE_COLS).enumerate() {
            let (b_even, b_odd) = b_rows.split_at(TILE_COLS);
            for ii in 0..USED_ROWS {
                let a_even = rows[ii][2 * pair];
                let a_odd = rows[ii][2 * pair + 1];
                for jj in 0..USED_COLS {
                    acc[ii][jj] += (a_even + b_odd[jj]) * (a_odd + b_even[jj]);
                }
            }
        }
        acc
    }
}

/// The textbook triple loop `out[i][j] = Σ_k a[i][k] · b[k][j]`: the reference the blocked
/// kernel is tested and benchmarked against.
///
/// # Panics
///
/// If a slice is shorter than its dimensions say.
pub fn matmul_naive<R: Ring>(a: &[R], b: &[R], m: usize, n: usize, v: usize, out: &mut [R]) {
    for i in 0..m {
        for j in 0..v {
            let mut sum = R::ZERO;
            for k in 0..n {
                sum += a[i * n + k] * b[k * v + j];
            }
            out[i * v + j] = sum;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ring::{Z64, ZOdd, Zp};
    use proptest::prelude::*;

    fn check<R: Ring>(m: usize, n: usize, v: usize, seed: u64) {
        let gen_elem =
            |i: usize| R::from_u64((i as u64 + seed).wrapping_mul(0x9E37_79B9_7F4A_7C15));
        let a: Vec<R> = (0..m * n).map(gen_elem).collect();
        let b: Vec<R> = (0..n * v).map(|i| gen_elem(i + 7_777)).collect();
        let mut fast = vec![R::ZERO; m * v];
        let mut portable = vec![R::ZERO; m * v];
        let mut wide_tiles = vec![R::ZERO; m * v];
        let mut slow = vec![R::ZERO; m * v];
        matmul_into(&a, &b, m, n, v, &mut fast);
        matmul_portable(&a, &b, m, n, v, &mut portable);
        // The wide tiling without AVX-512: the same code the wide kernel compiles.
        blocked::<R, WIDE_ROWS, WIDE_COLS>(&a, &b, m, n, v, &mut wide_tiles, wide_tile);
        matmul_naive(&a, &b, m, n, v, &mut slow);
        assert_eq!(fast, slow, "{m}x{n}x{v}");
        assert_eq!(portable, slow, "portable {m}x{n}x{v}");
        assert_eq!(wide_tiles, slow, "wide tiles {m}x{n}x{v}");
    }

    #[test]
    fn blocked_equals_naive_on_awkward_shapes() {
        for &(m, n, v) in &[
            (1, 1, 1),
            (0, 3, 2),
            (3, 0, 2),
            (5, 7, 3),
            (4, 4, 4),
            (9, 300, 6),
            (17, 513, 13),
            (33, 1, 65),
            (8, 512, 8),
            (15, 258, 17),
            (128, 784, 10),
        ] {
            check::<Z64>(m, n, v, 1);
            check::<ZOdd>(m, n, v, 2);
            check::<Zp>(m, n, v, 3);
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_wide_kernel_serves_z64_exactly_where_the_cpu_has_avx512() {
        let cpu_has_it = std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq");
        assert_eq!(wide::applies::<Z64>(), cpu_has_it);
        assert!(!wide::applies::<Zp>() && !wide::applies::<ZOdd>());
    }

    proptest! {
        #[test]
        fn blocked_equals_naive(m in 1usize..20, n in 1usize..300, v in 1usize..20, seed: u64) {
            check::<Z64>(m, n, v, seed);
        }
    }
}
