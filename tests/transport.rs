//! Transports: bulk traffic with exact counters over each backend, and typed errors (no
//! panic, no hang) for truncated frames, oversized length prefixes, peers that close the
//! connection, duplicate, replayed or mismatched messages, frames for the wrong step, random
//! bytes, wrong handshakes and jobs, silent peers, heartbeats, and the abort that names the
//! party that is gone.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use securenn_dsl::error::{ClaimedRole, HandshakeFailure, PeerDescription};
use securenn_dsl::net::NetConfig;
use securenn_dsl::net::frame::{
    FrameHeader, FrameKind, FrameReader, HEADER_LEN, WireFrame, WireMessage, decode_frame,
    encode_frame,
};
use securenn_dsl::net::local::LocalTransport;
use securenn_dsl::net::tcp::{Hello, TcpTransport};
use securenn_dsl::net::{
    CallId, ClusterStats, DEFAULT_MAX_FRAME_LEN, Frame, Stats, Tag, Transport,
};
use securenn_dsl::party::Role;
use securenn_dsl::ring::{Ring, Z64, Zp};
use securenn_dsl::session::{Job, Session, SessionConfig, local_sessions, run_local};
use securenn_dsl::{Error, Result};
use securenn_tests::{public_elements, tcp_sessions};
use tokio::io::AsyncWriteExt;
use tokio::net::{TcpListener, TcpStream};

/// The tag of the first message of the first protocol call.
fn first() -> Tag {
    Tag {
        call: CallId::ROOT.child(1),
        step: 0,
        chunk: 0,
    }
}

/// 10^7 elements per ordered pair: 80 MB each way between every two parties.
const BULK_ELEMENTS: usize = 10_000_000;

fn bulk_seed(from: Role, to: Role) -> u64 {
    (from.index() * 3 + to.index()) as u64
}

/// Every party sends 10^7 elements to each peer and checks what it receives; returns its
/// counters for this exchange alone.
async fn bulk_exchange(session: &Session) -> Result<Stats> {
    session.reset_stats();
    let call = session.call("bulk");
    let me = session.role();
    for peer in me.peers() {
        let values = public_elements::<Z64>(bulk_seed(me, peer), BULK_ELEMENTS);
        call.send(peer, 0, &values).await?;
    }
    for peer in me.peers() {
        let got = call.recv::<Z64>(peer, 0, BULK_ELEMENTS).await?;
        assert!(
            got == public_elements::<Z64>(bulk_seed(peer, me), BULK_ELEMENTS),
            "{me} received corrupted data from {peer}"
        );
    }
    Ok(session.stats())
}

fn assert_counters_equal_payload(stats: &[Stats; 3]) {
    let payload = (BULK_ELEMENTS * 8) as u64;
    let frames = payload.div_ceil(DEFAULT_MAX_FRAME_LEN as u64);
    for s in stats {
        for peer in s.role.peers() {
            assert_eq!(s.bytes_sent[peer.index()], payload, "{} -> {peer}", s.role);
            assert_eq!(
                s.bytes_received[peer.index()],
                payload,
                "{peer} -> {}",
                s.role
            );
            assert_eq!(s.messages_sent[peer.index()], frames);
        }
        assert_eq!(s.bytes_sent[s.role.index()], 0);
        assert_eq!(
            s.rounds, 1,
            "one round: everybody sends, then everybody receives"
        );
    }
    let cluster = ClusterStats::from_parties(stats);
    assert!(cluster.is_consistent());
    assert_eq!(cluster.total_bytes(), 6 * payload);
}

#[test]
fn local_transport_moves_ten_million_u64_per_ordered_pair_with_exact_counters() {
    let stats = run_local(|session| async move { bulk_exchange(&session).await }).unwrap();
    assert_counters_equal_payload(&stats);
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap()
}

#[test]
fn tcp_transport_moves_ten_million_u64_per_ordered_pair_with_exact_counters() {
    runtime().block_on(async {
        let sessions = tcp_sessions(&SessionConfig::default()).await.unwrap();
        let tasks =
            sessions.map(|session| tokio::spawn(async move { bulk_exchange(&session).await }));
        let mut stats = Vec::new();
        for task in tasks {
            stats.push(task.await.unwrap().unwrap());
        }
        assert_counters_equal_payload(&stats.try_into().unwrap());
    });
}

// ---- Frames ---------------------------------------------------------------------------

fn frame(call: u32, payload: Vec<u8>) -> Frame {
    Frame {
        tag: Tag {
            call: CallId::ROOT.child(call),
            step: 0,
            chunk: 0,
        },
        round: 1,
        payload,
    }
}

/// `frame` as the first data frame of a connection.
fn wire(frame: Frame) -> WireFrame {
    WireFrame {
        sequence: 0,
        message: WireMessage::Data(frame),
    }
}

/// Reads one frame from `reader`, as P`local` reading what `peer` sends.
async fn read_frame<R: tokio::io::AsyncRead + Unpin>(
    reader: &mut R,
    local: Role,
    peer: Role,
    max_len: usize,
) -> Result<Option<WireMessage>> {
    FrameReader::new(local, peer, max_len, None)
        .read(reader)
        .await
}

