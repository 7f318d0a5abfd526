//! Compile-time checks that sessions, shares and protocol futures are `Send` (and `Sync`
//! where shared), so that a `Rc` or `RefCell` slipping into a protocol breaks the build
//! here rather than a user's multi-threaded runtime. Everything here is checked at compile
//! time: the test binary builds only if the laws hold.

use securenn_dsl::net::NetConfig;
use securenn_dsl::net::local::LocalTransport;
use securenn_dsl::prelude::*;
use securenn_dsl::prg::Prg;
use typenum::U13;

fn send<T: Send>(_: &T) {}
const fn send_sync<T: Send + Sync>() {}

const _: () = {
    send_sync::<Session>();
    send_sync::<Shared<Z64>>();
    send_sync::<Shared<Zp>>();
    send_sync::<Tensor<Z64>>();
    send_sync::<Error>();
    send_sync::<LocalTransport>();
    send_sync::<securenn_dsl::net::tcp::TcpTransport>();
};

/// A DSL function with a batch, operators, a branch and a comparison.
#[protocol]
fn dsl_layer(x: &Shared<Z64>, w: &Shared<Z64>, rounds: usize) -> Shared<Z64> {
    let a = relu(truncate(x * w));
    let b = relu(x);
    let mut y = a + b;
    for _ in 0..rounds {
        let bigger = &y >= x;
        y = select(&bigger, &y, x);
    }
    y
}

/// Never called: it only has to compile.
fn protocol_futures_are_send(session: &Session, x: &Shared<Z64>, input: &Private<P0, Tensor<Z64>>) {
    send(&share::<P0, Z64, U13>(session, input, [1]));
    send(&reveal_to::<P1, _>(session, x));
    send(&dsl_layer(session, x, x, 2));
    send(&relu(session, x));
    let call = session.call("check");
    send(&call.send(Role::P1, 0, &[Z64::ONE]));
    send(&call.recv::<Z64>(Role::P1, 0, 1));
    let [p0, _, _] = LocalTransport::triple(&NetConfig {
        max_frame_len: 64,
        ..NetConfig::default()
    });
    send(&Session::start(p0, &SessionConfig::default()));
    let prg: Option<Prg> = None;
    send(&prg);
}

/// Naming the function in a constant makes the compiler check its body.
const _: fn(&Session, &Shared<Z64>, &Private<P0, Tensor<Z64>>) = protocol_futures_are_send;
