//! `securenn train`: private training of a network (one of the paper's, or one from a
//! network file) on MNIST or the user's data, then private evaluation on the test set.
//!
//! P0 owns the data and secret-shares each batch; P1 owns the initial weights; P2 helps.
//! P0 learns the running loss and the test accuracy, nothing else, unless `--reveal-to`
//! names a party to receive the trained model. With `--plaintext` the plaintext twin trains
//! instead, in the clear: the reference models that private inference is checked against.
//!
//! With `--checkpoint-every N`, P0 and P1 write their shares (and momentum buffers) to
//! `DIR/checkpoints/` every N steps, atomically, keeping the two latest; `--resume DIR`
//! goes on from the latest step both hold. Each step's randomness depends on its number
//! alone, so with the same keys a resumed run ends with exactly the weights of an
//! uninterrupted one.
//!
//! The command's parts: the arguments, the job and the run (here), one party's training
//! (`party`), checkpoints and resuming (`resume`), what is printed at the end (`report`)
//! and the plaintext twin's run (`plaintext`).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use securenn_dsl::net::{ClusterStats, Stats};
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::checkpoint::{Checkpoints, latest_common};
use securenn_dsl::nn::config::{LayerWeights, Loss, TrainConfig, initial_weights};
use securenn_dsl::nn::costs::LayerCost;
use securenn_dsl::nn::data::Splits;
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::train::{
    Start, TrainSettings, evaluate, shared_model_id, train, train_plaintext, twin_predictions,
};
use securenn_dsl::nn::weights::{ShareInfo, load_model, save_model, save_shares};
use securenn_dsl::party::{P0, P1, Private, Role};
use securenn_dsl::ring::Z64;
use securenn_dsl::session::{Job, Session, run_local_with};
use serde::{Deserialize, Serialize};

use crate::data::{DataArgs, Sizes, examples_noun};
use crate::memory::{peak_resident_mb, resident_mb};
use crate::plot::{CurvePoint, LayerBar, write_cost_chart, write_training_curve};
use crate::processes::{
    ChildArgs, CliError, PartyOptions, TransportKind, run_child, run_three_processes,
};
use crate::progress::StepProgress;

mod party;
mod plaintext;
mod report;
mod resume;

use party::*;
use plaintext::*;
use report::*;
use resume::*;

/// Test images evaluated at the end of every epoch, for the progress report.
const EPOCH_TEST_IMAGES: usize = 1000;

/// The file each party's shares are saved to in the `--save` directory.
pub(crate) fn shares_file(role: Role) -> String {
    format!("party{}.safetensors", role.index())
}

/// The file a revealed (or plaintext-trained) model is saved to in the `--save` directory.
pub(crate) const MODEL_FILE: &str = "model.safetensors";

/// The loss to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LossName {
    /// The squared hinge: no division, trains network A to 97% in 5 epochs.
    Hinge,
    /// The paper's softmax substitute, ReLU then Division (for fidelity).
    Asm,
}

/// A party that may receive a revealed model.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Receiver {
    /// The data owner.
    #[value(name = "P0", alias = "p0")]
    P0,
    /// The model owner.
    #[value(name = "P1", alias = "p1")]
    P1,
}

