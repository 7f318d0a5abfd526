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
            let transport = TcpTransport::connect(role, listener, &addresses, &config.net).await?;
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
                .map_err(|_| securenn_dsl::Error::PartyThread { what: "panicked" })??,
        );
    }
    sessions
        .try_into()
        .map_err(|_| securenn_dsl::Error::Internal("expected three sessions"))
}

/// What a protocol run gave: the result revealed to P0, and the traffic of the protocol
/// alone (input sharing is free and the final reveal is not counted).
#[derive(Debug, Clone)]
pub struct Outcome<T> {
    /// The revealed result.
    pub value: T,
    /// Bytes and rounds of the protocol call, summed over the three parties.
    pub stats: securenn_dsl::net::ClusterStats,
}

/// Shares `x` from P0 and `y` from P1 (each a tensor over Z_2^64 at scale `F`), runs `op`
/// at the three parties, and reveals its result to P0.
///
/// # Panics
///
/// If the run fails: this is a test helper.
pub fn binary_op<F, R, G, Op>(
    x: &Tensor<securenn_dsl::ring::Z64>,
    y: &Tensor<securenn_dsl::ring::Z64>,
    op: Op,
) -> Outcome<Tensor<R>>
where
    F: typenum::Unsigned,
    R: Ring,
    G: typenum::Unsigned,
    Op: AsyncFn(
            &securenn_dsl::session::Session,
            &securenn_dsl::share::Shared<securenn_dsl::ring::Z64, F>,
            &securenn_dsl::share::Shared<securenn_dsl::ring::Z64, F>,
        ) -> securenn_dsl::Result<securenn_dsl::share::Shared<R, G>>
        + Sync,
{
    use securenn_dsl::dsl::{reveal_to, share};
    use securenn_dsl::party::{P0, P1, Private};

    let op = &op;
    let results = securenn_dsl::session::run_local(|session| async move {
        let role = session.role();
        let a = Private::<P0, _>::new(role, || x.clone());
        let b = Private::<P1, _>::new(role, || y.clone());
        let a = share(&session, &a, x.shape().clone()).await?;
        let b = share(&session, &b, y.shape().clone()).await?;
        session.reset_stats();
        let out = op(&session, &a, &b).await?;
        let stats = session.stats();
        let revealed = reveal_to::<P0, _>(&session, &out).await?;
        Ok((revealed.into_inner(), stats))
    });
    let results = match results {
        Ok(results) => results,
        Err(error) => panic!("protocol run failed: {error}"),
    };
    let stats = securenn_dsl::net::ClusterStats::from_parties(&results.each_ref().map(|r| r.1));
    let [(value, _), _, _] = results;
    Outcome {
        value: value.expect("P0 receives the revealed result"),
        stats,
    }
}

/// [`binary_op`] for a protocol with one input, shared from P0.
///
/// # Panics
///
/// If the run fails.
pub fn unary_op<F, R, G, Op>(x: &Tensor<securenn_dsl::ring::Z64>, op: Op) -> Outcome<Tensor<R>>
where
    F: typenum::Unsigned,
    R: Ring,
    G: typenum::Unsigned,
    Op: AsyncFn(
            &securenn_dsl::session::Session,
            &securenn_dsl::share::Shared<securenn_dsl::ring::Z64, F>,
        ) -> securenn_dsl::Result<securenn_dsl::share::Shared<R, G>>
        + Sync,
{
    let op = &op;
    binary_op::<F, R, G, _>(x, x, async move |session, a, _| op(session, a).await)
}

/// A rank-1 tensor over Z_2^64 holding these signed integers.
pub fn signed_tensor(values: &[i64]) -> Tensor<securenn_dsl::ring::Z64> {
    let data = values
        .iter()
        .map(|&v| securenn_dsl::ring::Z64::from_i64(v))
        .collect();
    match Tensor::from_vec([values.len()], data) {
        Ok(tensor) => tensor,
        Err(error) => unreachable!("a rank-1 shape always fits its data: {error}"),
    }
}

/// `n` pseudo-random signed integers in `-bound..bound` from a public seed.
pub fn public_signed(seed: u64, n: usize, bound: i64) -> Vec<i64> {
    let modulus = u64::try_from(bound).unwrap_or(1).saturating_mul(2).max(1);
    public_elements::<securenn_dsl::ring::Z64>(seed, n)
        .into_iter()
        .map(|v| i64::try_from(v.value() % modulus).unwrap_or(0) - bound)
        .collect()
}

/// Every file under `dir` (recursively) whose name ends in `.{extension}`, sorted.
///
/// # Panics
///
/// If `dir` cannot be read: a test's fixture is missing.
pub fn files_under(dir: &std::path::Path, extension: &str) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).expect("a readable folder") {
        let path = entry.expect("a readable folder entry").path();
        if path.is_dir() {
            found.extend(files_under(&path, extension));
        } else if path.extension().is_some_and(|e| e == extension) {
            found.push(path);
        }
    }
    found.sort();
    found
}
