//! TLS with mutual authentication: three parties on 127.0.0.1 compute over TLS exactly as
//! in plaintext, and a party whose certificate is not issued by the cluster's CA, or not to
//! the party it claims to be, is refused before any secret moves.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::time::{Duration, Instant};

use securenn_dsl::dsl::{reveal_to, share};
use securenn_dsl::error::{HandshakeFailure, PeerDescription};
use securenn_dsl::net::NetConfig;
use securenn_dsl::net::tcp::TcpTransport;
use securenn_dsl::net::tls::{ClusterCredentials, TlsIdentity};
use securenn_dsl::party::{P0, P1, Private, Role};
use securenn_dsl::protocol::relu;
use securenn_dsl::ring::{Ring, Z64};
use securenn_dsl::session::{Session, SessionConfig};
use securenn_dsl::share::Shared;
use securenn_dsl::tensor::Tensor;
use securenn_dsl::{Error, Result};
use securenn_tests::public_elements;
use tokio::net::TcpListener;

fn config() -> SessionConfig {
    SessionConfig {
        net: NetConfig {
            session_id: 7,
            connect_timeout: Duration::from_secs(5),
            recv_timeout: Duration::from_secs(5),
            ..NetConfig::default()
        },
        ..SessionConfig::default()
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap()
}

const N: usize = 1000;

/// Test inputs within ±2^61, so that their sums are in DReLU's domain (±2^62).
fn inputs(seed: u64) -> Vec<Z64> {
    public_elements::<Z64>(seed, N)
        .iter()
        .map(|v| v.arithmetic_shr(2))
        .collect()
}

/// The work of each party once connected: P0 and P1 share test vectors, the three compute
/// ReLU(x + y), and P0 learns it.
async fn relu_of_sum(session: Session) -> Result<Option<Vec<Z64>>> {
    let role = session.role();
    let x = Private::<P0, _>::try_new(role, || Tensor::from_vec([N], inputs(1)))?;
    let y = Private::<P1, _>::try_new(role, || Tensor::from_vec([N], inputs(2)))?;
    let x: Shared<Z64> = share(&session, &x, [N]).await?;
    let y: Shared<Z64> = share(&session, &y, [N]).await?;
    let sum = x.try_add(&y)?;
    let out = relu(&session, &sum).await?;
    Ok(reveal_to::<P0, _>(&session, &out.value)
        .await?
        .into_inner()
        .map(|t| t.data().to_vec()))
}

/// Starts the three parties over TLS on 127.0.0.1, party `n` with `identities[n]`, runs
/// [`relu_of_sum`] at each, and returns each party's outcome.
async fn run_tls(identities: [TlsIdentity; 3]) -> [Result<Option<Vec<Z64>>>; 3] {
    let config = config();
    let (l0, l1) = (
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
        TcpListener::bind("127.0.0.1:0").await.unwrap(),
    );
    let addresses = [l0.local_addr().ok(), l1.local_addr().ok(), None];
    let mut listeners = [Some(l0), Some(l1), None];
    let mut handles = Vec::new();
    for (role, identity) in Role::ALL.into_iter().zip(identities) {
        let listener = listeners[role.index()].take();
        let config = config.clone();
        handles.push(tokio::spawn(async move {
            let transport =
                TcpTransport::connect_tls(role, listener, &addresses, &config.net, &identity)
                    .await?;
            let session = Session::start(transport, &config).await?;
            relu_of_sum(session).await
        }));
    }
    let mut outcomes = Vec::new();
    for handle in handles {
        outcomes.push(handle.await.unwrap());
    }
    outcomes.try_into().ok().unwrap()
}

fn identities(credentials: &ClusterCredentials) -> [TlsIdentity; 3] {
    Role::ALL.map(|role| credentials.identity(role).unwrap())
}

#[test]
fn three_parties_compute_over_mutually_authenticated_tls() {
    let credentials = ClusterCredentials::generate().unwrap();
    let [p0, p1, p2] = runtime().block_on(run_tls(identities(&credentials)));
    let expected: Vec<Z64> = inputs(1)
        .iter()
        .zip(&inputs(2))
        .map(|(&x, &y)| {
            let sum = x + y;
            if sum.msb() { Z64::ZERO } else { sum }
        })
        .collect();
    assert_eq!(p0.unwrap(), Some(expected));
    assert_eq!(p1.unwrap(), None);
    assert_eq!(p2.unwrap(), None);
}

#[test]
fn credentials_round_trip_through_pem_files() {
    let credentials = ClusterCredentials::generate().unwrap();
    let dir = std::env::temp_dir().join(format!("securenn-tls-{}", std::process::id()));
    credentials.write_to(&dir).unwrap();
    let from_files = Role::ALL.map(|role| {
        TlsIdentity::from_pem_files(
            role,
            &dir.join("ca.pem"),
            &dir.join(format!("p{}.pem", role.index())),
            &dir.join(format!("p{}.key", role.index())),
        )
        .unwrap()
    });
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(dir.join("p1.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(
            mode & 0o077,
            0,
            "a key file is readable by others: {mode:o}"
        );
    }
    let [p0, _, _] = runtime().block_on(run_tls(from_files));
    assert!(p0.unwrap().is_some());
    let missing = TlsIdentity::from_pem_files(
        Role::P0,
        &dir.join("ca.pem"),
        &dir.join("missing.pem"),
        &dir.join("p0.key"),
    );
    assert!(
        matches!(&missing, Err(Error::Certificate { path, .. }) if path.ends_with("missing.pem")),
        "{missing:?}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn is_tls_refusal(outcome: &Result<Option<Vec<Z64>>>, peer: PeerDescription) -> bool {
    matches!(
        outcome,
        Err(Error::Handshake { peer: p, reason: HandshakeFailure::Tls(_) }) if *p == peer
    )
}

#[test]
fn a_certificate_from_another_ca_is_refused() {
    let credentials = ClusterCredentials::generate().unwrap();
    let stranger = ClusterCredentials::generate().unwrap();
    let [p0, p1, p2] = identities(&credentials);
    let _ = p1;
    let started = Instant::now();
    let outcomes = runtime().block_on(run_tls([p0, stranger.identity(Role::P1).unwrap(), p2]));
    // P1 does not trust P0's certificate, and P0 does not trust P1's: neither goes on.
    assert!(outcomes[0].is_err(), "P0 accepted a stranger");
    assert!(
        is_tls_refusal(&outcomes[1], PeerDescription::Party(Role::P0)),
        "{:?}",
        outcomes[1]
    );
    assert!(outcomes[2].is_err(), "P2 computed without P1");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "refusal took too long"
    );
}

#[test]
fn a_party_presenting_another_partys_certificate_is_refused() {
    let credentials = ClusterCredentials::generate().unwrap();
    let [p0, p1, _] = identities(&credentials);
    // P2 holds P1's certificate and key, both valid under the cluster's CA, and claims to be
    // P2 in its hello.
    let (certificate, key) = &credentials.parties[1];
    let impostor = TlsIdentity::from_pem(
        Role::P2,
        credentials.ca_certificate.as_bytes(),
        certificate.as_bytes(),
        key.as_bytes(),
    )
    .unwrap();
    let outcomes = runtime().block_on(run_tls([p0, p1, impostor]));
    let refused =
        |o: &Result<Option<Vec<Z64>>>| is_tls_refusal(o, PeerDescription::Party(Role::P2));
    assert!(
        refused(&outcomes[0]) || refused(&outcomes[1]),
        "P0: {:?}, P1: {:?}",
        outcomes[0],
        outcomes[1]
    );
    assert!(
        outcomes.iter().all(Result::is_err),
        "a party went on with an impostor"
    );
}