/// Arguments of `securenn train`.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct Args {
    /// The network: A, B, C or D (the paper's), or a network file (`.toml`).
    #[arg(long, default_value = "A")]
    network: String,
    /// Passes over the training set (MNIST's 60,000 images, or the data file's training rows).
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Examples per step: a power of two.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Learning rate: a power of two (folded into the truncation).
    #[arg(long, default_value_t = 0.125)]
    lr: f64,
    /// Halve the learning rate after every N epochs (a step schedule; default: constant)
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
    lr_halving_epochs: Option<u64>,
    /// Momentum: 0 (plain SGD) or 1 − 2^−k (0.5, 0.75, 0.875, ...).
    #[arg(long, default_value_t = 0.875)]
    momentum: f64,
    /// The loss.
    #[arg(long, value_enum, default_value_t = LossName::Hinge)]
    loss: LossName,
    /// Stop after this many steps.
    #[arg(long)]
    iterations: Option<usize>,
    /// Test examples to evaluate on afterwards, at most the test set (0 to skip).
    #[arg(long, default_value_t = 10_000)]
    test_images: usize,
    /// Where the parties run: three threads here, or three processes on 127.0.0.1 that
    /// talk TLS.
    #[arg(long, value_enum, default_value_t = TransportKind::Local)]
    transport: TransportKind,
    /// Train the plaintext twin in 13-bit fixed point instead, in the clear (no parties).
    #[arg(long, conflicts_with = "transport")]
    plaintext: bool,
    /// Save into this directory: each party's shares (`party0.safetensors`,
    /// `party1.safetensors`), or the model (`model.safetensors`) with `--plaintext`.
    #[arg(long, value_name = "DIR")]
    save: Option<PathBuf>,
    /// Reveal the trained model to this party, which saves it as `model.safetensors` in the
    /// `--save` (or `--resume`) directory.
    #[arg(long, value_enum)]
    reveal_to: Option<Receiver>,
    /// Draw the training curve (loss and accuracy per step) as SVG to this file.
    #[arg(long, value_name = "FILE")]
    plot: Option<PathBuf>,
    /// Draw the cost of one training step per layer (megabytes and milliseconds, forward
    /// and backward) as SVG to this file.
    #[arg(long, value_name = "FILE")]
    cost_chart: Option<PathBuf>,
    /// Start from this model (`.safetensors`, owned by P1) instead of fresh weights: to
    /// train on, e.g. with a smaller learning rate.
    #[arg(long, value_name = "FILE")]
    init: Option<PathBuf>,
    /// Write each party's shares to `DIR/checkpoints/` every N steps (DIR from `--save` or
    /// `--resume`), atomically; the two latest are kept.
    #[arg(long, value_name = "N")]
    checkpoint_every: Option<usize>,
    /// Go on from the latest checkpoint that P0 and P1 both hold in `DIR/checkpoints/`, with
    /// the options of the interrupted run; saves into DIR too unless `--save` says otherwise.
    #[arg(long, value_name = "DIR", conflicts_with_all = ["init", "plaintext"])]
    resume: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
    /// Seed of the order of the examples (public), and with `--plaintext` of the initial
    /// weights. In private training P1 draws the initial weights from its own randomness,
    /// so that no other party knows them.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
    #[command(flatten)]
    options: PartyOptions,
    #[command(flatten)]
    child: ChildArgs,
}

/// Memory is sampled every this many steps.
const MEMORY_EVERY: usize = 100;

impl Args {
    /// The options every party takes.
    pub(crate) fn options(&self) -> &PartyOptions {
        &self.options
    }

    /// Where shares, checkpoints and the revealed model go.
    fn save_dir(&self) -> Option<&Path> {
        self.save.as_deref().or(self.resume.as_deref())
    }