#[test]
fn a_truncated_frame_is_a_typed_error() {
    let bytes = encode_frame(&wire(frame(1, vec![7; 100])), Role::P1).unwrap();
    for cut in [
        0,
        1,
        HEADER_LEN - 1,
        HEADER_LEN,
        HEADER_LEN + 10,
        bytes.len() - 1,
    ] {
        let error = decode_frame(&bytes[..cut], Role::P1, 1 << 20).unwrap_err();
        assert!(
            matches!(error, Error::TruncatedFrame { peer: Role::P1, .. }),
            "cut at {cut}: {error}"
        );
    }
    // The same over a byte stream that ends in the payload.
    let result = runtime().block_on(async {
        let (mut writer, mut reader) = tokio::io::duplex(1 << 16);
        writer.write_all(&bytes[..HEADER_LEN + 10]).await.unwrap();
        drop(writer);
        read_frame(&mut reader, Role::P0, Role::P1, 1 << 20).await
    });
    assert!(
        matches!(
            result,
            Err(Error::TruncatedFrame {
                peer: Role::P1,
                expected: 100,
                received: 10
            })
        ),
        "{result:?}"
    );
}

#[test]
fn a_length_prefix_over_the_maximum_is_refused_before_reading_the_payload() {
    let header = FrameHeader {
        kind: FrameKind::Data,
        len: u32::MAX,
        sequence: 0,
        tag: first(),
        round: 1,
    }
    .encode();
    let error = FrameHeader::decode(&header, Role::P2, 1 << 20).unwrap_err();
    assert!(
        matches!(error, Error::FrameTooLarge { peer: Role::P2, len, max } if len == u64::from(u32::MAX) && max == 1 << 20)
    );
    // Over a stream, the reader stops at the header: no payload follows and none is awaited.
    let result = runtime().block_on(async {
        let (mut writer, mut reader) = tokio::io::duplex(1 << 16);
        writer.write_all(&header).await.unwrap();
        // Keep the writer open: a reader that tried to read 4 GiB would hang here.
        let result = tokio::time::timeout(
            Duration::from_secs(5),
            read_frame(&mut reader, Role::P0, Role::P2, 1 << 20),
        )
        .await;
        drop(writer);
        result
    });
    assert!(
        matches!(result, Ok(Err(Error::FrameTooLarge { .. }))),
        "{result:?}"
    );
}

#[test]
fn random_bytes_are_not_a_frame() {
    let mut garbage = [0u8; HEADER_LEN];
    for (b, i) in garbage.iter_mut().zip(0u8..) {
        *b = i.wrapping_mul(151).wrapping_add(7);
    }
    let error = decode_frame(&garbage, Role::P0, 1 << 20).unwrap_err();
    assert!(matches!(error, Error::MalformedFrame { .. }), "{error}");
    let mut other_version = encode_frame(&wire(frame(1, vec![])), Role::P0).unwrap();
    other_version[3] = b'2'; // the magic of the previous wire format, "SNN2"
    assert!(matches!(
        decode_frame(&other_version, Role::P0, 16),
        Err(Error::MalformedFrame { .. })
    ));
    let mut with_trailer = encode_frame(&wire(frame(1, vec![1])), Role::P0).unwrap();
    with_trailer.push(0);
    assert!(matches!(
        decode_frame(&with_trailer, Role::P0, 16),
        Err(Error::MalformedFrame { .. })
    ));
}

// ---- Failing peers and mismatched messages, in memory ----------------------------------

#[test]
fn a_party_that_fails_ends_the_others_with_its_error_not_a_hang() {
    let started = Instant::now();
    let result = run_local(|session| async move {
        let call = session.call("wait");
        match session.role() {
            // P0 fails before sending anything...
            Role::P0 => Err(Error::Program("P0 gives up".to_owned())),
            // ...while P1 and P2 wait for a message from it.
            _ => call.recv::<Z64>(Role::P0, 0, 1).await.map(|_| ()),
        }
    });
    assert!(
        matches!(&result, Err(Error::Program(reason)) if reason == "P0 gives up"),
        "{result:?}"
    );
    assert!(started.elapsed() < Duration::from_secs(5));

    // Each waiting party itself saw a typed `PeerClosed` naming P0.
    let results: Vec<Result<()>> = {
        let [t0, t1, t2] = LocalTransport::triple(&NetConfig::default());
        let tag = first();
        drop(t0);
        futures::executor::block_on(async {
            vec![
                t1.recv(Role::P0, tag).await.map(drop),
                t2.recv(Role::P0, tag).await.map(drop),
            ]
        })
    };
    for (result, local) in results.into_iter().zip([Role::P1, Role::P2]) {
        assert!(
            matches!(&result, Err(Error::PeerClosed { local: l, peer: Role::P0, .. }) if *l == local),
            "{result:?}"
        );
    }
}

