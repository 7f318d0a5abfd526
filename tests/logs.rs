//! The law of logging: **no log line, at any level, prints a secret or a share.** A log is
//! read by operators and shipped to other machines; only public facts (roles, addresses,
//! shapes, sizes, tags, timings) may appear in it.
//!
//! This binary installs one global tracing subscriber at TRACE level that writes every
//! event and every span's life cycle, from every thread, into a buffer. It runs the
//! protocols (input sharing, MatMul, ReLU, Maxpool, DMaxpool, ShareConvert, ComputeMSB and
//! reveals) on distinctive secrets, over the in-memory transport and over TCP on
//! 127.0.0.1, and asserts that the captured log is not empty and holds none of: the
//! secrets, every share and output each party held, and (in memory, where the frames can
//! be tapped) every 64-bit word of every message, keys included. Each value is searched
//! for in decimal (unsigned, and signed as its magnitude), in hex (lower case with and
//! without `0x`, upper case), as its little-endian bytes in hex and as a list of bytes.
//! Only values of magnitude at least 2^32 are searched for, so that a port, a line number
//! or a count cannot match by chance; the secrets are chosen so, and shares are uniform
//! 64-bit values.
//!
//! The `Debug` output of a share (`Shared`, `Bit`, `Relu`, `MaxPool`, `Revealed`) and of a
//! frame must not show a share either: the parties log their shares' `Debug` output here,
//! and it is checked with the rest.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use std::collections::BTreeSet;
use std::io;
use std::sync::{Arc, Mutex, OnceLock};

use futures::future::BoxFuture;
use securenn_dsl::Result;
use securenn_dsl::dsl::{reveal_to, share};
use securenn_dsl::net::local::LocalTransport;
use securenn_dsl::net::{Frame, Tag, Transport};
use securenn_dsl::party::{P0, P1, Private, Role};
use securenn_dsl::protocol::{Pool2d, compute_msb, dmaxpool, matmul, maxpool, relu, share_convert};
use securenn_dsl::ring::{Ring, Z64};
use securenn_dsl::session::{Session, SessionConfig, run_with_transports};
use securenn_dsl::share::Shared;
use securenn_dsl::tensor::{Shape, Tensor};
use securenn_tests::{public_elements, tcp_sessions};
use tracing::Instrument;
use tracing_subscriber::fmt::format::FmtSpan;
use typenum::{U0, Unsigned};

// ---- Capture ----------------------------------------------------------------------------

/// A writer into the shared log buffer.
#[derive(Debug, Clone)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl io::Write for Capture {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Installs, once for the whole binary, the global subscriber: TRACE level, every event and
/// every span's creation, entry, exit and close, with target, file, line and thread, no
/// colours and no timestamps. It sees the parties' threads and tokio's worker threads,
/// which a thread-local default would not.
fn log_buffer() -> Arc<Mutex<Vec<u8>>> {
    static BUFFER: OnceLock<Arc<Mutex<Vec<u8>>>> = OnceLock::new();
    Arc::clone(BUFFER.get_or_init(|| {
        let buffer = Arc::new(Mutex::new(Vec::new()));
        let writer = Capture(Arc::clone(&buffer));
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_span_events(FmtSpan::FULL)
            .with_ansi(false)
            .without_time()
            .with_target(true)
            .with_file(true)
            .with_line_number(true)
            .with_thread_names(true)
            .with_thread_ids(true)
            .with_writer(move || writer.clone())
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        buffer
    }))
}

/// The log captured so far, from every test of this binary.
fn captured() -> String {
    String::from_utf8(log_buffer().lock().unwrap().clone()).unwrap()
}

// ---- What must not appear ---------------------------------------------------------------

/// The least magnitude of a value searched for.
const DISTINCTIVE: u64 = 1 << 32;

/// Whether `value` is searched for: its magnitude as an unsigned and as a signed integer
/// is at least [`DISTINCTIVE`].
fn distinctive(value: u64) -> bool {
    value.min(value.wrapping_neg()) >= DISTINCTIVE
}

