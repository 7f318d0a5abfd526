//! Transport throughput: a share vector from P0 to P1 through a session (encode, frame,
//! deliver, decode). Run with `cargo bench -p securenn-dsl --bench transport`.

use divan::Bencher;
use divan::counter::BytesCount;
use futures::executor::block_on;
use securenn_dsl::party::Role;
use securenn_dsl::ring::Z64;
use securenn_dsl::session::{SessionConfig, local_sessions};

/// The allocator the `securenn` binary uses (see its `main.rs`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    divan::main();
}

/// One message of `len` Z_2^64 elements over the in-memory transport.
#[divan::bench(args = [1 << 17, 1 << 20, 10_000_000])]
fn local_send_recv(bencher: Bencher<'_, '_>, len: usize) {
    let config = SessionConfig::default();
    let [p0, p1, _p2] = block_on(local_sessions(&config)).expect("in-memory sessions start");
    let values: Vec<Z64> = (0..len as u64).map(Z64::new).collect();
    bencher.counter(BytesCount::new(len * 8)).bench_local(|| {
        block_on(async {
            let (send, recv) = (p0.call("bench"), p1.call("bench"));
            send.send(Role::P1, 0, &values).await.expect("send");
            let got = recv.recv::<Z64>(Role::P0, 0, len).await.expect("recv");
            assert_eq!(got.len(), len);
            got
        })
    });
}
