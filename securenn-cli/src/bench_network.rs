//! `securenn bench network X --batch B`: one private inference of a batch of MNIST test
//! images by network X, as in the paper's Table 7: the forward pass and the private argmax,
//! timed and counted, then checked against the plaintext twin.
//!
//! P1 shares the weights (He-uniform from a public seed) and P0 the images: MNIST's test
//! images for a network that takes them, random images (or rows) of the network's input
//! shape for any other (CIFAR-10's VGG16, say: the time, the bytes and the rounds do not
//! depend on the values). Sharing is local and not timed. After the timed inference the outputs are revealed to P0 (only for
//! the check) and compared with the twin's.

use std::time::Instant;

use securenn_dsl::dsl::{reveal_to, share};
use securenn_dsl::net::{ClusterStats, Link, NetConfig, Stats};
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::{TrainConfig, initial_weights};
use securenn_dsl::nn::data::Dataset;
use securenn_dsl::nn::mnist::Mnist;
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::twin::{Number, Twin};
use securenn_dsl::party::{P0, P1, Private, Role};
use securenn_dsl::ring::Z64;
use securenn_dsl::session::{Session, SessionConfig, run_local_with};
use securenn_dsl::share::Shared;
use securenn_dsl::tensor::Tensor;
use serde::{Deserialize, Serialize};

use crate::processes::{ChildArgs, CliError, TransportKind, run_child, run_three_processes};

/// Arguments of `securenn bench network`.
#[derive(Debug, clap::Args)]
pub(crate) struct NetworkArgs {
    /// The network: A, B, C or D (the paper's), or a network file (`.toml`).
    name: String,
    /// Images per inference.
    #[arg(long, default_value_t = 1)]
    batch: usize,
    /// Where the parties run: three threads (`local`) or three processes over TCP (`tcp`).
    #[arg(long, value_enum, default_value_t = TransportKind::Local)]
    transport: TransportKind,
    /// Timed inferences; the median is reported.
    #[arg(long, default_value_t = 5)]
    repeat: usize,
    /// What to measure: the whole inference with P2 dealing as it goes (`all`), or the
    /// offline phase (P2's input-independent dealing, ahead of time) or the online phase
    /// (the inference on that material); `offline` and `online` measure the three side
    /// by side and report them all.
    #[arg(long, value_enum, default_value_t = Phase::All)]
    phase: Phase,
    /// Seed of the weights (public).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Emulate a wide-area link between every two parties, e.g.
    /// `latency=29ms,bandwidth=40MB/s` (the paper's WAN), on this machine; the summary then
    /// gives the floor `rounds × latency + bytes of the busiest link / bandwidth` beside
    /// the time.
    #[arg(long, value_name = "LINK")]
    link: Option<Link>,
    /// With `--phase online` or `offline`: P0 and P1 also draw their comparisons'
    /// randomness offline (a faster online phase, larger material; see `securenn offline
    /// --draws`).
    #[arg(long)]
    draws: bool,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    child: ChildArgs,
}

/// What `bench network` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Phase {
    /// The whole inference, P2 dealing as it goes.
    All,
    /// P2's input-independent dealing for one inference, ahead of time.
    Offline,
    /// The inference on offline material.
    Online,
}

/// The paper's Table 7 communication, in bytes (MB = 10^6), at batch 1 and 128; `None`
/// for a network that is not one of the paper's.
fn paper_bytes(network: &str, batch: usize) -> Option<u64> {
    let (one, many) = match network {
        "A" => (2.1, 29.0),
        "B" => (8.86, 1066.0),
        "C" => (18.94, 1550.0),
        "D" => (4.05, 317.7),
        _ => return None,
    };
    // The cost is affine in the batch (a part per call, a part per image): interpolate
    // between the two published points.
    let per_image = (many - one) / 127.0;
    let fixed = one - per_image;
    let bytes = ((fixed + per_image * batch as f64) * 1e6).round();
    #[allow(
        clippy::cast_possible_truncation,
        reason = "at most 10,000 images of a few MB each: far below 2^53"
    )]
    let bytes = bytes as u64;
    Some(bytes)
}

