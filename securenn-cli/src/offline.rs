//! `securenn offline`: the offline phase of private inference, ahead of the inputs. P2
//! deals, for `--count` inferences of a network at a batch size, everything that does not
//! depend on the inputs (Beaver triples' shares, ComputeMSB's dealt values), and each
//! party writes its material to `DIR/party{0,1,2}.material`; `securenn infer --material
//! DIR` then runs the online phase on it, one run per batch, never twice.

use std::path::{Path, PathBuf};
use std::time::Instant;

use securenn_dsl::net::{ClusterStats, Stats};
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::TrainConfig;
use securenn_dsl::nn::private::{PrivateNetwork, predict_program};
use securenn_dsl::party::{P0, Role};
use securenn_dsl::ring::Z64;
use securenn_dsl::session::{Job, Session, SessionConfig, run_local_with};
use securenn_dsl::share::Shared;
use serde::{Deserialize, Serialize};

use crate::processes::{
    ChildArgs, CliError, PartyOptions, TransportKind, run_child, run_three_processes,
};

/// The most runs one dealing may hold.
const MAX_COUNT: u64 = 1_000_000;

/// Arguments of `securenn offline`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// The network: A, B, C or D (the paper's), or a network file (`.toml`).
    #[arg(long, default_value = "C")]
    network: String,
    /// Images per inference: the batch `securenn infer --batch` will use.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// How many inferences (batches) to deal for.
    #[arg(long, default_value_t = 1)]
    count: u64,
    /// Where each party writes its material (`party0.material`, ...).
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Where the parties run: three threads here, or three processes on 127.0.0.1 that
    /// talk TLS.
    #[arg(long, value_enum, default_value_t = TransportKind::Local)]
    transport: TransportKind,
    /// P0 and P1 also draw what they would draw online from their keys (each comparison's
    /// multipliers and zero masks, P0's shares of the bits P2 deals): the online phase is
    /// faster, and the material about seven times larger (P0's and P1's files together
    /// against P1's alone).
    #[arg(long)]
    draws: bool,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: PartyOptions,
    #[command(flatten)]
    child: ChildArgs,
}

/// Party `role`'s material file in `dir`.
pub(crate) fn material_file(dir: &Path, role: Role) -> PathBuf {
    dir.join(format!("party{}.material", role.index()))
}

/// What one party did.
#[derive(Debug, Serialize, Deserialize)]
struct PartyReport {
    seconds: f64,
    stats: Stats,
    /// The material file's size.
    file_bytes: u64,
    id: String,
    program: String,
}

/// The JSON summary.
#[derive(Debug, Serialize)]
struct Summary {
    network: String,
    batch: usize,
    count: u64,
    /// The dealing's identity, the same in the three files.
    id: String,
    /// What the material is for, as `securenn infer` must run it.
    program: String,
    seconds: f64,
    /// Bytes sent during the dealing, by the three parties.
    bytes_total: u64,
    /// Bytes sent per inference dealt.
    bytes_per_inference: u64,
    /// The size of each party's file.
    file_bytes: [u64; 3],
    files: [PathBuf; 3],
}

fn job(args: &Args, spec: &NetworkSpec) -> Job {
    Job::new()
        .with("command", "offline")
        .with("network", spec.name())
        .with("architecture", spec.digest())
        .with("batch", args.batch)
        .with("count", args.count)
        .with("offline draws", args.draws)
}

/// One party's side: P2 runs the prediction program in its recording phase, once per run;
/// every party writes its material.
async fn offline_party(
    session: &Session,
    args: &Args,
    spec: &NetworkSpec,
) -> securenn_dsl::Result<PartyReport> {
    let role = session.role();
    let batch = args.batch;
    // The network the parties will load has taken no training step in that process.
    let program = predict_program(spec, 0, session, batch);
    // Only P2 runs the program, and it holds no shares: the network's shapes are all it
    // needs.
    let mut helper = match role {
        Role::P2 => Some(PrivateNetwork::from_shares(
            role,
            spec.clone(),
            None,
            TrainConfig::default(),
        )?),
        _ => None,
    };
    // P2's input: no share, of the batch's shape.
    let input: Shared<Z64> = Shared::from_share(Role::P2, spec.input().batch(batch), Vec::new())?;
    std::fs::create_dir_all(&args.out).map_err(|e| securenn_dsl::Error::Io {
        path: args.out.clone(),
        source: std::sync::Arc::new(e),
    })?;
    let path = material_file(&args.out, role);
    let started = Instant::now();
    session.reset_stats();
    // Written run by run: memory holds one run, however many are dealt.
    let material = session
        .deal_offline_into(&path, &program, args.count, async |call| {
            match helper.as_mut() {
                Some(network) => network.predict::<P0>(call, &input, batch).await.map(drop),
                None => Ok(()),
            }
        })
        .await?;
    let stats = session.stats();
    let file_bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(PartyReport {
        seconds: started.elapsed().as_secs_f64(),
        stats,
        file_bytes,
        id: material.id(),
        program,
    })
}

/// Runs `securenn offline`.
pub(crate) fn run(args: &Args) -> Result<bool, CliError> {
    let spec = NetworkSpec::resolve(&args.network)?;
    if args.batch == 0 || args.batch > 10_000 {
        return Err("--batch must be between 1 and 10,000".into());
    }
    if args.count == 0 || args.count > MAX_COUNT {
        return Err(format!("--count must be between 1 and {MAX_COUNT}").into());
    }
    let config = SessionConfig {
        offline_draws: args.draws,
        ..args.options.config(job(args, &spec))
    };
    if let Some(party) = args.child.party {
        run_child(
            &args.child,
            party,
            args.options.insecure,
            config,
            async |session| Ok(offline_party(&session, args, &spec).await?),
        )?;
        return Ok(true);
    }
    if !args.json {
        say!(
            "dealing offline material for {} inferences of network {} at batch {}",
            args.count,
            spec.name(),
            args.batch
        );
    }
    let reports: [PartyReport; 3] = match args.transport {
        TransportKind::Local => run_local_with(&config, |session| {
            let spec = &spec;
            async move { offline_party(&session, args, spec).await }
        })?,
        TransportKind::Tcp => {
            let forwarded: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
            run_three_processes(&forwarded, args.options.insecure)?
        }
    };
    let cluster =
        ClusterStats::from_parties(&[reports[0].stats, reports[1].stats, reports[2].stats]);
    let summary = Summary {
        network: spec.name().to_owned(),
        batch: args.batch,
        count: args.count,
        id: reports[2].id.clone(),
        program: reports[2].program.clone(),
        seconds: reports.iter().map(|r| r.seconds).fold(0.0, f64::max),
        bytes_total: cluster.total_bytes(),
        bytes_per_inference: cluster.total_bytes() / args.count,
        file_bytes: [0, 1, 2].map(|i| reports[i].file_bytes),
        files: Role::ALL.map(|role| material_file(&args.out, role)),
    };
    #[allow(clippy::print_stdout, reason = "the command's output")]
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "dealt {} runs of {} in {:.2} s: {:.2} MB sent per inference; material per inference: P0 {:.2} MB, P1 {:.2} MB ({})",
            summary.count,
            summary.program,
            summary.seconds,
            summary.bytes_per_inference as f64 / 1e6,
            summary.file_bytes[0] as f64 / 1e6 / summary.count as f64,
            summary.file_bytes[1] as f64 / 1e6 / summary.count as f64,
            summary
                .files
                .iter()
                .map(|f| f.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(true)
}
