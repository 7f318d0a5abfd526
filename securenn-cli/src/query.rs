//! `securenn query --config client.toml`: private predictions from a cluster's servers.
//!
//! The client is not a party: it splits each input into two additive shares with fresh
//! randomness from its own operating system, sends one to P0 and the other to P1 under
//! one random id (nothing to P2), and adds the two servers' answers into the prediction,
//! which only it sees ([`securenn_dsl::serve::QueryClient`]). The examples queried are the
//! test examples of `--data FILE` (a CSV table or numpy arrays) or of MNIST; their labels,
//! which never leave the client, give the accuracy. The configuration, which `securenn
//! keygen --client NAME` writes with the client's credentials, says where the servers take
//! queries; relative paths are relative to it:
//!
//! ```toml
//! [servers]
//! p0 = "10.0.0.10:7100"
//! p1 = "10.0.0.11:7101"
//!
//! [tls]
//! ca = "ca.pem"
//! certificate = "client.pem"
//! key = "client.key"
//! ```
//!
//! An optional `timeout_seconds` (default 30) bounds the wait for the servers at start-up
//! and for each answer.

use std::io::Write as _;
use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use securenn_dsl::error::QueryProblem;
use securenn_dsl::net::tls::ClientIdentity;
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::data::Dataset;
use securenn_dsl::ring::Z64;
use securenn_dsl::serve::{Prediction, QueryClient};
use serde::{Deserialize, Serialize};

use crate::cluster::TlsFiles;
use crate::data::{DataArgs, examples_noun};
use crate::processes::CliError;
use crate::progress::ImageProgress;
use crate::report::percentile_ms;

/// The name of a client's configuration file.
pub(crate) const CLIENT_CONFIG_FILE: &str = "client.toml";

/// The configuration `securenn keygen --client` writes for servers taking queries at `p0`
/// and `p1`.
pub(crate) fn client_config(p0: &str, p1: &str) -> String {
    format!(
        "# A securenn client: where P0 and P1 take queries, and this client's credentials\n\
         # (client.key is this client's alone).\n\
         [servers]\np0 = \"{p0}\"\np1 = \"{p1}\"\n\n[tls]\nca = \"ca.pem\"\ncertificate = \"client.pem\"\nkey = \"client.key\"\n"
    )
}

/// The configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientFile {
    servers: Servers,
    tls: TlsFiles,
    #[serde(default)]
    timeout_seconds: Option<u64>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Servers {
    p0: String,
    p1: String,
}

/// A client's configuration, read and checked.
struct ClientConfig {
    servers: [SocketAddr; 2],
    identity: ClientIdentity,
    timeout: Duration,
}

impl ClientConfig {
    fn read(path: &Path) -> Result<ClientConfig, CliError> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
        let file: ClientFile =
            toml::from_str(&text).map_err(|e| format!("{}: {}", path.display(), e.message()))?;
        let resolve = |address: &str, server: &str| -> Result<SocketAddr, CliError> {
            address
                .to_socket_addrs()
                .map_err(|e| {
                    format!(
                        "{}: {server}'s address {address:?} does not resolve: {e}",
                        path.display()
                    )
                })?
                .next()
                .ok_or_else(|| {
                    format!(
                        "{}: {server}'s address {address:?} resolves to nothing",
                        path.display()
                    )
                    .into()
                })
        };
        let relative = |file: &str| {
            let file = PathBuf::from(file);
            if file.is_absolute() {
                file
            } else {
                path.parent().unwrap_or(Path::new(".")).join(file)
            }
        };
        let timeout = match file.timeout_seconds {
            Some(0) => {
                return Err(
                    format!("{}: timeout_seconds must be at least 1", path.display()).into(),
                );
            }
            Some(seconds) => Duration::from_secs(seconds),
            None => Duration::from_secs(30),
        };
        Ok(ClientConfig {
            servers: [
                resolve(&file.servers.p0, "P0")?,
                resolve(&file.servers.p1, "P1")?,
            ],
            identity: ClientIdentity::from_pem_files(
                &relative(&file.tls.ca),
                &relative(&file.tls.certificate),
                &relative(&file.tls.key),
            )?,
            timeout,
        })
    }
}