    /// The job the parties must agree on; the checkpoints of the parties in `holders` are
    /// stated too when resuming (each party states its own; in one process, both).
    pub(crate) fn job(
        &self,
        settings: &TrainSettings,
        sizes: Sizes,
        holders: &[Role],
    ) -> Result<Job, CliError> {
        let mut job = Job::new()
            .with("command", "train")
            .with("network", settings.spec.name())
            .with("architecture", settings.spec.digest())
            .with("batch", settings.config.batch())
            .with("learning rate", self.lr)
            .with(
                "learning rate halved every",
                self.lr_halving_epochs
                    .map_or("never".to_owned(), |k| format!("{k} epochs")),
            )
            .with("momentum", self.momentum)
            .with("loss", format!("{:?}", self.loss))
            .with("steps", settings.iterations())
            .with("data", sizes.to_string())
            .with("seed", self.seed)
            .with("test images", self.test_images)
            .with(
                "reveal to",
                self.reveal_to
                    .map_or("nobody".to_owned(), |r| format!("{r:?}")),
            )
            .with("resume", self.resume.is_some());
        let holders = holders.iter().filter(|r| !r.is_helper());
        if let (None, Some(_), Some(dir)) = (&self.resume, self.checkpoint_every, self.save_dir()) {
            for &role in holders.clone() {
                if !Checkpoints::in_dir(dir).list(role)?.is_empty() {
                    return Err(format!(
                        "{}: holds {role}'s checkpoints of an earlier run; resume it with --resume, or save elsewhere",
                        Checkpoints::in_dir(dir).folder().display()
                    )
                    .into());
                }
            }
        }
        if let Some(dir) = &self.resume {
            for &role in holders {
                let held = Checkpoints::in_dir(dir).list(role)?;
                if held.is_empty() {
                    return Err(format!(
                        "{}: {role} holds no checkpoint to resume from",
                        Checkpoints::in_dir(dir).folder().display()
                    )
                    .into());
                }
                if held.iter().any(|(_, id)| *id != held[0].1) {
                    return Err(format!(
                        "{}: {role} holds checkpoints of several runs; keep one run's",
                        Checkpoints::in_dir(dir).folder().display()
                    )
                    .into());
                }
                let listed: Vec<String> = held
                    .iter()
                    .map(|(step, id)| format!("{step}:{id}"))
                    .collect();
                job = job.with(checkpoints_field(role), listed.join(","));
            }
        }
        Ok(job)
    }
}

/// The JSON summary.
#[derive(Debug, Serialize)]
struct Summary {
    network: String,
    epochs: usize,
    iterations: usize,
    batch: usize,
    seconds: f64,
    seconds_per_iteration: f64,
    bytes_total: u64,
    test_accuracy: Option<f64>,
    /// The step training started from (after a checkpoint, with `--resume`).
    first_step: usize,
    /// P0's process: resident memory (MB) every 100 steps, and its peak.
    memory_mb: Vec<(usize, f64)>,
    peak_memory_mb: Option<f64>,
}

impl Summary {
    /// The summary of a run of `settings` that took `seconds` in all, `train_seconds` of
    /// them training, moved `bytes_total` and, if evaluated, classified `evaluation =
    /// (images, right)`.
    fn new(
        settings: &TrainSettings,
        seconds: f64,
        train_seconds: f64,
        bytes_total: u64,
        evaluation: Option<(usize, usize)>,
    ) -> Self {
        let iterations = settings.iterations();
        Summary {
            network: settings.spec.name().to_owned(),
            epochs: settings.epochs,
            iterations,
            batch: settings.config.batch(),
            seconds,
            seconds_per_iteration: train_seconds / iterations.max(1) as f64,
            bytes_total,
            test_accuracy: evaluation.map(|(images, right)| right as f64 / images.max(1) as f64),
            first_step: 0,
            memory_mb: Vec::new(),
            peak_memory_mb: peak_resident_mb(),
        }
    }
}

/// What each party brings back (a child process sends it as its report).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct PartyReport {
    role: Role,
    /// At P0: images evaluated and classified right.
    evaluation: Option<(usize, usize)>,
    costs: Vec<(LayerCost, LayerCost)>,
    stats: Stats,
    /// Training alone, without loading the data or the final evaluation.
    train_seconds: f64,
    /// At P0: the loss after every step and the accuracy after every epoch.
    curve: Vec<CurvePoint>,
    /// Files this party wrote.
    saved: Vec<PathBuf>,
    /// The step training started from.
    first_step: usize,
    /// This party's process: resident memory (MB) every 100 steps.
    memory_mb: Vec<(usize, f64)>,
    /// This party's process: peak resident memory (MB).
    peak_memory_mb: Option<f64>,
}

/// The exponent k of `value` = 2^−k, if it is one.
fn power_of_two_shift(value: f64) -> Option<u32> {
    (0u32..40).find(|&k| (value - 0.5f64.powi(k.cast_signed())).abs() < 1e-12)
}

