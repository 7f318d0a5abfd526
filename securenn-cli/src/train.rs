//! `securenn train`: private training of one of the paper's networks on MNIST, then private
//! evaluation on the test images.
//!
//! P0 owns the data and secret-shares each batch; P1 owns the initial weights; P2 helps.
//! P0 learns the running loss and the test accuracy, nothing else.

use std::io::Write;
use std::path::PathBuf;
use std::time::Instant;

use securenn_dsl::net::ClusterStats;
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::mnist::Mnist;
use securenn_dsl::nn::private::LayerCost;
use securenn_dsl::nn::train::{Evaluation, StepReport, TrainSettings, evaluate, train};
use securenn_dsl::nn::twin::{Loss, TrainConfig, initial_weights};
use securenn_dsl::party::{P0, P1, Private, Role};
use securenn_dsl::session::run_local;
use serde::Serialize;

use crate::processes::{CliError, TransportKind};

/// Test images evaluated at the end of every epoch, for the progress report.
const EPOCH_TEST_IMAGES: usize = 1000;

/// The loss to train with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum LossName {
    /// The squared hinge: no division, trains network A to 97% in 5 epochs.
    Hinge,
    /// The paper's softmax substitute, ReLU then Division (for fidelity).
    Asm,
}

/// Arguments of `securenn train`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The network: A, B, C or D.
    #[arg(long, default_value = "A")]
    network: String,
    /// Passes over the 60,000 training images.
    #[arg(long, default_value_t = 1)]
    epochs: usize,
    /// Examples per step: a power of two.
    #[arg(long, default_value_t = 128)]
    batch: usize,
    /// Learning rate: a power of two (folded into the truncation).
    #[arg(long, default_value_t = 0.125)]
    lr: f64,
    /// Momentum: 0 (plain SGD) or 1 − 2^−k (0.5, 0.75, 0.875, ...).
    #[arg(long, default_value_t = 0.875)]
    momentum: f64,
    /// The loss.
    #[arg(long, value_enum, default_value_t = LossName::Hinge)]
    loss: LossName,
    /// Stop after this many steps.
    #[arg(long)]
    iterations: Option<usize>,
    /// Test images to evaluate on afterwards (0 to skip).
    #[arg(long, default_value_t = 10_000)]
    test_images: usize,
    /// Where the parties run. Only `local` (three threads) trains today.
    #[arg(long, value_enum, default_value_t = TransportKind::Local)]
    transport: TransportKind,
    /// The directory holding the MNIST files (default: the vendored copy).
    #[arg(long)]
    mnist: Option<PathBuf>,
    /// Seed of the initial weights and of the order of the examples (public).
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
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
}

/// What each party brings back.
struct PartyResult {
    evaluation: Option<Evaluation>,
    costs: Vec<(LayerCost, LayerCost)>,
    stats: securenn_dsl::net::Stats,
    /// Training alone, without loading the data or the final evaluation.
    train_seconds: f64,
}

/// The exponent k of `value` = 2^−k, if it is one.
fn power_of_two_shift(value: f64) -> Option<u32> {
    (0u32..40).find(|&k| (value - 0.5f64.powi(k.cast_signed())).abs() < 1e-12)
}

fn settings(args: &Args, train_len: usize) -> Result<TrainSettings, CliError> {
    let spec = NetworkSpec::by_name(&args.network)?;
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
    })
}