#[test]
fn a_message_that_never_comes_times_out_in_memory_too() {
    let config = NetConfig {
        recv_timeout: Duration::from_millis(200),
        ..NetConfig::default()
    };
    let started = Instant::now();
    // Both parties stay alive, each waiting for a step the other never sends.
    let result =
        securenn_dsl::session::run_local_with(&session_config(config), |session| async move {
            let call = session.call("mismatch");
            match session.role() {
                Role::P0 => call.recv::<Z64>(Role::P1, 1, 1).await.map(drop),
                Role::P1 => call.recv::<Z64>(Role::P0, 1, 1).await.map(drop),
                Role::P2 => Ok(()),
            }
        });
    assert!(matches!(result, Err(Error::Timeout { .. })), "{result:?}");
    assert!(started.elapsed() < Duration::from_secs(5));
}

#[test]
fn a_peer_cannot_make_a_party_buffer_without_bound() {
    let config = NetConfig {
        max_pending_bytes: 1000,
        ..NetConfig::default()
    };
    let [p0, p1, _p2] = LocalTransport::triple(&config);
    futures::executor::block_on(async {
        // 600 + 600 unasked-for bytes exceed the 1000 allowed to wait.
        p0.send(Role::P1, frame(1, vec![0; 600])).await.unwrap();
        let flood = p0.send(Role::P1, frame(2, vec![0; 600])).await;
        assert!(
            matches!(
                flood,
                Err(Error::MailboxFull {
                    peer: Role::P0,
                    limit: 1000
                })
            ),
            "{flood:?}"
        );
        let next = p1.recv(Role::P0, first()).await;
        assert!(
            next.is_ok(),
            "frames that arrived in time stay readable: {next:?}"
        );
        let after = p1
            .recv(
                Role::P0,
                Tag {
                    call: CallId::ROOT.child(3),
                    step: 0,
                    chunk: 0,
                },
            )
            .await;
        assert!(matches!(after, Err(Error::MailboxFull { .. })), "{after:?}");
    });
}

#[test]
fn empty_frames_cannot_pile_up_without_bound_either() {
    let config = NetConfig {
        max_pending_bytes: 64 << 10,
        ..NetConfig::default()
    };
    let [p0, _p1, _p2] = LocalTransport::triple(&config);
    futures::executor::block_on(async {
        // Each waiting frame costs its bookkeeping: a flood of empty frames nobody asked for
        // is refused long before it could exhaust memory.
        let mut refused = None;
        for call in 1..10_000 {
            if let Err(error) = p0.send(Role::P1, frame(call, Vec::new())).await {
                refused = Some((call, error));
                break;
            }
        }
        let (call, error) = refused.expect("a flood of empty frames was accepted");
        assert!(call < 1000, "{call} empty frames were buffered");
        assert!(
            matches!(error, Error::MailboxFull { peer: Role::P0, .. }),
            "{error}"
        );
    });
}

#[test]
fn a_replayed_frame_is_a_typed_error() {
    let [p0, p1, _p2] = LocalTransport::triple(&NetConfig::default());
    futures::executor::block_on(async {
        p0.send(Role::P1, frame(5, vec![1; 8])).await.unwrap();
        let replay = p0.send(Role::P1, frame(5, vec![1; 8])).await;
        assert!(
            matches!(replay, Err(Error::DuplicateMessage { peer: Role::P0, .. })),
            "{replay:?}"
        );
        // From then on P1 refuses everything from P0.
        let next = p1
            .recv(
                Role::P0,
                Tag {
                    call: CallId::ROOT.child(6),
                    step: 0,
                    chunk: 0,
                },
            )
            .await;
        assert!(
            matches!(next, Err(Error::DuplicateMessage { .. })),
            "{next:?}"
        );
    });
}

#[test]
fn oversized_frames_are_refused_at_the_sender() {
    let [p0, _p1, _p2] = LocalTransport::triple(&NetConfig {
        max_frame_len: 64,
        ..NetConfig::default()
    });
    let result = futures::executor::block_on(p0.send(Role::P1, frame(1, vec![0; 65])));
    assert!(
        matches!(
            result,
            Err(Error::FrameTooLarge {
                len: 65,
                max: 64,
                ..
            })
        ),
        "{result:?}"
    );
}

#[test]
fn long_messages_are_split_into_frames_below_the_limit() {
    let config = NetConfig {
        max_frame_len: 1000,
        ..NetConfig::default()
    };
    let sessions = futures::executor::block_on(local_sessions(&session_config(config))).unwrap();
    let values = public_elements::<Z64>(9, 1001);
    futures::executor::block_on(async {
        sessions[0].reset_stats();
        sessions[1].reset_stats();
        let (send, recv) = (sessions[0].call("split"), sessions[1].call("split"));
        send.send(Role::P1, 3, &values).await.unwrap();
        assert_eq!(recv.recv::<Z64>(Role::P0, 3, 1001).await.unwrap(), values);
    });
    // 1000-byte frames hold 125 elements: 1001 elements take 9 frames.
    assert_eq!(sessions[0].stats().messages_sent[1], 9);
    assert_eq!(sessions[1].stats().bytes_received[0], 8008);
}

