//! `securenn bench protocol NAME`: calls of one protocol on random inputs, timed, counted
//! by the session counters, and checked against the plaintext.
//!
//! Inputs come from a public seed, so every party knows the plaintext a run should give and
//! P0 (P2 for PrivateCompare, whose output only P2 learns) checks the revealed result.
//! Sharing the inputs and revealing the result are not timed or counted: only the protocol
//! call is, as in the paper's Table 8.

use std::time::Instant;

use clap::ValueEnum;
use securenn_dsl::cluster::LocalCluster;
use securenn_dsl::dsl::{reveal_to, share};
use securenn_dsl::net::CallId;
use securenn_dsl::net::{ClusterStats, Stats};
use securenn_dsl::party::{Common, P0, P1, Private, Role};
use securenn_dsl::protocol::cost;
use securenn_dsl::protocol::{
    Pool2d, compute_msb, conv2d, division, dmaxpool, drelu, matmul, maxpool, private_compare, relu,
    select_share, share_convert, truncate,
};
use securenn_dsl::ring::bits::decompose;
use securenn_dsl::ring::{Ring, Z2, Z64, ZOdd, Zp};
use securenn_dsl::session::{Session, SessionConfig};
use securenn_dsl::share::Shared;
use securenn_dsl::tensor::{Conv2dGeometry, Shape, Tensor, im2col, matmul_into};
use serde::{Deserialize, Serialize};
use typenum::{U0, U13, U26};

use crate::processes::{ChildArgs, CliError, TransportKind, run_child, run_three_processes};

mod cases;
mod support;

use support::*;

/// `securenn bench ...`.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum BenchCommand {
    /// Time, count and check calls of one SecureNN protocol.
    Protocol(ProtocolArgs),
    /// One private inference of a batch of MNIST images by network A, B, C or D (Table 7),
    /// or by a network file.
    Network(crate::bench_network::NetworkArgs),
    /// Private predictions served to concurrent clients over TLS: throughput, latency and
    /// bytes per query, every answer checked against the twin.
    Serve(crate::bench_serve::ServeArgs),
}

/// The protocols `securenn bench protocol` runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[value(rename_all = "snake_case")]
pub(crate) enum ProtocolName {
    /// MatMul (Alg. 1), dims m,n,v.
    Matmul,
    /// Conv2d as im2col + MatMul, dims m,f,i,o.
    Conv,
    /// Local truncation (Alg. 11).
    Truncate,
    /// SelectShare (Alg. 2).
    SelectShare,
    /// PrivateCompare (Alg. 3).
    PrivateCompare,
    /// ShareConvert (Alg. 4).
    ShareConvert,
    /// ComputeMSB (Alg. 5).
    ComputeMsb,
    /// DReLU (Alg. 6).
    Drelu,
    /// ReLU (Alg. 7).
    Relu,
    /// Division (Alg. 8).
    Division,
    /// Maxpool (Alg. 9), dims H,W,C,K.
    Maxpool,
    /// DMaxpool (Alg. 10), dims H,W,C,K.
    Dmaxpool,
}

/// Arguments of `securenn bench protocol`.
#[derive(Debug, clap::Args)]
pub(crate) struct ProtocolArgs {
    /// The protocol.
    #[arg(value_enum)]
    name: ProtocolName,
    /// Elements of the input (matmul, conv, maxpool and dmaxpool take --dims instead).
    #[arg(long, default_value_t = 16_384)]
    size: usize,
    /// Shapes as in the paper's Table 8: matmul m,n,v (default 784,128,10); conv m,f,i,o
    /// (28,5,1,20: m×m×i input, f×f filters, o output channels); maxpool and dmaxpool
    /// H,W,C,K (24,24,20,2: an H×W×C input, K×K windows).
    #[arg(long, value_delimiter = ',')]
    dims: Vec<usize>,
    /// Where the parties run: three threads (`local`) or three processes over TCP (`tcp`).
    #[arg(long, value_enum, default_value_t = TransportKind::Local)]
    transport: TransportKind,
    /// Calls to time; the median is reported.
    #[arg(long, default_value_t = 1)]
    repeat: usize,
    /// Untimed calls first, for this long: this machine's CPUs take tens of milliseconds
    /// to reach full speed after idling, which would otherwise inflate the first calls.
    #[arg(long, default_value_t = 300)]
    warmup_ms: u64,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
    /// Also print every timed call's time, overall and at each party.
    #[arg(long)]
    per_call: bool,
    /// Seed of the public random inputs.
    #[arg(long, default_value_t = 1)]
    data_seed: u64,
    #[command(flatten)]
    child: ChildArgs,
}

/// What to run: the protocol, its shapes and the input seed.
#[derive(Debug, Clone)]
struct Workload {
    name: ProtocolName,
    /// Elements of the main input.
    size: usize,
    dims: Vec<usize>,
    seed: u64,
    /// Calls to time.
    repeat: usize,
    /// How long to run untimed calls first.
    warmup: std::time::Duration,
}

