//! Fuzzing the wire: a property-based harness (proptest) over everything a party decodes
//! from a peer before trusting it — frames, streams of frames, the TCP hello and the job
//! description. `cargo fuzz` needs a nightly compiler, which this project does not use.
//!
//! Laws, for any input:
//! - decoding never panics: it returns a value or a typed error;
//! - a decoded frame re-encodes to exactly the bytes it came from (the encoding is
//!   canonical: no two byte strings mean the same frame);
//! - a stream reader stops at the first bad frame with a typed error and never reads a frame
//!   whose sequence number is not the next one;
//! - a valid frame, hello or job, mutated, is refused or decodes to what it now says.
//!
//! Inputs are random bytes (also behind a valid frame or hello magic, so that the checks
//! past the magic see noise too, and behind a hello's length prefix), valid frames, hellos
//! and jobs, and those with bytes flipped, cut or appended. The number of cases per property is `WIRE_FUZZ_CASES` (default 250,000; four
//! properties, so one million inputs in all):
//!
//! ```text
//! cargo test --release -p securenn-tests --test wire_fuzz
//! WIRE_FUZZ_CASES=10000000 cargo test --release -p securenn-tests --test wire_fuzz
//! ```

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use proptest::prelude::*;
use securenn_dsl::error::PeerDescription;
use securenn_dsl::net::frame::{
    FrameReader, HEADER_LEN, MAGIC, WireFrame, WireMessage, decode_frame, encode_frame,
};
use securenn_dsl::net::tcp::{HELLO_MAGIC, Hello};
use securenn_dsl::net::{CallId, Frame, NetConfig, Tag};
use securenn_dsl::party::Role;
use securenn_dsl::session::Job;

/// The largest payload the harness allows a frame.
const MAX_LEN: usize = 256;