#[test]
fn a_message_of_the_wrong_length_or_ring_is_a_typed_error() {
    let sessions = futures::executor::block_on(local_sessions(&SessionConfig::default())).unwrap();
    futures::executor::block_on(async {
        let (send, recv) = (sessions[0].call("length"), sessions[1].call("length"));
        send.send(Role::P1, 0, &[Z64::ONE; 3]).await.unwrap();
        let short = recv.recv::<Z64>(Role::P0, 0, 4).await;
        assert!(
            matches!(
                short,
                Err(Error::MessageLength {
                    expected: 32,
                    received: 24,
                    ..
                })
            ),
            "{short:?}"
        );

        let (send, recv) = (sessions[0].call("ring"), sessions[1].call("ring"));
        send.send(Role::P1, 0, &[Z64::new(u64::MAX)]).await.unwrap();
        let not_zp = recv.recv::<Zp>(Role::P0, 0, 8).await;
        assert!(
            matches!(not_zp, Err(Error::InvalidElement { ring: "Z_67", .. })),
            "{not_zp:?}"
        );
    });
}

// ---- TCP: failing peers, wrong handshakes, silence ------------------------------------

fn test_config() -> NetConfig {
    NetConfig {
        session_id: 77,
        connect_timeout: Duration::from_secs(5),
        recv_timeout: Duration::from_secs(5),
        ..NetConfig::default()
    }
}

/// A fake party: dials `address` and runs the dialer's side of the handshake as `from`.
async fn fake_dialer(address: SocketAddr, from: Role, to: Role, config: &NetConfig) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    Hello::new(from, to, config)
        .write_to(&mut stream, PeerDescription::Party(to))
        .await
        .unwrap();
    Hello::read_from(&mut stream, PeerDescription::Party(to))
        .await
        .unwrap();
    stream
}

/// Starts P0 on a fresh port of 127.0.0.1; returns the address and P0's connecting task.
async fn spawn_p0(
    config: &NetConfig,
) -> (SocketAddr, tokio::task::JoinHandle<Result<TcpTransport>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let config = config.clone();
    let p0 = tokio::spawn(async move {
        TcpTransport::connect(
            Role::P0,
            Some(listener),
            &[Some(address), None, None],
            &config,
        )
        .await
    });
    (address, p0)
}

/// P0's transport with fake P1 and P2 (returned as raw streams).
async fn p0_with_fake_peers(config: &NetConfig) -> (TcpTransport, TcpStream, TcpStream) {
    let (address, p0) = spawn_p0(config).await;
    let fake_p1 = fake_dialer(address, Role::P1, Role::P0, config).await;
    let fake_p2 = fake_dialer(address, Role::P2, Role::P0, config).await;
    (p0.await.unwrap().unwrap(), fake_p1, fake_p2)
}

#[test]
fn a_peer_that_closes_mid_message_is_a_typed_error() {
    let config = test_config();
    runtime().block_on(async {
        let (p0, mut fake_p1, mut fake_p2) = p0_with_fake_peers(&config).await;
        let tag = first();
        // P1 sends a header announcing 100 bytes, then 10 bytes, then hangs up.
        let bytes = encode_frame(&wire(frame(1, vec![5; 100])), Role::P1).unwrap();
        fake_p1.write_all(&bytes[..HEADER_LEN + 10]).await.unwrap();
        drop(fake_p1);
        let started = Instant::now();
        let result = p0.recv(Role::P1, tag).await;
        assert!(
            matches!(
                result,
                Err(Error::TruncatedFrame {
                    peer: Role::P1,
                    expected: 100,
                    received: 10
                })
            ),
            "{result:?}"
        );
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "reported at once, not after a timeout"
        );

        // P2 announces a frame over the limit: refused, named, without waiting for the payload.
        let header = FrameHeader {
            kind: FrameKind::Data,
            len: u32::MAX,
            sequence: 0,
            tag,
            round: 1,
        }
        .encode();
        fake_p2.write_all(&header).await.unwrap();
        let result = p0.recv(Role::P2, tag).await;
        assert!(
            matches!(result, Err(Error::FrameTooLarge { peer: Role::P2, .. })),
            "{result:?}"
        );
    });
}