impl Workload {
    fn new(args: &ProtocolArgs) -> Result<Workload, CliError> {
        let (default, expected): (&[usize], &str) = match args.name {
            ProtocolName::Matmul => (&[784, 128, 10], "m,n,v"),
            ProtocolName::Conv => (&[28, 5, 1, 20], "m,f,i,o"),
            ProtocolName::Maxpool | ProtocolName::Dmaxpool => (&[24, 24, 20, 2], "H,W,C,K"),
            _ => (&[], ""),
        };
        let dims = if args.dims.is_empty() {
            default.to_vec()
        } else {
            args.dims.clone()
        };
        if dims.len() != default.len() || dims.contains(&0) {
            return Err(format!(
                "--dims for {:?} must be {expected} (positive), got {:?}",
                args.name, args.dims
            )
            .into());
        }
        if dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .is_none_or(|n| n > 1 << 32)
        {
            return Err("--dims describe more than 2^32 elements".into());
        }
        let size = match args.name {
            ProtocolName::Matmul => dims[0] * dims[1],
            ProtocolName::Conv => dims[0] * dims[0] * dims[2],
            ProtocolName::Maxpool | ProtocolName::Dmaxpool => {
                if dims[0] % dims[3] != 0 || dims[1] % dims[3] != 0 {
                    return Err("--dims H,W,C,K: H and W must be multiples of K".into());
                }
                dims[0] * dims[1] * dims[2]
            }
            _ if args.size == 0 => return Err("--size must be positive".into()),
            _ => args.size,
        };
        Ok(Workload {
            name: args.name,
            size,
            dims,
            seed: args.data_seed,
            repeat: args.repeat.max(1),
            warmup: std::time::Duration::from_millis(args.warmup_ms),
        })
    }

    /// The paper's communication for this call, in bytes (Table 1/2, log p = 8), from
    /// [`protocol::cost`](securenn_dsl::protocol::cost).
    fn paper_bytes(&self) -> u64 {
        let n = self.size as u64;
        let d: Vec<u64> = self.dims.iter().map(|&d| d as u64).collect();
        let costs = match self.name {
            ProtocolName::Matmul => cost::matmul(d[0], d[1], d[2]),
            ProtocolName::Conv => cost::conv2d(d[0], d[1], d[2], d[3]),
            ProtocolName::Truncate => cost::truncate(),
            ProtocolName::SelectShare => cost::select_share(n),
            ProtocolName::PrivateCompare => cost::private_compare(n),
            ProtocolName::ShareConvert => cost::share_convert(n),
            ProtocolName::ComputeMsb => cost::compute_msb(n),
            ProtocolName::Drelu => cost::drelu(n),
            ProtocolName::Relu => cost::relu(n),
            ProtocolName::Division => cost::division(n),
            ProtocolName::Maxpool => cost::maxpool(self.windows(), d[3]),
            ProtocolName::Dmaxpool => cost::dmaxpool(self.windows(), d[3] * d[3]),
        };
        costs.paper.bytes
    }

    fn windows(&self) -> u64 {
        let d = &self.dims;
        ((d[0] / d[3]) * (d[1] / d[3]) * d[2]) as u64
    }
}

/// One party's measurements.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PartyRun {
    /// Seconds of each timed call at this party.
    seconds: Vec<f64>,
    /// Traffic of the last call.
    stats: Stats,
    /// Whether the result matched the plaintext, at the party that checked it.
    correct: Option<bool>,
}

/// Runs `securenn bench protocol`; `Ok(true)` if the result was correct.
pub(crate) fn run(command: &BenchCommand) -> Result<bool, CliError> {
    let args = match command {
        BenchCommand::Protocol(args) => args,
        BenchCommand::Network(args) => return crate::bench_network::run(args),
        BenchCommand::Serve(args) => return crate::bench_serve::run(args),
    };
    let workload = Workload::new(args)?;
    if let Some(party) = args.child.party {
        let run = run_child(
            &args.child,
            party,
            false,
            SessionConfig::default(),
            async |session| Ok(run_workload(&session, &workload).await?),
        )?;
        return Ok(run.correct.unwrap_or(true));
    }
    let runs: [PartyRun; 3] = match args.transport {
        TransportKind::Local => {
            let cluster = LocalCluster::start(&SessionConfig::default())?;
            let job = workload.clone();
            cluster.run(async move |session| run_workload(session, &job).await)?
        }
        TransportKind::Tcp => {
            let mut child_args = vec![
                "bench".to_owned(),
                "protocol".to_owned(),
                protocol_name(workload.name),
                "--size".to_owned(),
                args.size.to_string(),
                "--repeat".to_owned(),
                workload.repeat.to_string(),
                "--warmup-ms".to_owned(),
                args.warmup_ms.to_string(),
                "--data-seed".to_owned(),
                args.data_seed.to_string(),
            ];
            if !args.dims.is_empty() {
                child_args.push("--dims".to_owned());
                child_args.push(
                    args.dims
                        .iter()
                        .map(ToString::to_string)
                        .collect::<Vec<_>>()
                        .join(","),
                );
            }
            run_three_processes(&child_args, false)?
        }
    };
    Ok(print_summary(args, &workload, &runs))
}

