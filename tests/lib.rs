//! Shared helpers of securenn's integration tests.

/// The repository README's example, compiled and run as a doctest.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;

use securenn_dsl::party::Role;
use securenn_dsl::ring::Ring;
use securenn_dsl::tensor::Tensor;

/// `n` pseudo-random elements of `R` from a public seed (a splitmix64 sequence), the same
/// at every party: test data, never a mask.
pub fn public_elements<R: Ring>(seed: u64, n: usize) -> Vec<R> {
    let mut state = seed;
    (0..n)
        .map(|_| {
            state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            R::from_u64(z ^ (z >> 31))
        })
        .collect()
}

/// A rank-1 tensor of [`public_elements`].
pub fn public_tensor<R: Ring>(seed: u64, n: usize) -> Tensor<R> {
    match Tensor::from_vec([n], public_elements(seed, n)) {
        Ok(tensor) => tensor,
        Err(error) => unreachable!("a rank-1 shape always fits its data: {error}"),
    }
}

/// The value held at one party of a `run_local` result: `Some` at `role` only.
pub fn only_at<T: Clone>(results: &[Option<T>; 3], role: Role) -> Option<T> {
    for other in Role::ALL {
        if other != role {
            assert!(
                results[other.index()].is_none(),
                "{other} must not hold the value"
            );
        }
    }
    results[role.index()].clone()
}

/// Connects three TCP transports on 127.0.0.1 (ports picked by the OS) and starts a session
/// on each. Must run inside a multi-threaded tokio runtime.
///
/// # Errors
///
/// Whatever connecting or key agreement returns.
pub async fn tcp_sessions(
    config: &securenn_dsl::session::SessionConfig,
) -> securenn_dsl::Result<[securenn_dsl::session::Session; 3]> {
    use securenn_dsl::net::tcp::TcpTransport;
    use securenn_dsl::session::Session;

    let bind = || async {
        tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| securenn_dsl::Error::Io {
                path: "127.0.0.1:0".into(),
                source: std::sync::Arc::new(e),
            })
    };
    let (l0, l1) = (bind().await?, bind().await?);
    let addresses = [l0.local_addr().ok(), l1.local_addr().ok(), None];
    let start = |role: Role, listener| {
        let config = config.clone();
        tokio::spawn(async move {
            let transport = TcpTransport::connect(role, listener, &addresses, &config).await?;
            Session::start(transport, &config).await
        })
    };
    let handles = [
        start(Role::P0, Some(l0)),
        start(Role::P1, Some(l1)),
        start(Role::P2, None),
    ];
    let mut sessions = Vec::new();
    for handle in handles {
        sessions.push(
            handle
                .await
                .map_err(|_| securenn_dsl::Error::Config("a party's task panicked"))??,
        );
    }
    sessions
        .try_into()
        .map_err(|_| securenn_dsl::Error::Config("expected three sessions"))
}