/// The ways a log line could print `value`.
fn renderings(value: u64) -> Vec<String> {
    let magnitude = value.cast_signed().unsigned_abs();
    let bytes = value.to_le_bytes();
    vec![
        value.to_string(),
        magnitude.to_string(),
        format!("{value:x}"),
        format!("{value:#x}"),
        format!("{value:X}"),
        format!("{magnitude:x}"),
        bytes.iter().map(|b| format!("{b:02x}")).collect(),
        bytes
            .iter()
            .map(u8::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    ]
}

/// Every rendering of a set of values, each with its value.
#[derive(Debug)]
struct Needles(Vec<(u64, String)>);

impl Needles {
    fn new(values: &BTreeSet<u64>) -> Needles {
        Needles(
            values
                .iter()
                .flat_map(|&v| renderings(v).into_iter().map(move |r| (v, r)))
                .collect(),
        )
    }

    /// Asserts that `text` (a log, or a `Debug` output) shows none of the values.
    fn assert_absent(&self, what: &str, text: &str) {
        for (value, rendering) in &self.0 {
            assert!(
                !text.contains(rendering.as_str()),
                "{what} shows the secret or share {value} as {rendering:?}"
            );
        }
    }
}

/// Checks the captured log: it is not empty, and it shows none of the values.
fn assert_log_shows_none(needles: &Needles) -> String {
    let log = captured();
    assert!(
        !log.is_empty(),
        "the log capture is broken: nothing captured"
    );
    needles.assert_absent("the log", &log);
    log
}

// ---- The parties' program ---------------------------------------------------------------

/// `n` distinctive secrets from a public seed: magnitudes in 2^32..2^32 + 2^38, either sign.
fn secrets(seed: u64, n: usize) -> Vec<i64> {
    public_elements::<Z64>(seed, n)
        .into_iter()
        .map(|z| {
            let magnitude = i64::try_from(z.value() % (1 << 38) + DISTINCTIVE).unwrap();
            if z.msb() { -magnitude } else { magnitude }
        })
        .collect()
}

/// A tensor of these signed integers.
fn tensor(shape: impl Into<Shape>, values: &[i64]) -> Tensor<Z64> {
    Tensor::from_vec(shape, values.iter().map(|&v| Z64::from_i64(v)).collect()).unwrap()
}

/// The inputs of one run: P0's matrix X and vector A, P1's matrix Y and image.
#[derive(Debug, Clone)]
struct Inputs {
    x: Vec<i64>,
    y: Vec<i64>,
    a: Vec<i64>,
    image: Vec<i64>,
}

impl Inputs {
    fn new(seed: u64) -> Inputs {
        Inputs {
            x: secrets(seed, 16),
            y: secrets(seed + 1, 16),
            a: secrets(seed + 2, 32),
            image: secrets(seed + 3, 64),
        }
    }

    /// Every secret, as ring elements.
    fn all(&self) -> impl Iterator<Item = u64> {
        [&self.x, &self.y, &self.a, &self.image]
            .into_iter()
            .flatten()
            .map(|&v| Z64::from_i64(v).value())
    }
}

/// What one party held: every share and output value, and the `Debug` output of each.
#[derive(Debug, Default)]
struct Held {
    values: Vec<u64>,
    debug: Vec<String>,
}

impl Held {
    /// Keeps this party's share of `x` and its `Debug` output, which the party also logs.
    fn share<R: Ring, F: Unsigned>(&mut self, what: &str, x: &Shared<R, F>) {
        if let Some(share) = x.local_share() {
            self.values.extend(share.iter().map(|v| v.to_u64()));
        }
        self.debug(what, x);
    }

    /// Keeps the `Debug` output of `x` and logs it at every level.
    fn debug(&mut self, what: &str, x: &impl core::fmt::Debug) {
        let rendered = format!("{x:?}");
        tracing::trace!(what, value = ?x, "held");
        tracing::debug!(what, value = %rendered, "held");
        tracing::info!(what, "{rendered}");
        self.debug.push(rendered);
    }

    /// Keeps a revealed tensor, at the party it was revealed to.
    fn output<R: Ring>(&mut self, tensor: Option<Tensor<R>>) {
        if let Some(tensor) = tensor {
            self.values.extend(tensor.data().iter().map(|v| v.to_u64()));
        }
    }
}

/// Every party runs this: it shares the inputs, runs the protocols on them, reveals three
/// results, and keeps everything it held.
async fn program(session: &Session, inputs: &Inputs) -> Result<Held> {
    let role = session.role();
    let span = tracing::info_span!("party", %role);
    program_in_span(session, inputs).instrument(span).await
}

async fn program_in_span(session: &Session, inputs: &Inputs) -> Result<Held> {
    let role = session.role();
    tracing::info!(%role, "the party's program starts");
    let mut held = Held::default();

    let x = Private::<P0, _>::new(role, || tensor([4, 4], &inputs.x));
    let y = Private::<P1, _>::new(role, || tensor([4, 4], &inputs.y));
    let a = Private::<P0, _>::new(role, || tensor([32], &inputs.a));
    let image = Private::<P1, _>::new(role, || tensor([1, 8, 8, 1], &inputs.image));
    held.debug("input", &x);
    let x: Shared<Z64, U0> = share(session, &x, [4, 4]).await?;
    let y: Shared<Z64, U0> = share(session, &y, [4, 4]).await?;
    let a: Shared<Z64, U0> = share(session, &a, [32]).await?;
    let image: Shared<Z64, U0> = share(session, &image, [1, 8, 8, 1]).await?;
    for (what, shared) in [("x", &x), ("y", &y), ("a", &a), ("image", &image)] {
        held.share(what, shared);
    }

    let product = matmul(session, &x, &y).await?;
    held.share("x·y", &product);
    let rectified = relu(session, &a).await?;
    held.share("relu", &rectified.value);
    held.share("relu′", rectified.derivative.as_shared());
    held.debug("relu result", &rectified);
    let pooled = maxpool(session, &image, Pool2d { kernel: 2 }).await?;
    held.share("max", &pooled.max);
    held.share("argmax", &pooled.argmax);
    held.debug("maxpool result", &pooled);
    let one_hot = dmaxpool(session, &pooled.argmax, 4).await?;
    held.share("one-hot", &one_hot);
    let odd = share_convert(session, &a).await?;
    held.share("a over Z_2^64-1", &odd);
    let msb = compute_msb(session, &odd).await?;
    held.share("msb", msb.as_shared());
    held.debug("msb bit", &msb);

    let revealed = reveal_to::<P0, _>(session, &product).await?;
    held.debug("revealed x·y", &revealed);
    held.output(revealed.into_inner());
    let revealed = reveal_to::<P1, _>(session, &rectified.value).await?;
    held.output(revealed.into_inner());
    let revealed = reveal_to::<P0, _>(session, &pooled.max).await?;
    held.output(revealed.into_inner());
    tracing::info!(%role, "the party's program ends");
    Ok(held)
}

/// The values to search for: the secrets and everything the parties held, the distinctive
/// ones only; asserts that there are enough for the search to mean something.
fn searched(inputs: &Inputs, held: &[Held]) -> BTreeSet<u64> {
    let secrets: BTreeSet<u64> = inputs.all().collect();
    assert!(
        secrets.iter().all(|&v| distinctive(v)),
        "every secret is distinctive"
    );
    let mut values = secrets;
    values.extend(held.iter().flat_map(|h| h.values.iter().copied()));
    let total = values.len();
    values.retain(|&v| distinctive(v));
    assert!(
        values.len() > 500 && values.len() + 64 > total,
        "{} of {total} values are distinctive",
        values.len()
    );
    values
}

/// Asserts that no `Debug` output the parties kept shows a share.
fn assert_debug_shows_none(held: &[Held], needles: &Needles) {
    for h in held {
        assert!(!h.debug.is_empty());
        for debug in &h.debug {
            needles.assert_absent(&format!("the Debug output {debug:?}"), debug);
        }
    }
}

/// Asserts that the log holds an event from each party's program.
fn assert_each_party_logged(log: &str) {
    for role in Role::ALL {
        assert!(
            log.contains(&format!("role={role}")),
            "no event of {role}'s program was captured"
        );
    }
}

// ---- In memory --------------------------------------------------------------------------

/// An in-memory endpoint that keeps a copy of every frame its party sends.
#[derive(Debug)]
struct Tap {
    inner: LocalTransport,
    frames: Arc<Mutex<Vec<Frame>>>,
}

impl Transport for Tap {
    fn role(&self) -> Role {
        self.inner.role()
    }
    fn max_frame_len(&self) -> usize {
        self.inner.max_frame_len()
    }
    fn send(&self, to: Role, frame: Frame) -> BoxFuture<'_, Result<()>> {
        self.frames.lock().unwrap().push(frame.clone());
        self.inner.send(to, frame)
    }
    fn recv(&self, from: Role, tag: Tag) -> BoxFuture<'_, Result<Frame>> {
        self.inner.recv(from, tag)
    }
}