/// Arguments of `securenn query`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// The client's configuration (`securenn keygen --client NAME` writes one).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The network the servers serve: A, B, C or D (the paper's), or a network file
    /// (`.toml`). It says what an input holds and how many classes there are.
    #[arg(long, default_value = "A")]
    network: String,
    /// How many test examples to classify, from the first (default: all).
    #[arg(long, value_name = "N")]
    queries: Option<usize>,
    /// Queries in flight at once, each over its own connections.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Write each prediction to this CSV file: the example's index, its label, the class
    /// and, if the servers send them, the scores.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    #[command(flatten)]
    data: DataArgs,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
}

/// What the run measured.
#[derive(Debug, Serialize)]
struct Summary {
    network: String,
    queries: usize,
    seconds: f64,
    queries_per_second: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    accuracy: f64,
}

/// One answered query: the example's index, the prediction and its latency in seconds.
type Answer = (usize, Prediction, f64);

/// Connects to the two servers, waiting for them (a server not yet listening) until the
/// timeout.
async fn connect(config: &ClientConfig, classes: usize) -> securenn_dsl::Result<QueryClient> {
    let deadline = Instant::now() + config.timeout;
    let mut told = false;
    loop {
        match QueryClient::connect(config.servers, &config.identity, classes, config.timeout).await
        {
            Err(securenn_dsl::Error::Query(QueryProblem::Connection { .. }))
                if Instant::now() < deadline =>
            {
                if !told {
                    say!(
                        "waiting for the servers at {} and {}",
                        config.servers[0],
                        config.servers[1]
                    );
                    told = true;
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            other => return other,
        }
    }
}

/// Runs `securenn query`; `Ok(true)` once every query is answered.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub(crate) fn run(args: &Args) -> Result<bool, CliError> {
    let config = Arc::new(ClientConfig::read(&args.config)?);
    let spec = NetworkSpec::resolve(&args.network)?;
    let test = args.data.load()?.test;
    test.check_network(&spec, &args.data.name())?;
    let queries = args.queries.unwrap_or(test.len()).min(test.len());
    if queries == 0 || args.concurrency == 0 || args.concurrency > 4096 {
        return Err("--queries must be at least 1 (and the data set hold a test example), --concurrency between 1 and 4096".into());
    }
    let classes = spec.output().len();
    let test = Arc::new(test);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let next = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    // Set by the first task that fails: the others stop asking.
    let stop = Arc::new(AtomicBool::new(false));
    let mut progress = ImageProgress::new(!args.json, queries, examples_noun(&spec).0);
    let started = Instant::now();
    let outcome = runtime.block_on(async {
        let tasks: Vec<_> = (0..args.concurrency.min(queries))
            .map(|_| {
                let (config, test) = (Arc::clone(&config), Arc::clone(&test));
                let (next, answered) = (Arc::clone(&next), Arc::clone(&answered));
                let stop = Arc::clone(&stop);
                tokio::spawn(async move {
                    let counters = Counters {
                        next: &next,
                        answered: &answered,
                        stop: &stop,
                    };
                    let result = client_task(&config, &test, classes, queries, &counters).await;
                    if result.is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                    result
                })
            })
            .collect();
        let all = async {
            let mut results = Vec::with_capacity(tasks.len());
            for task in tasks {
                results.push(task.await);
            }
            results
        };
        tokio::pin!(all);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                results = &mut all => break results,
                _ = tick.tick() => progress.done(answered.load(Ordering::Relaxed)),
            }
        }
    });
    progress.finish();
    let seconds = started.elapsed().as_secs_f64();
    let mut answers: Vec<Answer> = Vec::with_capacity(queries);
    let mut first_error = None;
    for result in outcome {
        match result.map_err(|e| format!("a client task failed: {e}").into()) {
            Ok(Ok(task_answers)) => answers.extend(task_answers),
            Ok(Err(error)) | Err(error) => {
                first_error.get_or_insert(error);
            }
        }
    }
    if let Some(error) = first_error {
        return Err(error);
    }
    answers.sort_by_key(|(index, _, _)| *index);
    if let Some(path) = &args.out {
        write_predictions(path, &answers, &test)?;
    }
    let right = answers
        .iter()
        .filter(|(index, prediction, _)| {
            test.labels().get(*index).map(|&l| usize::from(l)) == Some(prediction.class)
        })
        .count();
    let mut latencies: Vec<f64> = answers.iter().map(|(_, _, s)| *s).collect();
    latencies.sort_by(f64::total_cmp);
    let quantile = |percent: usize| percentile_ms(&latencies, percent);
    let summary = Summary {
        network: spec.name().to_owned(),
        queries,
        seconds,
        queries_per_second: queries as f64 / seconds,
        latency_p50_ms: quantile(50),
        latency_p99_ms: quantile(99),
        accuracy: right as f64 / queries as f64,
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} {} of {} classified privately in {:.1} s ({:.0} queries/s, latency p50 {:.1} ms, p99 {:.1} ms): accuracy {:.2}%",
            queries,
            examples_noun(&spec).0,
            args.data.name(),
            seconds,
            summary.queries_per_second,
            summary.latency_p50_ms,
            summary.latency_p99_ms,
            100.0 * summary.accuracy
        );
    }
    Ok(true)
}