/// The paper's Table 7 WAN time in seconds, at batch 1 and 128 only.
fn paper_wan_seconds(network: &str, batch: usize) -> Option<f64> {
    let (one, many) = match network {
        "A" => (2.43, 2.79),
        "B" => (3.93, 21.99),
        "C" => (4.08, 30.45),
        "D" => (3.06, 8.04),
        _ => return None,
    };
    match batch {
        1 => Some(one),
        128 => Some(many),
        _ => None,
    }
}

/// The floor for an inference over `link`: every round waits one latency, plus the
/// time the busiest ordered pair of parties takes to push its bytes through the
/// bandwidth. An estimate, not a bound: a schedule may overlap the two.
fn floor_seconds(link: Link, cluster: &ClusterStats) -> f64 {
    let busiest = cluster.bytes.iter().flatten().copied().max().unwrap_or(0);
    cluster.rounds as f64 * link.latency.as_secs_f64() + link.transmit_time(busiest).as_secs_f64()
}

/// One phase as one party measured it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Measured {
    /// Seconds of each timed run.
    seconds: Vec<f64>,
    /// This party's traffic during one run.
    stats: Stats,
}

/// What one party measured.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartyRun {
    role: Role,
    /// The whole inference, P2 dealing as it goes.
    all: Measured,
    /// With `--phase offline|online`: the offline phase per inference, and the online one.
    split: Option<[Measured; 2]>,
    /// This party's bytes sent once per model: the first inference's opening of the masked
    /// weights.
    model_bytes: u64,
    /// At P0: whether the private outputs and classes agree with the twin's.
    correct: Option<bool>,
}

/// One phase's figures, for the three parties.
#[derive(Debug, Serialize)]
struct PhaseSummary {
    /// The median time, at P0 (for the offline phase, at the slowest party).
    seconds: f64,
    bytes_sent: [u64; 3],
    bytes_total: u64,
    rounds: u64,
    /// With a link: `rounds × latency + bytes of the busiest link / bandwidth`, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    floor_seconds: Option<f64>,
}

impl PhaseSummary {
    fn new(runs: [&Measured; 3], timed_at: Option<usize>, link: Option<Link>) -> Self {
        let cluster = ClusterStats::from_parties(&runs.map(|m| m.stats));
        let seconds = match timed_at {
            Some(party) => median(&runs[party].seconds),
            None => runs.iter().map(|m| median(&m.seconds)).fold(0.0, f64::max),
        };
        PhaseSummary {
            seconds,
            bytes_sent: runs.map(|m| m.stats.total_sent()),
            bytes_total: cluster.total_bytes(),
            rounds: cluster.rounds,
            floor_seconds: link.map(|link| floor_seconds(link, &cluster)),
        }
    }
}

/// The JSON summary.
#[derive(Debug, Serialize)]
struct Summary {
    network: String,
    batch: usize,
    transport: TransportKind,
    /// The phase the top-level figures are of.
    phase: Phase,
    seconds: f64,
    bytes_sent: [u64; 3],
    bytes_total: u64,
    rounds: u64,
    /// Bytes sent once per model, not per inference: the masked weights, opened by the
    /// first inference.
    model_bytes: u64,
    /// The paper's figure, for networks A-D.
    #[serde(skip_serializing_if = "Option::is_none")]
    paper_bytes: Option<u64>,
    /// What was classified: MNIST's test images, or random examples.
    inputs: &'static str,
    /// The emulated link, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    link: Option<String>,
    /// With a link: `rounds × latency + bytes of the busiest link / bandwidth`, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    floor_seconds: Option<f64>,
    /// With a link, for networks A-D at batch 1 and 128: the paper's WAN time (Table 7).
    #[serde(skip_serializing_if = "Option::is_none")]
    paper_wan_seconds: Option<f64>,
    /// With `--phase offline|online`: the whole inference, the offline phase and the
    /// online phase, measured side by side.
    #[serde(skip_serializing_if = "Option::is_none")]
    phases: Option<Phases>,
    /// The peak resident memory of this process (all three parties, with
    /// `--transport local`), in MiB.
    peak_memory_mb: Option<f64>,
    correct: bool,
}

/// The three phases side by side.
#[derive(Debug, Serialize)]
struct Phases {
    all: PhaseSummary,
    offline: PhaseSummary,
    online: PhaseSummary,
}