/// Runs `securenn train`.
pub(crate) fn run(args: &Args) -> Result<bool, CliError> {
    if args.transport == TransportKind::Tcp {
        return Err(
            "training over TCP between three processes is not available yet; use --transport local"
                .into(),
        );
    }
    let dir = args.mnist.clone().unwrap_or_else(Mnist::default_dir);
    let mnist = Mnist::load(&dir)?;
    let settings = settings(args, mnist.train.len())?;
    let test_images = args.test_images.min(mnist.test.len());
    let weights = initial_weights(&settings.spec, args.seed);
    let quiet = args.json;
    if !quiet {
        eprintln!(
            "training network {} ({} parameters) for {} steps of {} images, three parties in this process",
            settings.spec.name(),
            settings.spec.parameters(),
            settings.iterations(),
            settings.config.batch()
        );
    }
    let started = Instant::now();
    let (settings_ref, mnist_ref, weights_ref) = (&settings, &mnist, &weights);
    let results = run_local(|session| async move {
        let role = session.role();
        let train_data = Private::<P0, _>::new(role, || mnist_ref.train.clone());
        let test_data = Private::<P0, _>::new(role, || mnist_ref.test.clone());
        let owned = Private::<P1, _>::new(role, || weights_ref.clone());
        let progress = |step: &StepReport| {
            if role == Role::P0 && !quiet {
                let per_step = step.elapsed.as_secs_f64() / step.iteration as f64;
                let left = per_step * (step.iterations - step.iteration) as f64;
                eprint!(
                    "\r  epoch {} step {}/{}  loss {:.4}  {:.2} s/step  {:.0} s left   ",
                    step.epoch,
                    step.iteration,
                    step.iterations,
                    step.loss.unwrap_or(f64::NAN),
                    per_step,
                    left
                );
                if let Some(accuracy) = step.accuracy {
                    eprintln!(
                        "\n  epoch {} done: accuracy {:.2}% on the first {} test images",
                        step.epoch,
                        accuracy * 100.0,
                        EPOCH_TEST_IMAGES.min(test_images)
                    );
                }
                let _ = std::io::stderr().flush();
            }
        };
        let during = Some((&test_data, EPOCH_TEST_IMAGES.min(test_images)));
        let training = Instant::now();
        let mut network = train(
            &session,
            settings_ref,
            &owned,
            &train_data,
            during,
            progress,
        )
        .await?;
        let train_seconds = training.elapsed().as_secs_f64();
        let costs = network.costs().to_vec();
        let stats = session.stats();
        let evaluation = if test_images > 0 {
            if role == Role::P0 && !quiet {
                eprintln!("\n  evaluating on {test_images} test images");
            }
            evaluate(&session, &mut network, &test_data, test_images, 128)
                .await?
                .into_inner()
        } else {
            None
        };
        Ok(PartyResult {
            evaluation,
            costs,
            stats,
            train_seconds,
        })
    })?;
    let seconds = started.elapsed().as_secs_f64();
    let cluster =
        ClusterStats::from_parties(&[results[0].stats, results[1].stats, results[2].stats]);
    let iterations = settings.iterations();
    let accuracy = results[0].evaluation.as_ref().map(Evaluation::accuracy);
    let train_seconds = results[0].train_seconds;
    let per_step = train_seconds / iterations.max(1) as f64;
    if !quiet {
        eprintln!();
        print_layer_table(&settings.spec, &results);
        eprintln!(
            "trained in {train_seconds:.1} s ({per_step:.3} s per step, with the per-epoch checks), {:.1} MB sent in all; {seconds:.1} s with the final evaluation",
            cluster.total_bytes() as f64 / 1e6
        );
    }
    let summary = Summary {
        network: settings.spec.name().to_owned(),
        epochs: settings.epochs,
        iterations,
        batch: settings.config.batch(),
        seconds,
        seconds_per_iteration: per_step,
        bytes_total: cluster.total_bytes(),
        test_accuracy: accuracy,
    };
    let mut out = std::io::stdout().lock();
    if args.json {
        writeln!(out, "{}", serde_json::to_string(&summary)?)?;
    } else if let Some(accuracy) = accuracy {
        writeln!(
            out,
            "network {}: test accuracy {:.2}% on {} images",
            summary.network,
            accuracy * 100.0,
            test_images
        )?;
    }
    Ok(true)
}

/// Time, bytes and rounds per layer, forward and backward: times at P0, bytes summed over
/// the three parties.
fn print_layer_table(spec: &NetworkSpec, results: &[PartyResult; 3]) {
    eprintln!(
        "{:<40} {:>10} {:>12} {:>8} {:>10} {:>12} {:>8}",
        "layer", "fwd s", "fwd MB", "rounds", "bwd s", "bwd MB", "rounds"
    );
    for (i, layer) in spec.layers().iter().enumerate() {
        let bytes = |backward: bool| -> u64 {
            results
                .iter()
                .map(|r| {
                    let (f, b) = r.costs.get(i).copied().unwrap_or_default();
                    if backward { b.bytes_sent } else { f.bytes_sent }
                })
                .sum()
        };
        let (f, b) = results[0].costs.get(i).copied().unwrap_or_default();
        eprintln!(
            "{:<40} {:>10.2} {:>12.1} {:>8} {:>10.2} {:>12.1} {:>8}",
            layer.to_string(),
            f.time.as_secs_f64(),
            bytes(false) as f64 / 1e6,
            f.rounds,
            b.time.as_secs_f64(),
            bytes(true) as f64 / 1e6,
            b.rounds
        );
    }
}