/// The protocol's name as the command line spells it.
fn protocol_name(name: ProtocolName) -> String {
    name.to_possible_value()
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

/// The median over calls of the slowest party's time.
fn median_seconds(runs: &[PartyRun; 3]) -> (f64, f64, f64) {
    let calls = runs.iter().map(|r| r.seconds.len()).min().unwrap_or(0);
    let mut per_call: Vec<f64> = (0..calls)
        .map(|i| runs.iter().map(|r| r.seconds[i]).fold(0.0, f64::max))
        .collect();
    per_call.sort_by(f64::total_cmp);
    let median = per_call.get(per_call.len() / 2).copied().unwrap_or(0.0);
    (
        median,
        per_call.first().copied().unwrap_or(0.0),
        per_call.last().copied().unwrap_or(0.0),
    )
}

#[allow(
    clippy::print_stdout,
    reason = "a command-line tool prints its results"
)]
fn print_summary(args: &ProtocolArgs, workload: &Workload, runs: &[PartyRun; 3]) -> bool {
    let cluster = ClusterStats::from_parties(&runs.each_ref().map(|r| r.stats));
    let correct = runs.iter().filter_map(|r| r.correct).all(|c| c)
        && runs.iter().any(|r| r.correct.is_some());
    let (median, min, max) = median_seconds(runs);
    let name = protocol_name(workload.name);
    let transport = match args.transport {
        TransportKind::Local => "local",
        TransportKind::Tcp => "tcp",
    };
    let calls = runs[0].seconds.len();
    println!(
        "securenn bench protocol {name}: {} elements, dims {:?}, transport {transport}",
        workload.size, workload.dims
    );
    println!(
        "  time per call: median {:.3} ms over {calls} calls (min {:.3}, max {:.3})",
        median * 1e3,
        min * 1e3,
        max * 1e3
    );
    if args.per_call {
        let per_call: Vec<String> = (0..calls)
            .map(|i| {
                format!(
                    "{:.2}",
                    runs.iter().map(|r| r.seconds[i]).fold(0.0, f64::max) * 1e3
                )
            })
            .collect();
        println!("  per call (ms): {}", per_call.join(" "));
        for (role, run) in Role::ALL.iter().zip(runs) {
            let times: Vec<String> = run
                .seconds
                .iter()
                .map(|s| format!("{:.2}", s * 1e3))
                .collect();
            println!("  {role} (ms): {}", times.join(" "));
        }
    }
    for role in Role::ALL {
        println!("  {role} sent {:>12} bytes", cluster.sent_by(role));
    }
    println!(
        "  total {} bytes (paper {}), {} rounds",
        cluster.total_bytes(),
        workload.paper_bytes(),
        cluster.rounds
    );
    println!(
        "  result {}",
        if correct {
            "matches the plaintext"
        } else {
            "DIFFERS from the plaintext"
        }
    );
    if args.json {
        let summary = serde_json::json!({
            "protocol": name,
            "size": workload.size,
            "transport": transport,
            "seconds": median,
            "bytes_sent": Role::ALL.map(|r| cluster.sent_by(r)),
            "bytes_total": cluster.total_bytes(),
            "rounds": cluster.rounds,
            "paper_bytes": workload.paper_bytes(),
            "correct": correct,
        });
        println!("{summary}");
    }
    correct
}

/// What a case gives back: whether the result was right (at the party that checked),
/// the time of each timed call, and the traffic of the last.
type Outcome = (Option<bool>, Vec<f64>, Stats);

/// One party's part of the benchmark: the protocol's case.
async fn run_workload(session: &Session, w: &Workload) -> securenn_dsl::Result<PartyRun> {
    let (correct, seconds, stats) = match w.name {
        ProtocolName::Matmul => cases::product(session, w).await?,
        ProtocolName::Conv => cases::convolution(session, w).await?,
        ProtocolName::Truncate => cases::truncation(session, w).await?,
        ProtocolName::SelectShare => cases::select(session, w).await?,
        ProtocolName::PrivateCompare => cases::compare(session, w).await?,
        ProtocolName::ShareConvert => cases::convert(session, w).await?,
        ProtocolName::ComputeMsb => cases::msb(session, w).await?,
        ProtocolName::Drelu => cases::derivative(session, w).await?,
        ProtocolName::Relu => cases::rectifier(session, w).await?,
        ProtocolName::Division => cases::quotient(session, w).await?,
        ProtocolName::Maxpool | ProtocolName::Dmaxpool => cases::pooling(session, w).await?,
    };
    Ok(PartyRun {
        seconds,
        stats,
        correct,
    })
}