/// The run's settings, for `train_len` training examples (public).
fn settings(args: &Args, train_len: usize) -> Result<TrainSettings, CliError> {
    let spec = NetworkSpec::resolve(&args.network)?;
    let batch_log2 = power_of_two_shift(1.0 / args.batch as f64)
        .filter(|_| args.batch.is_power_of_two() && args.batch <= 1 << 12)
        .ok_or("--batch must be a power of two up to 4096")?;
    let lr_shift = power_of_two_shift(args.lr)
        .filter(|&k| k <= 20)
        .ok_or("--lr must be a power of two between 1 and 2^-20 (e.g. 0.125)")?;
    let momentum_shift = if args.momentum == 0.0 {
        None
    } else {
        Some(
            power_of_two_shift(1.0 - args.momentum)
                .filter(|&k| (1..=20).contains(&k))
                .ok_or("--momentum must be 0 or 1 − 2^-k (e.g. 0.875)")?,
        )
    };
    if args.epochs == 0 {
        return Err("--epochs must be at least 1".into());
    }
    if args.iterations == Some(0) {
        return Err("--iterations must be at least 1".into());
    }
    Ok(TrainSettings {
        spec,
        config: TrainConfig {
            batch_log2,
            lr_shift,
            momentum_shift,
            loss: match args.loss {
                LossName::Hinge => Loss::Hinge,
                LossName::Asm => Loss::Asm,
            },
        },
        epochs: args.epochs,
        max_iterations: args.iterations,
        seed: args.seed,
        train_len,
        lr_halving_epochs: args
            .lr_halving_epochs
            .map(|k| usize::try_from(k).unwrap_or(usize::MAX)),
    })
}

/// How many `predictions` equal their `labels`.
pub(crate) fn right_answers(predictions: &[usize], labels: &[u8]) -> usize {
    predictions
        .iter()
        .zip(labels)
        .filter(|&(&p, &l)| p == usize::from(l))
        .count()
}

/// Creates the `--save` directory.
pub(crate) fn create_dir(dir: &Path) -> securenn_dsl::Result<()> {
    std::fs::create_dir_all(dir).map_err(|source| securenn_dsl::Error::Io {
        path: dir.to_path_buf(),
        source: std::sync::Arc::new(source),
    })
}

/// Checks, before a long run, that `--save` and `--plot` can be written.
fn check_outputs(args: &Args) -> securenn_dsl::Result<()> {
    if let Some(dir) = &args.save {
        create_dir(dir)?;
    }
    let charts = [(&args.plot, "--plot"), (&args.cost_chart, "--cost-chart")];
    for (file, option) in charts {
        let Some(file) = file else { continue };
        let parent = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        if !parent.is_dir() {
            return Err(securenn_dsl::Error::Io {
                path: parent.to_path_buf(),
                source: std::sync::Arc::new(std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    format!("the directory for {option} does not exist"),
                )),
            });
        }
    }
    Ok(())
}