/// What a run of `program` measures.
#[derive(Debug, Clone, Copy)]
struct Plan {
    batch: usize,
    repeat: usize,
    seed: u64,
    phase: Phase,
}

/// One party's part.
async fn program(
    session: &Session,
    spec: &NetworkSpec,
    plan: Plan,
) -> securenn_dsl::Result<PartyRun> {
    let Plan {
        batch,
        repeat,
        seed,
        phase,
    } = plan;
    let role = session.role();
    let test: Private<P0, Dataset> = Private::try_new(role, || inputs(spec, batch, seed))?;
    let weights = initial_weights(spec, seed);
    let owned = Private::<P1, _>::new(role, || weights.clone());
    let mut network =
        PrivateNetwork::share_weights(session, spec.clone(), &owned, TrainConfig::default())
            .await?;
    let indices: Vec<usize> = (0..batch).collect();
    // Shared directly, not with share_batch: the labels play no part here, and a network
    // may have more outputs than a data set classes (VGG16's 1,000).
    let input_shape = spec.input().batch(batch);
    let images = Private::<P0, _>::try_new(role, || {
        let test = test
            .get()
            .ok_or(securenn_dsl::Error::Internal("P0 holds no inputs"))?;
        Tensor::from_vec(input_shape.clone(), test.encode::<Z64>(&indices)?)
    })?;
    let images: Shared<Z64> = share(session, &images, input_shape).await?;

    // The first inference opens the masked weights, once per model: not timed.
    session.reset_stats();
    let mut predicted = network.predict::<P0>(session, &images, batch).await?;
    let first_bytes = session.stats().total_sent();
    let empty = || Measured {
        seconds: Vec::new(),
        stats: session.stats(),
    };
    let (mut all, mut offline, mut online) = (empty(), empty(), empty());
    let mut online_predicted = None;
    let split = phase != Phase::All;
    let material = if split {
        // One run more than timed: the first opens the masked weights under the
        // material's keys.
        let runs = repeat.max(1) + 1;
        let program = network.predict_program(session, batch);
        session.reset_stats();
        let start = Instant::now();
        let material = session
            .deal_offline(&program, runs as u64, async |call| {
                network.predict::<P0>(call, &images, batch).await.map(drop)
            })
            .await?;
        offline
            .seconds
            .push(start.elapsed().as_secs_f64() / runs as f64);
        offline.stats = per_run(session.stats(), runs as u64);
        // Rounds do not add up over runs: P2 sends each run's material without waiting.
        offline.stats.rounds = session.stats().rounds;
        let call = material.open(session, &program)?;
        network.predict::<P0>(&call, &images, batch).await?;
        Some((material, program))
    } else {
        None
    };
    for _ in 0..repeat.max(1) {
        session.reset_stats();
        let start = Instant::now();
        let classes = network.predict::<P0>(session, &images, batch).await?;
        all.seconds.push(start.elapsed().as_secs_f64());
        all.stats = session.stats();
        predicted = classes;
        if let Some((material, program)) = &material {
            session.reset_stats();
            let start = Instant::now();
            let call = material.open(session, program)?;
            let classes = network.predict::<P0>(&call, &images, batch).await?;
            online.seconds.push(start.elapsed().as_secs_f64());
            online.stats = session.stats();
            online_predicted = classes.into_inner();
        }
    }
    let model_bytes = first_bytes.saturating_sub(all.stats.total_sent());
    let predicted = predicted.into_inner();
    // The check, not timed: P0 learns the outputs and compares them with the twin's.
    let outputs = network.forward(session, &images, batch).await?;
    let outputs = reveal_to::<P0, _>(session, &outputs).await?.into_inner();
    let correct = match (outputs, predicted, test.get()) {
        (Some(outputs), Some(predicted), Some(test)) => {
            let mut twin = Twin::<Z64>::new(spec.clone(), &weights, TrainConfig::default(), seed)?;
            let expected = twin.forward(&test.encode(&indices)?, batch)?;
            let close = outputs
                .data()
                .iter()
                .zip(&expected)
                .all(|(a, b)| (a.decode() - b.decode()).abs() <= 0.01);
            let classes = spec.output().len();
            let consistent = |predicted: &[usize]| {
                outputs
                    .data()
                    .chunks_exact(classes)
                    .zip(predicted)
                    .all(|(row, &p)| {
                        row.get(p).is_some_and(|best| {
                            row.iter()
                                .all(|v| (v.value() as i64) <= (best.value() as i64))
                        })
                    })
            };
            let online_agrees = online_predicted.as_deref().is_none_or(consistent);
            Some(close && consistent(&predicted) && online_agrees)
        }
        _ => None,
    };
    Ok(PartyRun {
        role,
        all,
        split: split.then_some([offline, online]),
        model_bytes,
        correct,
    })
}

