//! `securenn`: the command-line face of securenn.
//!
//! ```text
//! securenn selftest [--transport local|tcp] [--elements N] [--json]
//! securenn bench protocol NAME [--size N] [--dims ..] [--transport local|tcp] [--json]
//! securenn train [--network A|B|C|D] [--epochs E] [--batch 128] [--lr 0.125]
//!                [--transport local|tcp] [--plaintext] [--save DIR] [--reveal-to P0|P1]
//!                [--plot curve.svg] [--json]
//! securenn infer [--network C] [--weights FILE|DIR] [--images N] [--batch B] [--json]
//! securenn keygen --out DIR
//! securenn party --id N --config cluster.toml train|infer [options]
//! securenn serve --id N --config cluster.toml --network A --weights FILE|DIR
//! securenn query --config client.toml --network A [--data FILE] [--queries N]
//! ```

/// Writes one line to stderr, like `eprintln!`, but in a single write: the three party
/// processes of a cluster on one machine often share a terminal, and `eprintln!` writes a
/// line in pieces, which then interleave mid-line.
macro_rules! say {
    ($($arg:tt)*) => {
        $crate::write_stderr_line(::std::format!($($arg)*))
    };
}

mod bench;
mod bench_network;
mod bench_serve;
#[cfg(test)]
mod book_commands;
mod cluster;
mod data;
mod import;
mod infer;
mod memory;
mod offline;
mod plot;
mod processes;
mod progress;
mod query;
mod report;
mod selftest;
mod serve;
mod train;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Protocol messages are large buffers allocated and freed at a high rate; mimalloc keeps
/// freed pages for reuse instead of returning them to the OS, which is 4-7 times faster
/// here than glibc's malloc (see the README's benchmarks). It is wrapped to count the bytes
/// live during a soak (`securenn bench serve`), and only then.
#[global_allocator]
static ALLOCATOR: memory::CountingMimalloc = memory::CountingMimalloc;

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
    /// Train a network privately (the paper's on MNIST, or a network and data of your own), then evaluate it.
    Train(train::Args),
    /// Import a trained model from ONNX as a network file and a model.
    Import(import::Args),
    /// Classify test examples privately with a trained network (MNIST's, or a data file's).
    Infer(infer::Args),
    /// Deal the offline phase of private inference ahead of the inputs, for `infer --material`.
    Offline(offline::Args),
    /// Make a cluster's CA, each party's certificate and key, and a sample cluster.toml.
    Keygen(cluster::KeygenArgs),
    /// Run one party of a job on this machine, over TLS with mutual authentication.
    Party(cluster::PartyArgs),
    /// Serve private predictions to clients: one server (P0, P1 or P2) of a cluster.
    Serve(serve::Args),
    /// Classify examples privately with a cluster's servers, as a client.
    Query(query::Args),
}

/// mimalloc's option `purge_delay` (`mi_option_purge_delay` in its header).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Address space reserved up front for mimalloc's arena (not memory: pages are committed
/// when first touched): 8 GiB, 1 GiB where addresses have 32 bits.
#[cfg(target_pointer_width = "64")]
const ARENA_RESERVE_BYTES: usize = 8 << 30;
#[cfg(not(target_pointer_width = "64"))]
const ARENA_RESERVE_BYTES: usize = 1 << 30;

/// Has mimalloc keep the memory a protocol step frees for the next step, rather than
/// returning it to the OS 10 ms later, when the next step would fault it in again and the
/// kernel zero every page (a quarter of the CPU time of network C's inference at batch 128
/// went to zeroing pages; with the memory kept, the inference is 15-20% faster). Large
/// buffers (a comparison layer's bit shares are tens of megabytes) come from an arena
/// reserved here, so that they too are kept and reused, not unmapped when freed. The peak
/// memory is unchanged.
fn keep_freed_memory() {
    // SAFETY: sets one of mimalloc's integer options, which it reads with atomic loads,
    // and reserves address space for its arenas; both are callable at any time from any
    // thread, and a failed reservation only leaves mimalloc to map memory as it goes.
    #[allow(unsafe_code, reason = "mimalloc's option setter is a C function")]
    unsafe {
        libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1);
        libmimalloc_sys::mi_reserve_os_memory_ex(
            ARENA_RESERVE_BYTES,
            false,
            true,
            false,
            core::ptr::null_mut(),
        );
    }
}

fn main() -> ExitCode {
    keep_freed_memory();
    init_logging();
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Selftest(args) => selftest::run(&args),
        Command::Bench(command) => bench::run(&command),
        Command::Train(args) => train::run(&args),
        Command::Import(args) => import::run(&args),
        Command::Infer(args) => infer::run(&args),
        Command::Offline(args) => offline::run(&args),
        Command::Keygen(args) => cluster::keygen(&args),
        Command::Party(args) => cluster::party(&args),
        Command::Serve(args) => serve::run(&args),
        Command::Query(args) => query::run(&args),
    };
    match outcome {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(error) => {
            say!("error: {error}");
            ExitCode::FAILURE
        }
    }
}

/// Writes `line` and a newline to stderr in one write (see `say!`). A failed write to
/// stderr is ignored: there is nowhere left to report it.
pub(crate) fn write_stderr_line(mut line: String) {
    use std::io::Write as _;
    line.push('\n');
    let _ignored = std::io::stderr().lock().write_all(line.as_bytes());
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