/// The 64-bit words of a payload (none if its length is not a multiple of 8).
fn words(payload: &[u8]) -> Vec<u64> {
    if !payload.len().is_multiple_of(8) {
        return Vec::new();
    }
    payload
        .chunks_exact(8)
        .map(|w| u64::from_le_bytes(w.try_into().unwrap()))
        .collect()
}

#[test]
fn no_log_line_of_an_in_memory_run_shows_a_secret_or_a_share() {
    log_buffer();
    let inputs = Inputs::new(0x5EC2E7);
    let config = SessionConfig {
        insecure_seed: Some(11),
        ..SessionConfig::default()
    };
    let frames = Arc::new(Mutex::new(Vec::new()));
    let transports = LocalTransport::triple(&config.net).map(|inner| Tap {
        inner,
        frames: Arc::clone(&frames),
    });
    let inputs_ref = &inputs;
    let held = run_with_transports(transports, &config, |session| async move {
        program(&session, inputs_ref).await
    })
    .unwrap();
    let mut values = searched(&inputs, &held);

    // A frame's Debug output shows its tag and length, not its payload.
    let frames = Arc::try_unwrap(frames).unwrap().into_inner().unwrap();
    assert!(frames.len() > 50, "{} frames tapped", frames.len());
    for frame in &frames {
        let own: BTreeSet<u64> = words(&frame.payload)
            .into_iter()
            .filter(|&v| distinctive(v))
            .collect();
        let debug = format!("{frame:?}");
        Needles::new(&own).assert_absent(&format!("the Debug output {debug:?}"), &debug);
    }
    assert_debug_shows_none(&held, &Needles::new(&values));

    // Every word of every message (shares, masked values, keys) stays out of the log too.
    let before = values.len();
    values.extend(
        frames
            .iter()
            .flat_map(|f| words(&f.payload))
            .filter(|&v| distinctive(v)),
    );
    assert!(values.len() > before + 1000);
    let log = assert_log_shows_none(&Needles::new(&values));
    assert_each_party_logged(&log);
}

