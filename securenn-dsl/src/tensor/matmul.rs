//! The cache-blocked matrix product over a ring (wrapping `u64` arithmetic for
//! [`Z64`](crate::ring::Z64)).
//!
//! Three ideas make it several times faster than the textbook loop ([`matmul_naive`];
//! `cargo bench -p securenn-dsl --bench kernels` measures both):
//!
//! - **Blocking.** The depth is cut into blocks of [`KC`] so that a packed block of B stays
//!   in cache; B's block is packed into panels of [`NR`] columns, contiguous in k; a
//!   micro-kernel keeps an [`MR`]×[`NR`] tile of C in registers while it streams MR rows of
//!   A and one panel of B, so each element of C is loaded and stored once per block rather
//!   than once per multiply-add.
//! - **Winograd's inner product** (S. Winograd, "A new algorithm for inner product", IEEE
//!   Trans. Computers, 1968). In a commutative ring, for even n,
//!   `Σ_k a_k b_k = Σ_p (a_2p + b_2p+1)(a_2p+1 + b_2p) − Σ_p a_2p a_2p+1 − Σ_p b_2p b_2p+1`.
//!   The last two sums depend on the row of A alone and on the column of B alone, so they
//!   are computed once (m·n/2 + n·v/2 products) and the m·v inner products need n/2
//!   products each instead of n. Without 64-bit SIMD multiplies the multiplier is the
//!   bottleneck, and additions are cheap, so this nearly halves the time. Every ring here is
//!   commutative, and wrapping arithmetic is exact modulo the ring's modulus, so the result
//!   is identical to the textbook product.
//! - An odd depth leaves one column of A and one row of B, added as a rank-1 update.
//! - **Wide tiles where the CPU has 64-bit vector multiplies.** Over Z_2^64 on a CPU with
//!   AVX-512F and DQ (detected at run time), the same code runs compiled for those
//!   features with 8×8 tiles, each row of a tile eight `u64` lanes of one register, so
//!   that one `vpmullq` does eight of the pair products: about 2.9 times the portable
//!   kernel on 784×128×128 ([`matmul_portable`] is the portable kernel on every CPU).

use crate::ring::Ring;

/// Rows of A (and C) per micro-kernel tile of the portable kernel.
const MR: usize = 4;
/// Columns of B (and C) per micro-kernel tile of the portable kernel.
const NR: usize = 4;
/// Depth of one cache block (even, so that blocks hold whole pairs): a packed KC×NR panel of
/// `u64` is 8 KiB (16 KiB for the wide kernel's panels).
const KC: usize = 256;

/// `out = a · b` for row-major `a` (m×n), `b` (n×v) and `out` (m×v), wrapping in the ring.
///
/// Over Z_2^64, on a CPU with AVX-512 (checked at run time), the same blocked algorithm runs
/// with wide tiles compiled for 512-bit vectors, where a 64-bit multiply is one instruction
/// for eight lanes; elsewhere the portable kernel runs ([`matmul_portable`]). Both compute
/// the same exact product.
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
    assert!(a.len() >= m * n, "matmul_into: `a` is shorter than m×n");
    assert!(b.len() >= n * v, "matmul_into: `b` is shorter than n×v");
    assert!(out.len() >= m * v, "matmul_into: `out` is shorter than m×v");
    #[cfg(target_arch = "x86_64")]
    if wide::applies::<R>() {
        wide::matmul_into(a, b, m, n, v, out);
        return;
    }
    blocked::<R, MR, NR>(a, b, m, n, v, out, |tile, rows, cols| {
        tile.exact(rows, cols)
    });
}

/// The blocked product with the portable kernel on every CPU: what [`matmul_into`] computes
/// where the wide kernel does not apply, and what the wide kernel is tested against.
///
/// # Panics
///
/// If a slice is shorter than its dimensions say.
pub fn matmul_portable<R: Ring>(a: &[R], b: &[R], m: usize, n: usize, v: usize, out: &mut [R]) {
    assert!(a.len() >= m * n, "matmul_portable: `a` is shorter than m×n");
    assert!(b.len() >= n * v, "matmul_portable: `b` is shorter than n×v");
    assert!(
        out.len() >= m * v,
        "matmul_portable: `out` is shorter than m×v"
    );
    blocked::<R, MR, NR>(a, b, m, n, v, out, |tile, rows, cols| {
        tile.exact(rows, cols)
    });
}

/// The kernel compiled for AVX-512: [`blocked`] with 8×8 tiles, whose rows of eight `u64`
/// lanes the compiler keeps in 512-bit registers and multiplies with `vpmullq`.
#[cfg(target_arch = "x86_64")]
mod wide {
    use super::{Tile, blocked};
    use crate::ring::{Ring, Z64};
    use core::any::TypeId;

    /// Rows per tile.
    const ROWS: usize = 8;
    /// Columns per tile: one 512-bit register of `u64`.
    const COLS: usize = 8;

    /// Whether the wide kernel serves `R` on this CPU: Z_2^64's arithmetic is `u64`'s
    /// (the other rings reduce after every operation and gain nothing), and the CPU has
    /// AVX-512F and DQ (the 64-bit multiply). The detection is cached by the standard
    /// library.
    pub(super) fn applies<R: Ring>() -> bool {
        TypeId::of::<R>() == TypeId::of::<Z64>()
            && std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512dq")
    }

    /// The product with the wide kernel; the caller has checked [`applies`].
    pub(super) fn matmul_into<R: Ring>(
        a: &[R],
        b: &[R],
        m: usize,
        n: usize,
        v: usize,
        out: &mut [R],
    ) {
        debug_assert!(applies::<R>());
        // SAFETY: `applies` checked that this CPU has the features the function is compiled
        // for; the function itself is safe Rust (bounds-checked slices).
        #[allow(unsafe_code, reason = "calling a function compiled for AVX-512")]
        unsafe {
            avx512(a, b, m, n, v, out)
        }
    }