/// `stats` of `runs` runs, per run.
fn per_run(stats: Stats, runs: u64) -> Stats {
    let runs = runs.max(1);
    Stats {
        bytes_sent: stats.bytes_sent.map(|b| b / runs),
        bytes_received: stats.bytes_received.map(|b| b / runs),
        messages_sent: stats.messages_sent.map(|m| m / runs),
        messages_received: stats.messages_received.map(|m| m / runs),
        ..stats
    }
}

/// Whether the network takes MNIST's images.
fn takes_mnist(spec: &NetworkSpec) -> bool {
    securenn_dsl::nn::mnist::check_network(spec).is_ok()
}

/// The examples to classify: MNIST's test images if the network takes them, else `batch`
/// random bytes-valued examples of the network's input shape from the public `seed`.
fn inputs(spec: &NetworkSpec, batch: usize, seed: u64) -> securenn_dsl::Result<Dataset> {
    if takes_mnist(spec) {
        return Ok(Mnist::load(Mnist::default_dir())?.test);
    }
    // SplitMix64: public, reproducible, and independent of every key.
    let mut state = seed ^ 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    };
    let shape = spec.input();
    // The labels are not used: any class count a data set may have.
    let classes = spec.output().len().min(securenn_dsl::nn::data::MAX_CLASSES);
    let bytes = (0..batch * shape.len())
        .map(|_| next().to_le_bytes()[0])
        .collect();
    let labels = (0..batch)
        .map(|_| u8::try_from(next() % classes as u64).unwrap_or(0))
        .collect();
    Dataset::from_bytes(bytes, labels, shape, classes)
        .map_err(|problem| securenn_dsl::Error::data("random inputs", problem))
}

/// One phase's figures on one line.
fn describe(phase: &PhaseSummary) -> String {
    let floor = phase
        .floor_seconds
        .map(|floor| format!(" (floor {floor:.3} s)"))
        .unwrap_or_default();
    format!(
        "{:.2} ms{floor}, {:.2} MB, {} rounds",
        phase.seconds * 1e3,
        phase.bytes_total as f64 / 1e6,
        phase.rounds
    )
}

fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted.get(sorted.len() / 2).copied().unwrap_or(0.0)
}

/// The session settings of a run over `link`, if any, with P0's and P1's offline draws or
/// not.
fn session_config(link: Option<Link>, offline_draws: bool) -> SessionConfig {
    let defaults = SessionConfig::default();
    SessionConfig {
        net: NetConfig {
            link,
            ..defaults.net
        },
        offline_draws,
        ..defaults
    }
}

