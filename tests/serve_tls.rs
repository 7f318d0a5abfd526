//! Clients over TLS: a client the cluster's CA certified gets the twin's predictions from
//! P0 and P1; a client it never certified is refused before any query reaches a queue; a
//! malformed, oversized or unfinished message gets an error (or its connection closed),
//! and the other clients' queries are answered all the same.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::net::SocketAddr;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

use rand::Rng;
use securenn_dsl::error::QueryProblem;
use securenn_dsl::net::tls::{ClientAuthority, ClientCredentials, ClusterCredentials};
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::{TrainConfig, initial_weights};
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::twin::Twin;
use securenn_dsl::prelude::*;
use securenn_dsl::prg::Prg;
use securenn_dsl::serve::{
    ClientLimits, Intake, QueryClient, QueryHalf, QueryId, Reply, ServeConfig, ServeStats,
    accept_clients, serve,
};
use securenn_dsl::session::run_local_with;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const SEED: u64 = 23;

struct Cluster {
    credentials: ClusterCredentials,
    addresses: [SocketAddr; 2],
    intakes: [Arc<Intake>; 2],
    servers: JoinHandle<Result<[ServeStats; 3]>>,
    runtime: tokio::runtime::Runtime,
}

fn start() -> Cluster {
    let spec = NetworkSpec::a();
    let input_len = spec.input().len();
    let credentials = ClusterCredentials::generate().unwrap();
    let intakes = [0, 1].map(|_| Arc::new(Intake::new(input_len, 64)));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let addresses = [Role::P0, Role::P1].map(|role| {
        let listener = runtime.block_on(TcpListener::bind("127.0.0.1:0")).unwrap();
        let address = listener.local_addr().unwrap();
        let identity = credentials.identity(role).unwrap();
        let clients =
            ClientAuthority::from_pem(credentials.client_ca_certificate.as_bytes()).unwrap();
        let intake = Arc::clone(&intakes[role.index()]);
        runtime.spawn(async move {
            let limits = ClientLimits::new(input_len);
            accept_clients(listener, &identity, &clients, intake, limits).await
        });
        address
    });
    let queues = intakes.clone();
    let servers = thread::spawn(move || {
        run_local_with(&SessionConfig::default(), |session| {
            let (spec, queues) = (spec.clone(), queues.clone());
            async move {
                let role = session.role();
                let weights = initial_weights(&spec, SEED);
                let owned = Private::<P1, _>::new(role, || weights.clone());
                let mut network =
                    PrivateNetwork::share_weights(&session, spec, &owned, TrainConfig::default())
                        .await?;
                let intake = (!role.is_helper()).then(|| &*queues[role.index()]);
                serve(&session, &mut network, intake, &ServeConfig::default()).await
            }
        })
    });
    Cluster {
        credentials,
        addresses,
        intakes,
        servers,
        runtime,
    }
}

impl Cluster {
    fn client(&self, credentials: &ClientCredentials) -> Result<QueryClient> {
        let identity = credentials.identity()?;
        self.runtime.block_on(QueryClient::connect(
            self.addresses,
            &identity,
            10,
            Duration::from_secs(20),
        ))
    }

    fn stop(self) -> [ServeStats; 3] {
        self.intakes[0].close();
        self.servers.join().unwrap().unwrap()
    }
}

fn input(rng: &mut Prg) -> Vec<Z64> {
    let len = NetworkSpec::a().input().len();
    (0..len)
        .map(|_| Z64::new(u64::from(rng.next_u32()) % (1 << 13)))
        .collect()
}

fn twin_class(input: &[Z64]) -> usize {
    let spec = NetworkSpec::a();
    let weights = initial_weights(&spec, SEED);
    let mut twin = Twin::<Z64>::new(spec, &weights, TrainConfig::default(), SEED).unwrap();
    twin.predict(input, 1).unwrap()[0]
}

#[test]
fn certified_clients_get_the_twins_predictions_and_an_unknown_client_is_refused() {
    let cluster = start();
    let alice = ClientCredentials::issue(
        &cluster.credentials.ca_certificate,
        &cluster.credentials.client_ca_key,
        "alice",
    )
    .unwrap();
    let mut rng = Prg::from_os_rng().unwrap();
    let mut client = cluster.client(&alice).unwrap();
    for _ in 0..4 {
        let input = input(&mut rng);
        let prediction = cluster.runtime.block_on(client.query(&input)).unwrap();
        assert_eq!(prediction.class, twin_class(&input));
        assert_eq!(prediction.scores, None, "the servers send the class only");
    }

    // A client of another cluster's clients' CA, and a party's own certificate presented as
    // a client's: refused in the handshake, or at the latest at the first query; nothing
    // reaches a queue.
    let other = ClusterCredentials::generate().unwrap();
    let mallory = ClientCredentials::issue(
        &cluster.credentials.ca_certificate,
        &other.client_ca_key,
        "mallory",
    )
    .unwrap();
    let (p2_certificate, p2_key) = &cluster.credentials.parties[2];
    let as_p2 = ClientCredentials {
        name: "p2".to_owned(),
        ca_certificate: cluster.credentials.ca_certificate.clone(),
        certificate: p2_certificate.clone(),
        key: p2_key.clone(),
    };
    for unknown in [&mallory, &as_p2] {
        let refused = cluster.client(unknown).and_then(|mut client| {
            cluster
                .runtime
                .block_on(client.query(&input(&mut rng)))
                .map(drop)
        });
        assert!(refused.is_err(), "{} was served", unknown.name);
    }
    assert_eq!(
        cluster.intakes.iter().map(|i| i.waiting()).sum::<usize>(),
        0
    );

    let [p0, p1, _] = cluster.stop();
    assert_eq!((p0.answered, p1.answered), (4, 4));
}