#[test]
fn no_log_line_of_a_tcp_run_shows_a_secret_or_a_share() {
    log_buffer();
    let inputs = Arc::new(Inputs::new(0x7C9_0000));
    let config = SessionConfig {
        insecure_seed: Some(12),
        ..SessionConfig::default()
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(3)
        .enable_all()
        .build()
        .unwrap();
    let held: Vec<Held> = runtime.block_on(async {
        let sessions = tcp_sessions(&config).await.unwrap();
        let tasks = sessions.map(|session| {
            let inputs = Arc::clone(&inputs);
            tokio::spawn(async move { program(&session, &inputs).await })
        });
        let mut held = Vec::new();
        for task in tasks {
            held.push(task.await.unwrap().unwrap());
        }
        held
    });
    let needles = Needles::new(&searched(&inputs, &held));
    assert_debug_shows_none(&held, &needles);
    let log = assert_log_shows_none(&needles);
    assert_each_party_logged(&log);
    // The library's own events (the TCP transport's connections) reach the capture.
    assert!(
        log.contains("securenn_dsl::net::tcp"),
        "no event of the TCP transport was captured:\n{log}"
    );
}

#[test]
fn the_search_finds_a_value_that_is_there() {
    // A control: every rendering of a value is found, so a leak would be.
    let value = Z64::from_i64(-0x31_4159_2653).value();
    let needles = Needles::new(&BTreeSet::from([value]));
    let leaks = renderings(value)
        .into_iter()
        .chain([format!("{:?}", value.to_le_bytes())]);
    for leak in leaks {
        let line = format!("DEBUG securenn_dsl: something leaked: {leak} (end)");
        let found = std::panic::catch_unwind(|| needles.assert_absent("a line", &line));
        assert!(found.is_err(), "{leak} was not found");
    }
}