#[test]
fn a_peer_that_closes_between_messages_is_peer_closed() {
    let config = test_config();
    runtime().block_on(async {
        let (p0, fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
        drop(fake_p1);
        let result = p0.recv(Role::P1, first()).await;
        assert!(
            matches!(
                result,
                Err(Error::PeerClosed {
                    local: Role::P0,
                    peer: Role::P1,
                    ..
                })
            ),
            "{result:?}"
        );
    });
}

#[test]
fn a_silent_peer_times_out_with_a_typed_error() {
    let config = NetConfig {
        recv_timeout: Duration::from_millis(300),
        ..test_config()
    };
    runtime().block_on(async {
        let (p0, _fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
        let started = Instant::now();
        let result = p0.recv(Role::P1, first()).await;
        assert!(
            matches!(result, Err(Error::Timeout { peer: Role::P1, .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    });
}

/// Starts P0 on a fresh listener and lets `client` talk to it; returns P0's outcome.
async fn p0_facing(
    config: &NetConfig,
    client: impl AsyncFnOnce(SocketAddr),
) -> Result<TcpTransport> {
    // P0 keeps waiting for its real peers until the connect timeout: keep it short.
    let (address, p0) = spawn_p0(&NetConfig {
        connect_timeout: Duration::from_secs(1),
        ..config.clone()
    })
    .await;
    client(address).await;
    tokio::time::timeout(Duration::from_secs(10), p0)
        .await
        .expect("P0 answers a bad handshake at once, without hanging")
        .unwrap()
}

async fn send_hello(address: SocketAddr, hello: Hello) -> TcpStream {
    let mut stream = TcpStream::connect(address).await.unwrap();
    hello
        .write_to(&mut stream, PeerDescription::Party(Role::P0))
        .await
        .unwrap();
    stream
}

#[test]
fn a_handshake_from_the_wrong_party_id_is_refused() {
    let config = test_config();
    runtime().block_on(async {
        // A peer claiming to be P0 itself.
        let result = p0_facing(&config, async |address| {
            let _stream = send_hello(address, Hello::new(Role::P0, Role::P0, &config)).await;
        })
        .await;
        assert!(
            matches!(
                result,
                Err(Error::Handshake {
                    reason: HandshakeFailure::WrongParty {
                        claimed: ClaimedRole::Valid(Role::P0),
                        ..
                    },
                    ..
                })
            ),
            "{result:?}"
        );

        // A peer claiming a party that does not exist.
        let result = p0_facing(&config, async |address| {
            let mut hello = Hello::new(Role::P1, Role::P0, &config);
            hello.from = 7;
            let _stream = send_hello(address, hello).await;
        })
        .await;
        assert!(
            matches!(
                result,
                Err(Error::Handshake {
                    peer: PeerDescription::Unknown,
                    reason: HandshakeFailure::WrongParty {
                        claimed: ClaimedRole::Invalid(7),
                        ..
                    }
                })
            ),
            "{result:?}"
        );

        // Two connections both claiming to be P1.
        let result = p0_facing(&config, async |address| {
            let _first = fake_dialer(address, Role::P1, Role::P0, &config).await;
            let _second = send_hello(address, Hello::new(Role::P1, Role::P0, &config)).await;
            tokio::time::sleep(Duration::from_millis(200)).await;
        })
        .await;
        assert!(
            matches!(
                result,
                Err(Error::Handshake {
                    peer: PeerDescription::Party(Role::P1),
                    reason: HandshakeFailure::WrongParty { .. }
                })
            ),
            "{result:?}"
        );
    });
}

#[test]
fn a_dialer_refuses_an_acceptor_that_is_not_the_party_it_dialed() {
    let config = test_config();
    runtime().block_on(async {
        // An impostor listens at "P0's" address and answers as P1.
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        let impostor = {
            let config = config.clone();
            tokio::spawn(async move {
                let (mut stream, _) = listener.accept().await.unwrap();
                let _ = Hello::read_from(&mut stream, PeerDescription::Unknown).await;
                Hello::new(Role::P1, Role::P2, &config)
                    .write_to(&mut stream, PeerDescription::Unknown)
                    .await
                    .unwrap();
                stream
            })
        };
        let result = tokio::time::timeout(
            Duration::from_secs(10),
            TcpTransport::connect(
                Role::P2,
                None,
                &[Some(address), Some(address), None],
                &config,
            ),
        )
        .await
        .expect("no hang");
        assert!(
            matches!(
                result,
                Err(Error::Handshake {
                    peer: PeerDescription::Party(Role::P0),
                    reason: HandshakeFailure::WrongParty {
                        claimed: ClaimedRole::Valid(Role::P1),
                        ..
                    }
                })
            ),
            "{result:?}"
        );
        drop(impostor.await);
    });
}

#[test]
fn a_handshake_for_another_session_or_version_or_protocol_is_refused() {
    let config = test_config();
    runtime().block_on(async {
        let result = p0_facing(&config, async |address| {
            let other = NetConfig {
                session_id: 78,
                ..config.clone()
            };
            let _stream = send_hello(address, Hello::new(Role::P1, Role::P0, &other)).await;
        })
        .await;
        assert!(
            matches!(
                result,
                Err(Error::Handshake {
                    reason: HandshakeFailure::SessionId,
                    ..
                })
            ),
            "{result:?}"
        );

        let result = p0_facing(&config, async |address| {
            let mut hello = Hello::new(Role::P1, Role::P0, &config);
            hello.version += 1;
            let _stream = send_hello(address, hello).await;
        })
        .await;
        assert!(
            matches!(
                result,
                Err(Error::Handshake {
                    reason: HandshakeFailure::Version { .. },
                    ..
                })
            ),
            "{result:?}"
        );

        let result = p0_facing(&config, async |address| {
            let mut stream = TcpStream::connect(address).await.unwrap();
            stream
                .write_all(b"GET / HTTP/1.1\r\nHost: securenn\r\n\r\n")
                .await
                .unwrap();
            tokio::time::sleep(Duration::from_millis(200)).await;
        })
        .await;
        assert!(
            matches!(
                result,
                Err(Error::Handshake {
                    reason: HandshakeFailure::NotSecurenn | HandshakeFailure::Malformed,
                    ..
                })
            ),
            "{result:?}"
        );
    });
}

#[test]
fn an_unreachable_peer_is_a_typed_error_after_the_connect_timeout() {
    let config = NetConfig {
        connect_timeout: Duration::from_millis(500),
        ..test_config()
    };
    runtime().block_on(async {
        // Bind and drop, so nothing listens on the port.
        let address = TcpListener::bind("127.0.0.1:0")
            .await
            .unwrap()
            .local_addr()
            .unwrap();
        let started = Instant::now();
        let result = TcpTransport::connect(
            Role::P1,
            Some(TcpListener::bind("127.0.0.1:0").await.unwrap()),
            &[Some(address), None, None],
            &config,
        )
        .await;
        assert!(
            matches!(
                result,
                Err(Error::Handshake {
                    peer: PeerDescription::Party(Role::P0),
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

// ---- Hostile frames after the handshake -------------------------------------------------

/// The bytes of data frame number `sequence` tagged `tag`.
fn data_bytes(sequence: u64, tag: Tag, payload: Vec<u8>) -> Vec<u8> {
    let frame = WireFrame {
        sequence,
        message: WireMessage::Data(Frame {
            tag,
            round: 1,
            payload,
        }),
    };
    encode_frame(&frame, Role::P1).unwrap()
}

/// The tag of step `step` of the first call.
fn step(step: u16) -> Tag {
    Tag { step, ..first() }
}

#[test]
fn a_replayed_frame_on_the_wire_is_out_of_sequence() {
    let config = test_config();
    runtime().block_on(async {
        let (p0, mut fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
        let bytes = data_bytes(0, step(0), vec![1; 8]);
        fake_p1.write_all(&bytes).await.unwrap();
        fake_p1.write_all(&bytes).await.unwrap();
        assert_eq!(p0.recv(Role::P1, step(0)).await.unwrap().payload, [1; 8]);
        let result = p0.recv(Role::P1, step(1)).await;
        assert!(
            matches!(
                result,
                Err(Error::OutOfSequence {
                    peer: Role::P1,
                    expected: 1,
                    received: 0
                })
            ),
            "{result:?}"
        );
    });
}

#[test]
fn a_consumed_tag_sent_again_is_a_replay() {
    let config = test_config();
    runtime().block_on(async {
        let (p0, mut fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
        fake_p1
            .write_all(&data_bytes(0, step(0), vec![1; 8]))
            .await
            .unwrap();
        p0.recv(Role::P1, step(0)).await.unwrap();
        // Correctly numbered, but a message this party has already taken.
        fake_p1
            .write_all(&data_bytes(1, step(0), vec![2; 8]))
            .await
            .unwrap();
        let result = p0.recv(Role::P1, step(1)).await;
        assert!(
            matches!(result, Err(Error::ReplayedMessage { peer: Role::P1, tag }) if tag == step(0)),
            "{result:?}"
        );
    });
}

#[test]
fn a_frame_for_the_wrong_protocol_step_is_an_unexpected_message() {
    let config = NetConfig {
        recv_timeout: Duration::from_millis(300),
        ..test_config()
    };
    runtime().block_on(async {
        let (p0, mut fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
        fake_p1
            .write_all(&data_bytes(0, step(5), vec![1; 8]))
            .await
            .unwrap();
        let started = Instant::now();
        let result = p0.recv(Role::P1, step(0)).await;
        assert!(
            matches!(
                result,
                Err(Error::UnexpectedMessage {
                    peer: Role::P1,
                    waiting: 1,
                    ..
                })
            ),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    });
}

#[test]
fn random_bytes_after_the_handshake_end_the_connection_with_a_typed_error() {
    let config = test_config();
    runtime().block_on(async {
        let (p0, mut fake_p1, mut fake_p2) = p0_with_fake_peers(&config).await;
        let garbage: Vec<u8> = public_elements::<Z64>(9, 64)
            .iter()
            .flat_map(|v| v.value().to_le_bytes())
            .collect();
        fake_p1.write_all(&garbage).await.unwrap();
        let result = p0.recv(Role::P1, first()).await;
        assert!(
            matches!(result, Err(Error::MalformedFrame { peer: Role::P1, .. })),
            "{result:?}"
        );
        // A valid header of an unknown kind, and a heartbeat that carries a payload.
        let mut header = FrameHeader {
            kind: FrameKind::Heartbeat,
            len: 0,
            sequence: 0,
            tag: Tag {
                call: CallId::ROOT,
                step: 0,
                chunk: 0,
            },
            round: 0,
        }
        .encode();
        header[4] = 9;
        fake_p2.write_all(&header).await.unwrap();
        let result = p0.recv(Role::P2, first()).await;
        assert!(
            matches!(result, Err(Error::MalformedFrame { peer: Role::P2, reason }) if reason.contains("kind")),
            "{result:?}"
        );
    });
}

#[test]
fn a_peer_silent_past_the_peer_timeout_is_named() {
    let config = NetConfig {
        peer_timeout: Duration::from_millis(400),
        recv_timeout: Duration::from_secs(30),
        ..test_config()
    };
    runtime().block_on(async {
        // The fake peers send no heartbeat: to P0 they are stopped machines.
        let (p0, _fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
        let started = Instant::now();
        let result = p0.recv(Role::P2, first()).await;
        assert!(
            matches!(result, Err(Error::PeerSilent { peer: Role::P2, after }) if after == config.peer_timeout),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(3));
    });
}

#[test]
fn heartbeats_keep_a_peer_that_computes_long_alive() {
    // Each party's heartbeat task runs while its protocol code computes (here: sleeps) for
    // four peer timeouts before answering.
    let config = NetConfig {
        peer_timeout: Duration::from_millis(300),
        ..test_config()
    };
    runtime().block_on(async {
        let [s0, s1, _s2] = tcp_sessions(&session_config(config)).await.unwrap();
        let (sent, received) = tokio::join!(
            async {
                tokio::time::sleep(Duration::from_millis(1200)).await;
                s1.call("slow").send(Role::P0, 0, &[Z64::new(7)]).await
            },
            async { s0.call("slow").recv::<Z64>(Role::P1, 0, 1).await }
        );
        sent.unwrap();
        assert_eq!(received.unwrap(), [Z64::new(7)]);
    });
}

#[test]
fn an_abort_names_the_party_that_is_gone_not_the_messenger() {
    let config = test_config();
    runtime().block_on(async {
        let (p0, mut fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
        let abort = WireFrame {
            sequence: 0,
            message: WireMessage::Abort { culprit: Role::P2 },
        };
        fake_p1
            .write_all(&encode_frame(&abort, Role::P1).unwrap())
            .await
            .unwrap();
        for from in [Role::P1, Role::P2] {
            let result = p0.recv(from, first()).await;
            assert!(
                matches!(
                    result,
                    Err(Error::PeerLost {
                        peer: Role::P2,
                        reported_by: Role::P1
                    })
                ),
                "waiting on {from}: {result:?}"
            );
        }
    });
}

#[test]
fn a_party_that_loses_a_peer_tells_the_third_one() {
    // P2 disappears while P1 waits for P0 and P0 waits for P1: P1 sees P2 go, gives up,
    // and P0, which never talks to P2 here, learns from P1 that P2 is gone.
    let config = test_config();
    runtime().block_on(async {
        let [s0, s1, s2] = tcp_sessions(&session_config(config)).await.unwrap();
        drop(s2);
        let (c0, c1) = (s0.call("wait"), s1.call("wait"));
        // P0 waits on P1; P1 waits on P2, which is gone.
        let (at_p0, at_p1) = tokio::join!(
            c0.recv::<Z64>(Role::P1, 0, 1),
            c1.recv::<Z64>(Role::P2, 0, 1)
        );
        let at_p1 = at_p1.unwrap_err();
        assert_eq!(at_p1.failed_peer(), Some(Role::P2), "{at_p1}");
        let at_p0 = at_p0.unwrap_err();
        assert!(
            matches!(
                at_p0,
                Error::PeerLost {
                    peer: Role::P2,
                    reported_by: Role::P1
                }
            ),
            "{at_p0}"
        );
        assert!(at_p0.to_string().contains("P2"));
    });
}

// ---- The job -----------------------------------------------------------------------------

/// Starts three in-memory sessions, each with its own job.
fn start_with_jobs(jobs: [Job; 3]) -> [Result<Session>; 3] {
    let base = SessionConfig::default();
    start_with(jobs.map(|job| SessionConfig {
        job,
        ..base.clone()
    }))
}

/// Starts the three parties' sessions over in-memory transports, each with its own
/// configuration.
fn start_with(configs: [SessionConfig; 3]) -> [Result<Session>; 3] {
    let [t0, t1, t2] = LocalTransport::triple(&configs[0].net);
    let [c0, c1, c2] = &configs;
    let (r0, r1, r2) = futures::executor::block_on(async {
        futures::join!(
            Session::start(t0, c0),
            Session::start(t1, c1),
            Session::start(t2, c2)
        )
    });
    [r0, r1, r2]
}

#[test]
fn parties_started_for_different_jobs_refuse_each_other_before_any_key() {
    let job = Job::new().with("network", "A").with("batch", 128);
    let [r0, r1, r2] = start_with_jobs([job.clone(), job.clone().with("batch", 64), job.clone()]);
    for (result, peer) in [(r0, Role::P1), (r2, Role::P1)] {
        match result {
            Err(Error::Handshake {
                peer: PeerDescription::Party(named),
                reason:
                    HandshakeFailure::Job {
                        field,
                        ours,
                        theirs,
                    },
            }) => {
                assert_eq!((named, field.as_str()), (peer, "batch"));
                assert_eq!((ours.as_str(), theirs.as_str()), ("128", "64"));
            }
            other => panic!("expected a job mismatch with {peer}, got {:?}", other.err()),
        }
    }
    let error = r1.err().unwrap();
    assert!(
        error.to_string().contains("batch is 128 there but 64 here"),
        "{error}"
    );
}

#[test]
fn a_field_only_one_party_states_is_not_compared_and_is_readable_by_the_others() {
    let job = Job::new().with("network", "A");
    let [r0, r1, r2] = start_with_jobs([
        job.clone().with("P0 checkpoints", "5:ab"),
        job.clone().with("P1 checkpoints", "5:ab,10:ab"),
        job,
    ]);
    let (s0, s2) = (r0.unwrap(), r2.unwrap());
    drop(r1.unwrap());
    assert_eq!(
        s2.peer_job(Role::P1).unwrap().get("P1 checkpoints"),
        Some("5:ab,10:ab")
    );
    assert_eq!(
        s0.peer_job(Role::P1).unwrap().get("P1 checkpoints"),
        Some("5:ab,10:ab")
    );
    assert!(s0.peer_job(Role::P0).is_none());
}

#[test]
fn stray_connections_during_start_up_are_dropped_and_the_real_peers_connect() {
    let config = test_config();
    runtime().block_on(async {
        let (address, p0) = spawn_p0(&config).await;
        // A scanner that sends junk, one that says nothing, and a party of another session.
        let mut junk = TcpStream::connect(address).await.unwrap();
        junk.write_all(&[0xff; 64]).await.unwrap();
        let _silent = TcpStream::connect(address).await.unwrap();
        let other_session = NetConfig {
            session_id: 5,
            ..config.clone()
        };
        let _other = send_hello(address, Hello::new(Role::P1, Role::P0, &other_session)).await;
        // Then the real P1 and P2.
        let mut p1 = fake_dialer(address, Role::P1, Role::P0, &config).await;
        let _p2 = fake_dialer(address, Role::P2, Role::P0, &config).await;
        let p0 = tokio::time::timeout(Duration::from_secs(10), p0)
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        p1.write_all(&data_bytes(0, first(), vec![3; 8]))
            .await
            .unwrap();
        assert_eq!(p0.recv(Role::P1, first()).await.unwrap().payload, [3; 8]);
    });
}

#[test]
fn an_abort_that_blames_its_sender_or_receiver_is_malformed() {
    let config = test_config();
    for culprit in [Role::P1, Role::P0] {
        runtime().block_on(async {
            let (p0, mut fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
            let abort = WireFrame {
                sequence: 0,
                message: WireMessage::Abort { culprit },
            };
            fake_p1
                .write_all(&encode_frame(&abort, Role::P1).unwrap())
                .await
                .unwrap();
            let result = p0.recv(Role::P1, first()).await;
            assert!(
                matches!(result, Err(Error::MalformedFrame { peer: Role::P1, reason }) if reason.contains("abort")),
                "an abort blaming {culprit}: {result:?}"
            );
        });
    }
}

#[test]
fn a_send_to_a_peer_that_stopped_reading_ends_when_it_falls_silent() {
    // The fake P1 neither reads nor sends: once the socket buffers are full, P0's write
    // would block forever; P1's silence ends it.
    let config = NetConfig {
        peer_timeout: Duration::from_millis(500),
        ..test_config()
    };
    runtime().block_on(async {
        let (p0, _fake_p1, _fake_p2) = p0_with_fake_peers(&config).await;
        let started = Instant::now();
        let mut result = Ok(());
        for call in 1..64 {
            result = p0.send(Role::P1, frame(call, vec![0; 1 << 20])).await;
            if result.is_err() {
                break;
            }
        }
        assert!(
            matches!(result, Err(Error::PeerSilent { peer: Role::P1, .. })),
            "{result:?}"
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    });
}

/// A session's settings around these transport settings.
fn session_config(net: NetConfig) -> SessionConfig {
    SessionConfig {
        net,
        ..SessionConfig::default()
    }
}

/// Parties whose emulated links differ refuse each other when they start (the links are
/// part of the job), and a party without one cannot read an emulating party's frames.
#[test]
fn parties_on_different_emulated_links_refuse_each_other() {
    use securenn_dsl::net::Link;
    let base = SessionConfig::default();
    let slow: Link = "latency=2ms,bandwidth=10MB/s".parse().unwrap();
    let fast: Link = "latency=1ms,bandwidth=10MB/s".parse().unwrap();
    let with = |link| SessionConfig {
        net: NetConfig {
            link,
            ..base.net.clone()
        },
        ..base.clone()
    };
    let [r0, _, _] = start_with([with(Some(slow)), with(Some(fast)), with(Some(slow))]);
    let error = r0.err().unwrap().to_string();
    assert!(error.contains("emulated link"), "{error}");
    let [r0, r1, _] = start_with([with(Some(slow)), with(None), with(Some(slow))]);
    assert!(r0.is_err() && r1.is_err());
    let [r0, r1, r2] = start_with([with(Some(slow)), with(Some(slow)), with(Some(slow))]);
    assert!(r0.is_ok() && r1.is_ok() && r2.is_ok());
}