/// Runs `securenn bench network`.
pub(crate) fn run(args: &NetworkArgs) -> Result<bool, CliError> {
    let spec = NetworkSpec::resolve(&args.name)?;
    if args.batch == 0 || args.batch > 10_000 {
        return Err("--batch must be between 1 and 10,000 (the test images)".into());
    }
    if args.draws && args.phase == Phase::All {
        return Err("--draws is for the offline phase: add --phase online or offline".into());
    }

    let plan = Plan {
        batch: args.batch,
        repeat: args.repeat,
        seed: args.seed,
        phase: args.phase,
    };
    let (batch, repeat, seed) = (args.batch, args.repeat, args.seed);
    if let Some(party) = args.child.party {
        let run = run_child(
            &args.child,
            party,
            false,
            session_config(args.link, args.draws),
            async |session| Ok(program(&session, &spec, plan).await?),
        )?;
        return Ok(run.correct.unwrap_or(true));
    }
    if args.transport == TransportKind::Local && takes_mnist(&spec) {
        // Load once here, so that a missing data set is a clear error before any party
        // starts.
        Mnist::load(Mnist::default_dir())?;
    }
    let runs: [PartyRun; 3] = match args.transport {
        TransportKind::Local => {
            run_local_with(&session_config(args.link, args.draws), |session| {
                let spec = &spec;
                async move { program(&session, spec, plan).await }
            })?
        }
        TransportKind::Tcp => {
            let mut forwarded = vec![
                "bench".to_owned(),
                "network".to_owned(),
                args.name.clone(),
                "--batch".to_owned(),
                batch.to_string(),
                "--repeat".to_owned(),
                repeat.to_string(),
                "--seed".to_owned(),
                seed.to_string(),
                "--phase".to_owned(),
                format!("{:?}", args.phase).to_lowercase(),
            ];
            if let Some(link) = args.link {
                forwarded.extend(["--link".to_owned(), link.to_string()]);
            }
            if args.draws {
                forwarded.push("--draws".to_owned());
            }
            run_three_processes(&forwarded, false)?
        }
    };
    let all = PhaseSummary::new(
        [&runs[0].all, &runs[1].all, &runs[2].all],
        Some(0),
        args.link,
    );
    let phases = match (&runs[0].split, &runs[1].split, &runs[2].split) {
        (Some([off0, on0]), Some([off1, on1]), Some([off2, on2])) => Some(Phases {
            all: PhaseSummary::new(
                [&runs[0].all, &runs[1].all, &runs[2].all],
                Some(0),
                args.link,
            ),
            offline: PhaseSummary::new([off0, off1, off2], None, args.link),
            online: PhaseSummary::new([on0, on1, on2], Some(0), args.link),
        }),
        _ => None,
    };
    let shown = match (&phases, args.phase) {
        (Some(phases), Phase::Offline) => &phases.offline,
        (Some(phases), Phase::Online) => &phases.online,
        _ => &all,
    };
    let correct = runs[0].correct.unwrap_or(false);
    let summary = Summary {
        network: spec.name().to_owned(),
        batch,
        transport: args.transport,
        phase: args.phase,
        seconds: shown.seconds,
        bytes_sent: shown.bytes_sent,
        bytes_total: shown.bytes_total,
        rounds: shown.rounds,
        model_bytes: runs.iter().map(|r| r.model_bytes).sum(),
        paper_bytes: paper_bytes(spec.name(), batch),
        inputs: if takes_mnist(&spec) {
            "MNIST"
        } else {
            "random"
        },
        link: args.link.map(|link| link.to_string()),
        floor_seconds: shown.floor_seconds,
        paper_wan_seconds: args
            .link
            .and_then(|_| paper_wan_seconds(spec.name(), batch)),
        phases,
        peak_memory_mb: crate::memory::peak_resident_mb(),
        correct,
    };
    #[allow(clippy::print_stdout, reason = "the command's output")]
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        let paper = summary
            .paper_bytes
            .map(|bytes| format!(" (paper {:.2} MB)", bytes as f64 / 1e6))
            .unwrap_or_default();
        let memory = summary
            .peak_memory_mb
            .map(|mb| format!(", peak memory {mb:.0} MiB"))
            .unwrap_or_default();
        let wan = match &summary.link {
            Some(link) => {
                let paper = summary
                    .paper_wan_seconds
                    .map(|s| format!(", paper {s:.2} s"))
                    .unwrap_or_default();
                format!(" over {link}{paper}")
            }
            None => String::new(),
        };
        println!(
            "network {} batch {} ({} inputs){wan}, median of {}; the weights' masks cost {:.2} MB once per model{memory}; {}",
            summary.network,
            batch,
            summary.inputs,
            repeat.max(1),
            summary.model_bytes as f64 / 1e6,
            if correct {
                "outputs agree with the plaintext twin"
            } else {
                "OUTPUTS DIFFER FROM THE TWIN"
            }
        );
        match &summary.phases {
            Some(phases) => {
                println!("  whole inference: {}{paper}", describe(&phases.all));
                println!("  offline phase:   {}", describe(&phases.offline));
                println!("  online phase:    {}", describe(&phases.online));
            }
            None => println!("  whole inference: {}{paper}", describe(&all)),
        }
    }
    Ok(correct)
}