fn cases() -> u32 {
    std::env::var("WIRE_FUZZ_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(250_000)
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: cases(),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

fn role() -> impl Strategy<Value = Role> {
    prop_oneof![Just(Role::P0), Just(Role::P1), Just(Role::P2)]
}

/// Any frame a peer could legitimately send.
fn wire_frame() -> impl Strategy<Value = WireFrame> {
    let data = (
        any::<u32>(),
        any::<u16>(),
        any::<u16>(),
        any::<u64>(),
        proptest::collection::vec(any::<u8>(), 0..64),
    )
        .prop_map(|(call, step, chunk, round, payload)| {
            WireMessage::Data(Frame {
                tag: Tag {
                    call: CallId::ROOT.child(call),
                    step,
                    chunk,
                },
                round,
                payload,
            })
        });
    let message = prop_oneof![
        4 => data,
        1 => Just(WireMessage::Heartbeat),
        1 => role().prop_map(|culprit| WireMessage::Abort { culprit }),
    ];
    (any::<u64>(), message).prop_map(|(sequence, message)| WireFrame { sequence, message })
}

/// What a hostile peer does to bytes: flip some, cut them, append to them.
#[derive(Debug, Clone)]
enum Mutation {
    Flip(Vec<(usize, u8)>),
    Cut(usize),
    Append(Vec<u8>),
}

fn mutation() -> impl Strategy<Value = Mutation> {
    prop_oneof![
        3 => proptest::collection::vec((any::<usize>(), 1..=255u8), 1..4).prop_map(Mutation::Flip),
        1 => any::<usize>().prop_map(Mutation::Cut),
        1 => proptest::collection::vec(any::<u8>(), 1..16).prop_map(Mutation::Append),
    ]
}

fn mutate(mut bytes: Vec<u8>, mutation: &Mutation) -> Vec<u8> {
    match mutation {
        Mutation::Flip(flips) => {
            for &(at, xor) in flips {
                if !bytes.is_empty() {
                    let at = at % bytes.len();
                    bytes[at] ^= xor;
                }
            }
        }
        Mutation::Cut(at) => bytes.truncate(at % (bytes.len() + 1)),
        Mutation::Append(tail) => bytes.extend_from_slice(tail),
    }
    bytes
}

/// Decodes `bytes` as one frame and checks the laws; returns whether it decoded.
fn check_one_frame(bytes: &[u8]) -> bool {
    match decode_frame(bytes, Role::P1, MAX_LEN) {
        Ok(frame) => {
            assert_eq!(
                encode_frame(&frame, Role::P1).unwrap(),
                bytes,
                "a decoded frame re-encodes to its bytes"
            );
            true
        }
        Err(error) => {
            // A typed error that names the peer, and prints without a payload.
            assert!(error.to_string().contains("P1"), "{error}");
            false
        }
    }
}

/// Reads a stream of frames; returns how many were read before the end or an error.
fn read_stream(bytes: &[u8]) -> (usize, Option<securenn_dsl::Error>) {
    let mut reader = FrameReader::new(Role::P0, Role::P2, MAX_LEN, None);
    let mut stream = bytes;
    let mut read = 0;
    futures::executor::block_on(async {
        loop {
            match reader.read(&mut stream).await {
                Ok(Some(_)) => read += 1,
                Ok(None) => return (read, None),
                Err(error) => return (read, Some(error)),
            }
        }
    })
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn random_and_header_shaped_bytes_are_refused_or_decode_canonically(
        shape in 0u8..3,
        tail in proptest::collection::vec(any::<u8>(), 0..2 * HEADER_LEN),
    ) {
        // Pure noise rarely passes a magic number: also start from the frame's and the
        // hello's, so the decoders' later checks see random input too.
        let mut bytes = match shape {
            0 => Vec::new(),
            1 => MAGIC.to_vec(),
            _ => HELLO_MAGIC.to_vec(),
        };
        bytes.extend_from_slice(&tail);
        check_one_frame(&bytes);
        let _ = read_stream(&bytes);
        let _ = Hello::decode(&bytes, PeerDescription::Unknown);
        let _ = Job::decode(&bytes, Role::P0);
        // The hello as it arrives on a stream, behind its length prefix (and without it).
        let mut framed = u16::try_from(bytes.len()).unwrap().to_le_bytes().to_vec();
        framed.extend_from_slice(&bytes);
        for stream in [&framed[..], &bytes[..]] {
            let mut stream = stream;
            let _ = futures::executor::block_on(Hello::read_from(
                &mut stream,
                PeerDescription::Unknown,
            ));
        }
    }

    #[test]
    fn mutated_frames_are_refused_or_decode_to_what_they_say(
        frame in wire_frame(),
        change in mutation(),
    ) {
        let bytes = encode_frame(&frame, Role::P1).unwrap();
        prop_assert_eq!(decode_frame(&bytes, Role::P1, MAX_LEN).unwrap(), frame.clone());
        let mutated = mutate(bytes.clone(), &change);
        if check_one_frame(&mutated) {
            // The encoding is one-to-one: other bytes are another frame.
            let decoded = decode_frame(&mutated, Role::P1, MAX_LEN).unwrap();
            prop_assert_eq!(decoded == frame, mutated == bytes);
        }
    }

    #[test]
    fn a_stream_reader_stops_at_the_first_bad_or_out_of_sequence_frame(
        frames in proptest::collection::vec(wire_frame(), 1..6),
        change in mutation(),
        target in any::<usize>(),
    ) {
        // Number the frames as a sender would (P2 to P0: an abort blames P1); then corrupt
        // one of them.
        let numbered: Vec<WireFrame> = frames
            .into_iter()
            .zip(0u64..)
            .map(|(frame, sequence)| WireFrame {
                sequence,
                message: match frame.message {
                    WireMessage::Abort { .. } => WireMessage::Abort { culprit: Role::P1 },
                    message => message,
                },
            })
            .collect();
        let encoded: Vec<Vec<u8>> = numbered
            .iter()
            .map(|f| encode_frame(f, Role::P2).unwrap())
            .collect();
        let intact: Vec<u8> = encoded.concat();
        let (read, error) = read_stream(&intact);
        prop_assert_eq!(read, numbered.len());
        prop_assert!(error.is_none(), "{:?}", error);

        let target = target % encoded.len();
        let mut corrupted = encoded.clone();
        corrupted[target] = mutate(corrupted[target].clone(), &change);
        let (read, _) = read_stream(&corrupted.concat());
        // Every frame before the corrupted one is read; the reader never goes further
        // than the frames it was given.
        prop_assert!(read >= target.min(numbered.len()));
        prop_assert!(read <= numbered.len());

        // A replayed frame: the same bytes again are out of sequence.
        let mut replayed = intact.clone();
        replayed.extend_from_slice(&encoded[target]);
        let (read, error) = read_stream(&replayed);
        prop_assert_eq!(read, numbered.len());
        let out_of_sequence = matches!(error, Some(securenn_dsl::Error::OutOfSequence { .. }));
        prop_assert!(out_of_sequence);
    }

    #[test]
    fn mutated_hellos_and_jobs_are_refused_or_decode(
        from in 0u8..4,
        to in 0u8..4,
        session_id in any::<u64>(),
        network in "[A-D]",
        batch in any::<u16>(),
        change in mutation(),
    ) {
        let config = NetConfig { session_id, ..NetConfig::default() };
        let mut hello = Hello::new(Role::P1, Role::P0, &config);
        hello.from = from;
        hello.to = to;
        let body = postcard::to_stdvec(&hello).unwrap();
        prop_assert_eq!(&Hello::decode(&body, PeerDescription::Unknown).unwrap(), &hello);
        let _ = Hello::decode(&mutate(body, &change), PeerDescription::Unknown);

        let job = Job::new().with("network", &network).with("batch", batch);
        let bytes = postcard::to_stdvec(&job).unwrap();
        prop_assert_eq!(&Job::decode(&bytes, Role::P2).unwrap(), &job);
        if let Ok(decoded) = Job::decode(&mutate(bytes, &change), Role::P2) {
            // Whatever decodes is a job that can be compared, field by field.
            let _ = decoded.check(&job, Role::P2);
        }
    }
}