/// What the client tasks share: the next example to ask, how many are answered, and
/// whether one task failed.
struct Counters<'a> {
    next: &'a AtomicUsize,
    answered: &'a AtomicUsize,
    stop: &'a AtomicBool,
}

/// The longest a query waits before asking again a server that answered "busy"; the waits
/// double from 10 ms up to it, then the query fails.
const BUSY_BACKOFF_AT_MOST: Duration = Duration::from_secs(2);

/// One connection pair's queries: takes the next example until `queries` are asked or
/// another task failed. A query the servers are too busy for is asked again after a
/// growing wait; any other failure ends the run with an error naming the example.
async fn client_task(
    config: &ClientConfig,
    test: &Dataset,
    classes: usize,
    queries: usize,
    counters: &Counters<'_>,
) -> Result<Vec<Answer>, CliError> {
    let mut client = connect(config, classes).await?;
    let mut answers = Vec::new();
    loop {
        let index = counters.next.fetch_add(1, Ordering::Relaxed);
        if index >= queries || counters.stop.load(Ordering::Relaxed) {
            return Ok(answers);
        }
        let input: Vec<Z64> = test.encode(&[index])?;
        let asked = Instant::now();
        let mut backoff = Duration::from_millis(10);
        let prediction = loop {
            match client.query(&input).await {
                Ok(prediction) => break prediction,
                Err(securenn_dsl::Error::Query(QueryProblem::Busy))
                    if backoff <= BUSY_BACKOFF_AT_MOST =>
                {
                    // Back-pressure: the servers' queues are full. The refusal leaves the
                    // connections out of step, so ask again over fresh ones.
                    tokio::time::sleep(backoff).await;
                    backoff *= 2;
                    client = connect(config, classes).await?;
                }
                Err(error) => return Err(format!("test example {index}: {error}").into()),
            }
        };
        answers.push((index, prediction, asked.elapsed().as_secs_f64()));
        counters.answered.fetch_add(1, Ordering::Relaxed);
    }
}

/// Writes the predictions as CSV: `index,label,class` and the scores if any.
fn write_predictions(path: &Path, answers: &[Answer], test: &Dataset) -> Result<(), CliError> {
    let failed = |e: std::io::Error| format!("cannot write {}: {e}", path.display());
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(failed)?);
    let scores = answers
        .first()
        .and_then(|(_, p, _)| p.scores.as_ref())
        .map_or(0, Vec::len);
    let mut header = "index,label,class".to_owned();
    for class in 0..scores {
        header.push_str(&format!(",score{class}"));
    }
    writeln!(out, "{header}").map_err(failed)?;
    for (index, prediction, _) in answers {
        let label = test.labels().get(*index).copied().unwrap_or_default();
        let mut line = format!("{index},{label},{}", prediction.class);
        for score in prediction.scores.iter().flatten() {
            line.push_str(&format!(",{score:.4}"));
        }
        writeln!(out, "{line}").map_err(failed)?;
    }
    out.flush().map_err(failed)?;
    Ok(())
}