/// Runs `securenn train`.
pub(crate) fn run(args: &Args) -> Result<bool, CliError> {
    // The command reads the data itself when the three parties run here; a missing or bad
    // data set is a clear error before any party starts.
    let here =
        args.child.party.is_none() && (args.plaintext || args.transport == TransportKind::Local);
    let data = if here {
        Some(args.data.load_for(&NetworkSpec::resolve(&args.network)?)?)
    } else {
        None
    };
    let sizes = match &data {
        Some(data) => Sizes::of(data),
        None => args.data.public_sizes()?,
    };
    let settings = settings(args, sizes.train)?;
    if args.checkpoint_every == Some(0) {
        return Err("--checkpoint-every must be at least 1".into());
    }
    if args.reveal_to.is_some() && args.save_dir().is_none() {
        return Err("--reveal-to needs --save DIR (or --resume DIR) to save the model in".into());
    }
    if args.checkpoint_every.is_some() && args.save_dir().is_none() {
        return Err("--checkpoint-every needs --save DIR (or --resume DIR)".into());
    }
    if let Some(party) = args.child.party {
        let role = Role::from_index(party).ok_or("--party must be 0, 1 or 2")?;
        let job = args.job(&settings, sizes, &[role])?;
        let config = args.options.config(job.clone());
        let data = owned_data(args, &settings, sizes, role)?;
        run_child(
            &args.child,
            party,
            args.options.insecure,
            config,
            async |session| {
                let data = data.as_ref();
                Ok(train_party(&session, args, &settings, sizes, data, &job).await?)
            },
        )?;
        return Ok(true);
    }
    check_outputs(args)?;
    if let (true, Some(data)) = (args.plaintext, &data) {
        return run_plaintext(args, &settings, data);
    }
    if !args.json {
        say!(
            "training network {} ({} parameters) for {} steps of {} {}, {}",
            settings.spec.name(),
            settings.spec.parameters(),
            settings.iterations(),
            settings.config.batch(),
            examples_noun(&settings.spec).0,
            match args.transport {
                TransportKind::Local => "three parties in this process",
                TransportKind::Tcp if args.options.insecure =>
                    "three processes on 127.0.0.1 over plain TCP (--insecure)",
                TransportKind::Tcp => "three processes on 127.0.0.1 over TLS",
            }
        );
    }
    let started = Instant::now();
    let reports: [PartyReport; 3] = match args.transport {
        TransportKind::Local => {
            let job = args.job(&settings, sizes, &[Role::P0, Role::P1])?;
            let config = args.options.config(job.clone());
            run_local_with(&config, |session| {
                let (settings, data, job) = (&settings, data.as_ref(), &job);
                async move { train_party(&session, args, settings, sizes, data, job).await }
            })?
        }
        TransportKind::Tcp => {
            let mut forwarded: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
            forwarded.extend(args.data.sizes_arguments(sizes).into_iter().map(Into::into));
            run_three_processes(&forwarded, args.options.insecure)?
        }
    };
    let seconds = started.elapsed().as_secs_f64();
    finish(args, &settings, &reports, seconds)
}

/// The job party `role` of a cluster states for `securenn party ... train`.
pub(crate) fn party_job(args: &Args, role: Role) -> Result<Job, CliError> {
    let sizes = args.data.public_sizes()?;
    args.job(&settings(args, sizes.train)?, sizes, &[role])
}

/// Runs private training as one party of a cluster (`securenn party ... train`), connected
/// by `session` after stating `job`; P0 prints the summary of what it saw.
pub(crate) async fn run_as_party(
    session: Session,
    args: &Args,
    job: &Job,
) -> Result<bool, CliError> {
    let sizes = args.data.public_sizes()?;
    let settings = settings(args, sizes.train)?;
    if args.plaintext {
        return Err("--plaintext trains in the clear, without parties: run `securenn train --plaintext` instead".into());
    }
    if args.transport != TransportKind::Local {
        return Err("--transport does not apply to a party: the cluster configuration says where the peers are".into());
    }
    check_outputs(args)?;
    let started = Instant::now();
    let data = owned_data(args, &settings, sizes, session.role())?;
    let report = train_party(&session, args, &settings, sizes, data.as_ref(), job).await?;
    let role = report.role;
    if !args.json {
        say!(
            "{role}: trained in {:.1} s, sent {:.1} MB",
            report.train_seconds,
            report.stats.total_sent() as f64 / 1e6
        );
        for path in &report.saved {
            say!("{role}: saved {}", path.display());
        }
    }
    if role != Role::P0 {
        return Ok(true);
    }
    if let Some(path) = &args.plot {
        write_training_curve(path, settings.spec.name(), &report.curve)?;
    }
    let mut summary = Summary::new(
        &settings,
        started.elapsed().as_secs_f64(),
        report.train_seconds,
        report.stats.total_sent() + report.stats.total_received(),
        report.evaluation,
    );
    summary.first_step = report.first_step;
    summary.memory_mb = report.memory_mb;
    print_summary(
        args,
        &settings.spec,
        &summary,
        report.evaluation.map(|(n, _)| n),
    )
}