    #[target_feature(enable = "avx512f,avx512dq")]
    fn avx512<R: Ring>(a: &[R], b: &[R], m: usize, n: usize, v: usize, out: &mut [R]) {
        blocked::<R, ROWS, COLS>(a, b, m, n, v, out, |tile: &Tile<'_, R>, rows, _cols| {
            // Whole-width tiles: the panel's padding columns are zero and their results
            // are not stored, so an edge panel costs one register, not a narrower loop.
            match rows {
                8 => tile.compute::<ROWS, COLS, 8, COLS>(),
                7 => tile.compute::<ROWS, COLS, 7, COLS>(),
                6 => tile.compute::<ROWS, COLS, 6, COLS>(),
                5 => tile.compute::<ROWS, COLS, 5, COLS>(),
                4 => tile.compute::<ROWS, COLS, 4, COLS>(),
                3 => tile.compute::<ROWS, COLS, 3, COLS>(),
                2 => tile.compute::<ROWS, COLS, 2, COLS>(),
                _ => tile.compute::<ROWS, COLS, 1, COLS>(),
            }
        });
    }
}

/// The cache-blocked product with MR×NR tiles: `kernel(tile, rows, cols)` returns the tile's
/// Winograd pair products for its first `rows` rows and `cols` columns (the rest unused).
/// Always inlined, so that each caller compiles it for its own target features.
#[inline(always)]
fn blocked<R: Ring, const MR: usize, const NR: usize>(
    a: &[R],
    b: &[R],
    m: usize,
    n: usize,
    v: usize,
    out: &mut [R],
    kernel: impl Fn(&Tile<'_, R>, usize, usize) -> [[R; NR]; MR],
) {
    let out = &mut out[..m * v];
    out.fill(R::ZERO);
    if m == 0 || v == 0 || n == 0 {
        return;
    }
    let even_depth = n - n % 2;
    let panels = v.div_ceil(NR);
    let mut packed = vec![R::ZERO; KC.min(even_depth) * NR * panels];
    for k0 in (0..even_depth).step_by(KC) {
        let depth = KC.min(even_depth - k0);
        let packed = &mut packed[..depth * NR * panels];
        pack_b::<R, NR>(b, v, k0, depth, packed);
        for i0 in (0..m).step_by(MR) {
            let rows = MR.min(m - i0);
            for (panel_index, panel) in packed.chunks_exact(depth * NR).enumerate() {
                let j0 = panel_index * NR;
                let tile = Tile {
                    a,
                    n,
                    i0,
                    k0,
                    depth,
                    panel,
                };
                let cols = NR.min(v - j0);
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
    // Winograd's correction terms, and the last column of A times the last row of B when the
    // depth is odd.
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

/// Packs rows `k0..k0+depth` of `b` (n×v) into panels of NR columns, each panel stored
/// k-major (`panel[k * NR + j]`), the last panel zero-padded.
#[inline(always)]
fn pack_b<R: Ring, const NR: usize>(b: &[R], v: usize, k0: usize, depth: usize, packed: &mut [R]) {
    for (panel_index, panel) in packed.chunks_exact_mut(depth * NR).enumerate() {
        let j0 = panel_index * NR;
        let cols = NR.min(v - j0);
        for (k, dst) in panel.chunks_exact_mut(NR).enumerate() {
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
    /// The portable kernel's tile for `rows` ≤ MR rows and `cols` ≤ NR columns, each size
    /// its own loop, so that edge tiles (e.g. the last two of ten columns) do no wasted work.
    fn exact(&self, rows: usize, cols: usize) -> [[R; NR]; MR] {
        macro_rules! by_cols {
            ($rows:literal) => {
                match cols {
                    4 => self.compute::<MR, NR, $rows, 4>(),
                    3 => self.compute::<MR, NR, $rows, 3>(),
                    2 => self.compute::<MR, NR, $rows, 2>(),
                    _ => self.compute::<MR, NR, $rows, 1>(),
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

    /// The ROWS×COLS corner of an MR×NR tile of Winograd's pair products
    /// `Σ_p (a_2p + b_2p+1)(a_2p+1 + b_2p)`, accumulated in a register-resident array; the
    /// rest of the array is zero. The panel holds NR columns.
    #[inline(always)]
    fn compute<const MR_: usize, const NR_: usize, const ROWS: usize, const COLS: usize>(
        &self,
    ) -> [[R; NR_]; MR_] {
        let mut acc = [[R::ZERO; NR_]; MR_];
        let rows: [&[R]; ROWS] =
            core::array::from_fn(|ii| &self.a[(self.i0 + ii) * self.n + self.k0..][..self.depth]);
        for (pair, b_rows) in self.panel.chunks_exact(2 * NR_).enumerate() {
            let (b_even, b_odd) = b_rows.split_at(NR_);
            for ii in 0..ROWS {
                let a_even = rows[ii][2 * pair];
                let a_odd = rows[ii][2 * pair + 1];
                for jj in 0..COLS {
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
        let mut slow = vec![R::ZERO; m * v];
        matmul_into(&a, &b, m, n, v, &mut fast);
        matmul_portable(&a, &b, m, n, v, &mut portable);
        matmul_naive(&a, &b, m, n, v, &mut slow);
        assert_eq!(fast, slow, "{m}x{n}x{v}");
        assert_eq!(portable, slow, "portable {m}x{n}x{v}");
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

    proptest! {
        #[test]
        fn blocked_equals_naive(m in 1usize..20, n in 1usize..300, v in 1usize..20, seed: u64) {
            check::<Z64>(m, n, v, seed);
        }
    }
}
