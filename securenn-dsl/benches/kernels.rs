//! Local kernels: the AES-CTR PRG and the cache-blocked matrix product against the naive
//! loop. Run with `cargo bench -p securenn-dsl --bench kernels`.

use divan::Bencher;
use divan::counter::{BytesCount, ItemsCount};
use securenn_dsl::net::CallId;
use securenn_dsl::prg::{Key, Prg, StreamId};
use securenn_dsl::ring::{Ring, Z64, Zp};
use securenn_dsl::tensor::{matmul_into, matmul_naive, matmul_portable};

fn main() {
    divan::main();
}

fn prg() -> Prg {
    Prg::derive(
        &Key::from_bytes([42; 16]),
        StreamId {
            call: CallId::ROOT.child(1),
            label: 0,
        },
    )
}

/// Raw keystream into a 1 MiB buffer.
#[divan::bench]
fn prg_fill_bytes(bencher: Bencher<'_, '_>) {
    let mut prg = prg();
    let mut buffer = vec![0u8; 1 << 20];
    bencher
        .counter(BytesCount::new(buffer.len()))
        .bench_local(|| prg.fill(divan::black_box(&mut buffer)));
}

/// Uniform Z_2^64 elements (what masks are made of), 2^17 at a time.
#[divan::bench]
fn prg_random_z64(bencher: Bencher<'_, '_>) {
    let mut prg = prg();
    let mut out = vec![Z64::ZERO; 1 << 17];
    bencher
        .counter(BytesCount::new(out.len() * 8))
        .bench_local(|| Z64::fill_random(&mut prg, divan::black_box(&mut out)));
}

const M: usize = 784;
const N: usize = 128;
const V: usize = 128;

fn operands() -> (Vec<Z64>, Vec<Z64>) {
    let mut prg = prg();
    let mut a = vec![Z64::ZERO; M * N];
    let mut b = vec![Z64::ZERO; N * V];
    Z64::fill_random(&mut prg, &mut a);
    Z64::fill_random(&mut prg, &mut b);
    (a, b)
}

/// 784×128 times 128×128 over Z_2^64, cache-blocked: the AVX-512 kernel where the CPU has it.
#[divan::bench]
fn matmul_784x128x128_blocked(bencher: Bencher<'_, '_>) {
    let (a, b) = operands();
    let mut out = vec![Z64::ZERO; M * V];
    bencher.counter(ItemsCount::new(M * N * V)).bench_local(|| {
        matmul_into(
            divan::black_box(&a),
            divan::black_box(&b),
            M,
            N,
            V,
            &mut out,
        )
    });
}

/// The same product with the portable kernel (what `matmul_into` runs without AVX-512).
#[divan::bench]
fn matmul_784x128x128_portable(bencher: Bencher<'_, '_>) {
    let (a, b) = operands();
    let mut out = vec![Z64::ZERO; M * V];
    bencher.counter(ItemsCount::new(M * N * V)).bench_local(|| {
        matmul_portable(
            divan::black_box(&a),
            divan::black_box(&b),
            M,
            N,
            V,
            &mut out,
        )
    });
}

/// The same product with the textbook triple loop.
#[divan::bench]
fn matmul_784x128x128_naive(bencher: Bencher<'_, '_>) {
    let (a, b) = operands();
    let mut out = vec![Z64::ZERO; M * V];
    bencher.counter(ItemsCount::new(M * N * V)).bench_local(|| {
        matmul_naive(
            divan::black_box(&a),
            divan::black_box(&b),
            M,
            N,
            V,
            &mut out,
        )
    });
}

/// The shape of Table 8's "MatMul 784,128,10": (784×128)·(128×10).
#[divan::bench]
fn matmul_784x128x10_blocked(bencher: Bencher<'_, '_>) {
    let mut prg = prg();
    let mut a = vec![Z64::ZERO; 784 * 128];
    let mut b = vec![Z64::ZERO; 128 * 10];
    Z64::fill_random(&mut prg, &mut a);
    Z64::fill_random(&mut prg, &mut b);
    let mut out = vec![Z64::ZERO; 784 * 10];
    bencher
        .counter(ItemsCount::new(784usize * 128 * 10))
        .bench_local(|| {
            matmul_into(
                divan::black_box(&a),
                divan::black_box(&b),
                784,
                128,
                10,
                &mut out,
            )
        });
}

/// The product inside Table 8's "Conv 28,5,1,20": its im2col matrix (576×25) times the
/// filters (25×20).
#[divan::bench]
fn matmul_576x25x20_blocked(bencher: Bencher<'_, '_>) {
    let mut prg = prg();
    let mut a = vec![Z64::ZERO; 576 * 25];
    let mut b = vec![Z64::ZERO; 25 * 20];
    Z64::fill_random(&mut prg, &mut a);
    Z64::fill_random(&mut prg, &mut b);
    let mut out = vec![Z64::ZERO; 576 * 20];
    bencher
        .counter(ItemsCount::new(576usize * 25 * 20))
        .bench_local(|| {
            matmul_into(
                divan::black_box(&a),
                divan::black_box(&b),
                576,
                25,
                20,
                &mut out,
            )
        });
}

/// Uniform Z_67 elements (PrivateCompare's multipliers and masks), 2^17 at a time.
#[divan::bench]
fn prg_random_zp(bencher: Bencher<'_, '_>) {
    let mut prg = prg();
    let mut out = vec![Zp::ZERO; 1 << 17];
    bencher
        .counter(ItemsCount::new(out.len()))
        .bench_local(|| Zp::fill_random(&mut prg, divan::black_box(&mut out)));
}

/// Uniform non-zero Z_67 elements, 2^17 at a time.
#[divan::bench]
fn prg_random_zp_nonzero(bencher: Bencher<'_, '_>) {
    let mut prg = prg();
    let mut out = vec![Zp::ZERO; 1 << 17];
    bencher
        .counter(ItemsCount::new(out.len()))
        .bench_local(|| Zp::fill_random_nonzero(&mut prg, divan::black_box(&mut out)));
}
