//! `securenn`: the command-line face of securenn.
//!
//! ```text
//! securenn selftest [--transport local|tcp] [--elements N] [--json]
//! securenn bench protocol NAME [--size N] [--dims ..] [--transport local|tcp] [--json]
//! securenn train [--network A|B|C|D] [--epochs E] [--batch 128] [--lr 0.125] [--json]
//! ```

mod bench;
mod bench_network;
mod processes;
mod report;
mod selftest;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Protocol messages are large buffers allocated and freed at a high rate; mimalloc keeps
/// freed pages for reuse instead of returning them to the OS, which is 4-7 times faster
/// here than glibc's malloc (see the README's benchmarks).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Three-party secure neural-network training and inference (SecureNN).
#[derive(Debug, Parser)]
#[command(name = "securenn", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Share random tensors, compute on the shares, reveal, and check against plaintext.
    Selftest(selftest::Args),
    /// Time, count and check protocol calls.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Train one of the paper's networks privately on MNIST, then evaluate it.
    Train(train::Args),
}

fn main() -> ExitCode {
    init_logging();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Selftest(args) => selftest::run(&args),
        Command::Bench(command) => bench::run(&command),
        Command::Train(args) => train::run(&args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            eprintln!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr, filtered by `SECURENN_LOG` (default: warnings and errors). No log
/// line carries a secret or a share.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("SECURENN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}