/// A raw TLS connection to P0 as `client`, to send bytes no `QueryClient` would.
async fn raw_connection(
    cluster_ca: &str,
    client: &ClientCredentials,
    address: SocketAddr,
) -> tokio_rustls::client::TlsStream<tokio::net::TcpStream> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(cluster_ca.as_bytes()).unwrap())
        .unwrap();
    let chain = vec![CertificateDer::from_pem_slice(client.certificate.as_bytes()).unwrap()];
    let key = PrivateKeyDer::from_pem_slice(client.key.as_bytes()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_root_certificates(roots)
        .with_client_auth_cert(chain, key)
        .unwrap();
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let name = ServerName::try_from("p0.securenn").unwrap();
    tokio_rustls::TlsConnector::from(Arc::new(config))
        .connect(name, stream)
        .await
        .unwrap()
}

#[test]
fn a_malformed_oversized_or_unfinished_message_costs_the_other_clients_nothing() {
    let cluster = start();
    let ca = &cluster.credentials.ca_certificate;
    let bob = ClientCredentials::issue(ca, &cluster.credentials.client_ca_key, "bob").unwrap();
    let input_len = NetworkSpec::a().input().len();
    let runtime = &cluster.runtime;

    // Oversized: a header announcing more values than the network takes is answered
    // "malformed" at once, and the connection closed; nothing of its size is allocated.
    let mut oversized = QueryHalf {
        id: QueryId([9; 16]),
        shares: vec![Z64::ZERO; 1],
    }
    .encode();
    oversized[20..24].copy_from_slice(&u32::MAX.to_le_bytes());
    // Not a query at all.
    let garbage = b"GET / HTTP/1.1\r\nHost: p0\r\n\r\n".to_vec();
    for message in [oversized, garbage] {
        runtime.block_on(async {
            let mut raw = raw_connection(ca, &bob, cluster.addresses[0]).await;
            raw.write_all(&message).await.unwrap();
            let mut reply = Vec::new();
            raw.read_to_end(&mut reply).await.ok();
            let reply = Reply::decode(&reply, 0).unwrap();
            assert!(
                matches!(
                    reply,
                    Reply::Refused {
                        refusal: securenn_dsl::serve::Refusal::Malformed,
                        ..
                    }
                ),
                "{reply:?}"
            );
        });
    }
    // Unfinished: half a query, then the client goes away.
    runtime.block_on(async {
        let mut raw = raw_connection(ca, &bob, cluster.addresses[0]).await;
        let half = QueryHalf {
            id: QueryId([7; 16]),
            shares: vec![Z64::ZERO; input_len],
        }
        .encode();
        raw.write_all(&half[..half.len() / 2]).await.unwrap();
        raw.flush().await.unwrap();
        drop(raw);
    });
    // A whole half sent to P0 alone, then the client disconnects: it is refused as
    // unpaired in time, and no one waits for it.
    runtime.block_on(async {
        let mut raw = raw_connection(ca, &bob, cluster.addresses[0]).await;
        let half = QueryHalf {
            id: QueryId([8; 16]),
            shares: vec![Z64::ZERO; input_len],
        }
        .encode();
        raw.write_all(&half).await.unwrap();
        raw.flush().await.unwrap();
        drop(raw);
    });

    // Meanwhile another client is served as if nothing happened.
    let mut rng = Prg::from_os_rng().unwrap();
    let mut client = cluster.client(&bob).unwrap();
    let input = input(&mut rng);
    let prediction = runtime.block_on(client.query(&input)).unwrap();
    assert_eq!(prediction.class, twin_class(&input));

    // A query the servers refuse reaches the client as a typed error: a wrong length.
    let short = runtime.block_on(client.query(&input[..3]));
    assert!(
        matches!(short, Err(Error::Query(QueryProblem::Malformed(_)))),
        "{short:?}"
    );
    // The half P1 never received leaves P0's queue as unpaired (after the pair wait).
    let waited = std::time::Instant::now();
    while cluster.intakes[0].waiting() > 0 && waited.elapsed() < Duration::from_secs(20) {
        thread::sleep(Duration::from_millis(20));
    }
    let [p0, ..] = cluster.stop();
    assert_eq!((p0.answered, p0.unpaired), (1, 1));
}
