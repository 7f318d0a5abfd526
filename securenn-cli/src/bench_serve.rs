//! `securenn bench serve`: private predictions served to concurrent clients, measured.
//!
//! One process starts a cluster on 127.0.0.1: three servers, each on its own thread, that
//! talk TLS with mutual authentication, the model shared once by P1 and kept in shares;
//! P0 and P1 listen for clients over TLS (client certificates from the cluster's clients'
//! CA). Then, for each client count, that many clients query at once, one query in flight
//! each, until the run's queries are answered. It reports throughput, latency p50 and p99,
//! and the bytes per query (between the servers, and each client's), and checks every
//! answer against the plaintext twin's prediction for that input. The inputs are random,
//! chosen so that the twin's two largest outputs differ by more than twice the
//! fixed-point error of the private outputs, where the class is well defined.
//!
//! The soak (`--kill-percent P`): P% of the queries, at random, have their client killed at
//! a random point of the query; every other query must be answered, and the process's
//! memory, sampled after each tenth of the queries, must stay flat.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use securenn_dsl::net::NetConfig;
use securenn_dsl::net::tls::{ClientAuthority, ClientCredentials, ClusterCredentials};
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::{TrainConfig, initial_weights};
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::twin::{Number as _, Twin};
use securenn_dsl::party::{P1, Private, Role};
use securenn_dsl::prg::Prg;
use securenn_dsl::ring::{Ring, Z64};
use securenn_dsl::serve::query::{QUERY_HEADER_LEN, REPLY_HEADER_LEN};
use securenn_dsl::serve::{
    ClientLimits, Intake, QueryClient, ServeConfig, ServeStats, accept_clients, serve,
};
use securenn_dsl::session::SessionConfig;
use serde::Serialize;

use crate::memory::{count_live_bytes, counting_live_bytes, live_mb, resident_mb};
use crate::plot::{ServePoint, write_serve_curve};
use crate::processes::{CliError, connect_session};
use crate::report::percentile_ms;

/// Arguments of `securenn bench serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct ServeArgs {
    /// The network: A, B, C or D (the paper's), or a network file (`.toml`).
    #[arg(long, default_value = "A")]
    network: String,
    /// Concurrent clients: one count, or several (`1,4,16,64,256`), one run each.
    #[arg(long, value_delimiter = ',', default_value = "64")]
    clients: Vec<usize>,
    /// Queries per run, over all its clients.
    #[arg(long, default_value_t = 2000)]
    queries: usize,
    /// The most queries in one batch.
    #[arg(long, default_value_t = 128)]
    max_batch: usize,
    /// How long, in milliseconds, a batch's first query waits for others (0: a batch
    /// closes as soon as the servers are free).
    #[arg(long, default_value_t = 0)]
    max_wait_ms: u64,
    /// The soak: this percentage of the queries, chosen at random, have their client
    /// killed at a random point of the query (its connections dropped while it writes,
    /// waits or reads); it connects again as a new client. No other query may be lost.
    #[arg(long, default_value_t = 0.0, value_name = "PERCENT")]
    kill_percent: f64,
    /// Draw the curve of throughput and p99 latency by clients as SVG to this file.
    #[arg(long, value_name = "FILE")]
    plot: Option<std::path::PathBuf>,
    /// Print exactly one JSON object, on the last line.
    #[arg(long)]
    json: bool,
}

/// One run's figures.
#[derive(Debug, Serialize)]
struct RunSummary {
    clients: usize,
    queries: usize,
    seconds: f64,
    queries_per_second: f64,
    latency_p50_ms: f64,
    latency_p99_ms: f64,
    /// Queries answered (all but those whose client was killed first, unless some failed).
    answered: usize,
    /// Answers that differ from the twin's prediction.
    wrong: usize,
    /// Queries that got an error, those of killed clients aside.
    failed: usize,
    /// Clients killed at a random point of a query (`--kill-percent`).
    killed: usize,
    /// Queries whose client was killed before their answer came.
    unanswered: usize,
    /// The process's memory (servers and clients) after each tenth of the queries.
    memory: Vec<MemorySample>,
    /// In a soak: whether the bytes live stayed flat (the most of the second half of the
    /// samples at most 4 MB or 10% above the most of the first half, the first aside).
    memory_flat: Option<bool>,
}

/// Whether the bytes live of `samples` stayed flat (see [`RunSummary::memory_flat`]);
/// `None` without counts or with fewer than 4 samples.
fn memory_flat(samples: &[MemorySample]) -> Option<bool> {
    let live: Vec<f64> = samples.iter().map(|s| s.live_mb).collect::<Option<_>>()?;
    if live.len() < 4 {
        return None;
    }
    let most = |values: &[f64]| values.iter().copied().fold(f64::MIN, f64::max);
    let (early, late) = (
        most(&live[1..live.len() / 2]),
        most(&live[live.len() / 2..]),
    );
    Some(late <= early + (0.1 * early).max(4.0))
}

/// The process's memory at one point of a run.
#[derive(Debug, Serialize)]
struct MemorySample {
    /// Queries answered so far.
    answered: usize,
    /// The resident set, in MB: what the allocator holds, live or kept for reuse.
    resident_mb: f64,
    /// The bytes allocated and not freed since the servers started, in MB (counted in a
    /// soak only).
    live_mb: Option<f64>,
}

#[derive(Debug, Serialize)]
struct Summary {
    network: String,
    runs: Vec<RunSummary>,
    batches: u64,
    /// Bytes the servers sent each other, per answered query.
    server_bytes_per_query: f64,
    /// Bytes a client sends and receives per query.
    client_bytes_per_query: usize,
    correct: bool,
}

/// The fixed-point error of the private outputs against the twin's stays within this
/// (`bench network` checks it); a class is only well defined where the twin's two largest
/// outputs differ by more than twice as much.
const MARGIN: f64 = 0.02;

/// Random inputs in [0, 1) at 13 fractional bits whose twin's two largest outputs differ
/// by more than [`MARGIN`], and the twin's class for each.
fn inputs(spec: &NetworkSpec, seed: u64, count: usize) -> Result<Vec<(Vec<Z64>, usize)>, CliError> {
    let weights = initial_weights(spec, seed);
    let mut twin = Twin::<Z64>::new(spec.clone(), &weights, TrainConfig::default(), seed)?;
    let mut rng = Prg::from_os_rng()?;
    let mut chosen = Vec::with_capacity(count);
    for _ in 0..100 * count {
        if chosen.len() == count {
            break;
        }
        let input: Vec<Z64> = (0..spec.input().len())
            .map(|_| Z64::new(Z64::random(&mut rng).value() % (1 << 13)))
            .collect();
        let mut outputs: Vec<(f64, usize)> = twin
            .forward(&input, 1)?
            .iter()
            .enumerate()
            .map(|(class, output)| (output.decode(), class))
            .collect();
        outputs.sort_by(|a, b| b.0.total_cmp(&a.0));
        if let [(best, class), (second, _), ..] = outputs[..]
            && best - second > MARGIN
        {
            chosen.push((input, class));
        }
    }
    if chosen.len() < count {
        return Err(format!(
            "fewer than {count} of {} random inputs have a margin over {MARGIN} between the twin's two largest outputs",
            100 * count
        )
        .into());
    }
    Ok(chosen)
}

/// The three servers: their threads, the two client queues, and where clients connect.
struct Servers {
    threads: Vec<JoinHandle<Result<(ServeStats, u64), CliError>>>,
    intakes: [Arc<Intake>; 2],
    client_addresses: [SocketAddr; 2],
}

fn start_servers(
    spec: &NetworkSpec,
    credentials: &ClusterCredentials,
    config: &ServeConfig,
    io: &tokio::runtime::Runtime,
) -> Result<Servers, CliError> {
    let party_listeners = [
        std::net::TcpListener::bind("127.0.0.1:0")?,
        std::net::TcpListener::bind("127.0.0.1:0")?,
    ];
    let addresses = [
        Some(party_listeners[0].local_addr()?),
        Some(party_listeners[1].local_addr()?),
        None,
    ];
    let input_len = spec.input().len();
    let intakes = [0, 1].map(|_| Arc::new(Intake::new(input_len, 4 * config.max_batch.max(64))));
    let mut client_addresses = Vec::new();
    for role in [Role::P0, Role::P1] {
        let listener = io.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
        client_addresses.push(listener.local_addr()?);
        let identity = credentials.identity(role)?;
        let (intake, clients) = (
            Arc::clone(&intakes[role.index()]),
            ClientAuthority::from_pem(credentials.client_ca_certificate.as_bytes())?,
        );
        io.spawn(async move {
            let limits = ClientLimits::new(input_len);
            if let Err(error) = accept_clients(listener, &identity, &clients, intake, limits).await
            {
                say!("{role}: the client listener stopped: {error}");
            }
        });
    }
    let session = SessionConfig {
        net: NetConfig {
            session_id: Z64::random(&mut Prg::from_os_rng()?).value(),
            ..NetConfig::default()
        },
        ..SessionConfig::default()
    };
    let mut listeners = party_listeners.map(Some).into_iter();
    let threads = Role::ALL
        .into_iter()
        .map(|role| {
            let listener = listeners.next().flatten();
            let identity = credentials.identity(role)?;
            let (spec, config, session) = (spec.clone(), config.clone(), session.clone());
            let intake = (!role.is_helper()).then(|| Arc::clone(&intakes[role.index()]));
            Ok(thread::spawn(
                move || -> Result<(ServeStats, u64), CliError> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    runtime.block_on(async {
                        let listener = match listener {
                            Some(listener) => {
                                listener.set_nonblocking(true)?;
                                Some(tokio::net::TcpListener::from_std(listener)?)
                            }
                            None => None,
                        };
                        let session =
                            connect_session(role, listener, &addresses, &session, Some(&identity))
                                .await?;
                        let weights = initial_weights(&spec, SEED);
                        let owned = Private::<P1, _>::new(role, || weights.clone());
                        let mut network = PrivateNetwork::share_weights(
                            &session,
                            spec,
                            &owned,
                            TrainConfig::default(),
                        )
                        .await?;
                        session.reset_stats();
                        let stats =
                            serve(&session, &mut network, intake.as_deref(), &config).await?;
                        Ok((stats, session.stats().total_sent()))
                    })
                },
            ))
        })
        .collect::<Result<Vec<_>, CliError>>()?;
    Ok(Servers {
        threads,
        intakes,
        client_addresses: [client_addresses[0], client_addresses[1]],
    })
}

/// The weights' seed: the servers share these weights, the twin predicts with them.
const SEED: u64 = 7;

/// A uniform draw in [0, 1), with 53 bits.
fn uniform(rng: &mut Prg) -> f64 {
    (Z64::random(rng).value() >> 11) as f64 / (1u64 << 53) as f64
}

/// What one client task saw.
#[derive(Debug, Default)]
struct Tally {
    /// The latency of each answered query, in seconds.
    latencies: Vec<f64>,
    /// Answers that are not the twin's.
    wrong: usize,
    /// Queries that got an error.
    failed: usize,
    /// Clients killed (one for each query drawn to be killed).
    killed: usize,
    /// Queries whose client was killed before their answer came.
    unanswered: usize,
}

/// One run of `clients` concurrent clients and `queries` queries, `kill_percent` of them
/// with their client killed.
fn run_clients(
    io: &tokio::runtime::Runtime,
    servers: &Servers,
    credentials: &ClientCredentials,
    inputs: &Arc<Vec<(Vec<Z64>, usize)>>,
    (clients, queries): (usize, usize),
    kill_percent: f64,
) -> Result<RunSummary, CliError> {
    let identity = Arc::new(credentials.identity()?);
    let next = Arc::new(AtomicUsize::new(0));
    let answered = Arc::new(AtomicUsize::new(0));
    let classes = 10;
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let (identity, next, inputs) =
                (Arc::clone(&identity), Arc::clone(&next), Arc::clone(inputs));
            let answered = Arc::clone(&answered);
            let addresses = servers.client_addresses;
            io.spawn(async move {
                let mut tally = Tally::default();
                let mut rng = Prg::from_os_rng()?;
                let timeout = Duration::from_secs(60);
                let connect = || QueryClient::connect(addresses, &identity, classes, timeout);
                let mut client = connect().await?;
                // This client's last latency: a killed query dies within twice of it.
                let mut last_latency = Duration::from_millis(5);
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= queries {
                        break;
                    }
                    let (input, expected) = &inputs[i % inputs.len()];
                    let asked = Instant::now();
                    let killed = uniform(&mut rng) < kill_percent / 100.0;
                    let outcome = if killed {
                        // Killed at a random point of the query: mid-write, mid-wait or
                        // mid-read. Dropping the client closes its connections without a
                        // word, as a killed process's would.
                        let point = last_latency.mul_f64(2.0 * uniform(&mut rng));
                        tally.killed += 1;
                        tokio::time::timeout(point, client.query(input)).await.ok()
                    } else {
                        Some(client.query(input).await)
                    };
                    let failed = matches!(outcome, Some(Err(_)));
                    match outcome {
                        Some(Ok(prediction)) => {
                            last_latency = asked.elapsed();
                            tally.latencies.push(last_latency.as_secs_f64());
                            tally.wrong += usize::from(prediction.class != *expected);
                            answered.fetch_add(1, Ordering::Relaxed);
                        }
                        Some(Err(error)) => {
                            tally.failed += 1;
                            say!("a query failed: {error}");
                        }
                        None => tally.unanswered += 1,
                    }
                    if killed || failed {
                        // A new client (its connections may be out of step after an error).
                        client = connect().await?;
                    }
                }
                Ok::<_, securenn_dsl::Error>(tally)
            })
        })
        .collect();
    let memory = io.block_on(sample_memory(&answered, queries, &tasks));
    let mut latencies = Vec::with_capacity(queries);
    let (mut wrong, mut failed, mut killed, mut unanswered) = (0, 0, 0, 0);
    for task in tasks {
        let mut tally = io
            .block_on(task)
            .map_err(|e| format!("a client task failed: {e}"))??;
        latencies.append(&mut tally.latencies);
        wrong += tally.wrong;
        failed += tally.failed;
        killed += tally.killed;
        unanswered += tally.unanswered;
    }
    let seconds = start.elapsed().as_secs_f64();
    latencies.sort_by(f64::total_cmp);
    let quantile = |percent: usize| percentile_ms(&latencies, percent);
    Ok(RunSummary {
        clients,
        queries,
        seconds,
        queries_per_second: latencies.len() as f64 / seconds,
        latency_p50_ms: quantile(50),
        latency_p99_ms: quantile(99),
        answered: latencies.len(),
        wrong,
        failed,
        killed,
        unanswered,
        memory_flat: memory_flat(&memory),
        memory,
    })
}

/// The process's resident memory each time another tenth of `queries` is answered, until
/// every task has ended.
async fn sample_memory<T>(
    answered: &AtomicUsize,
    queries: usize,
    tasks: &[tokio::task::JoinHandle<T>],
) -> Vec<MemorySample> {
    let mut samples = Vec::new();
    let tenth = queries.div_ceil(10).max(1);
    let mut next_sample = tenth;
    loop {
        let done = answered.load(Ordering::Relaxed);
        if done >= next_sample {
            samples.push(MemorySample {
                answered: done,
                resident_mb: resident_mb().unwrap_or(f64::NAN),
                live_mb: counting_live_bytes().then(live_mb),
            });
            next_sample = (done / tenth + 1) * tenth;
        }
        if tasks.iter().all(tokio::task::JoinHandle::is_finished) {
            return samples;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Runs `securenn bench serve`; `Ok(true)` if every answer was the twin's.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub(crate) fn run(args: &ServeArgs) -> Result<bool, CliError> {
    let spec = NetworkSpec::resolve(&args.network)?;
    if args.clients.iter().any(|&c| c == 0 || c > 4096) || args.queries == 0 {
        return Err("--clients must be between 1 and 4096, and --queries at least 1".into());
    }
    if !(0.0..=100.0).contains(&args.kill_percent) {
        return Err("--kill-percent must be between 0 and 100".into());
    }
    if spec.output().len() != 10 {
        return Err("bench serve measures networks of 10 classes".into());
    }
    let config = ServeConfig {
        max_batch: args.max_batch,
        max_wait: Duration::from_millis(args.max_wait_ms),
        // Generous on a loaded machine: a half is refused as unpaired only if its other half
        // never came (a killed client's), never because the clients' process was slow.
        pair_wait: Duration::from_secs(2),
        unpaired_after: Duration::from_secs(4),
        ..ServeConfig::default()
    };
    if args.kill_percent > 0.0 {
        // The soak counts the bytes live (5% of the throughput, so only then).
        count_live_bytes();
    }
    let inputs = Arc::new(inputs(&spec, SEED, 256)?);
    let credentials = ClusterCredentials::generate()?;
    let client = ClientCredentials::issue(
        &credentials.ca_certificate,
        &credentials.client_ca_key,
        "bench",
    )?;
    let io = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    say!(
        "starting three servers of network {} on 127.0.0.1 (TLS)",
        args.network
    );
    let servers = start_servers(&spec, &credentials, &config, &io)?;
    let mut runs = Vec::new();
    for &clients in &args.clients {
        let run = run_clients(
            &io,
            &servers,
            &client,
            &inputs,
            (clients, args.queries),
            args.kill_percent,
        )?;
        say!(
            "{clients} clients: {:.0} queries/s, latency p50 {:.1} ms, p99 {:.1} ms ({} queries, {} wrong, {} failed, {} clients killed, {} of them before their answer)",
            run.queries_per_second,
            run.latency_p50_ms,
            run.latency_p99_ms,
            run.queries,
            run.wrong,
            run.failed,
            run.killed,
            run.unanswered
        );
        if !run.memory.is_empty() {
            let samples: Vec<String> = run
                .memory
                .iter()
                .map(|m| match m.live_mb {
                    Some(live) => format!(
                        "{live:.1} MB live ({:.0} resident) after {}",
                        m.resident_mb, m.answered
                    ),
                    None => format!("{:.0} MB resident after {}", m.resident_mb, m.answered),
                })
                .collect();
            say!("  memory: {}", samples.join(", "));
        }
        runs.push(run);
    }
    servers.intakes[0].close();
    let mut answered = 0;
    let mut bytes = 0;
    let mut batches = 0;
    for (role, thread) in Role::ALL.into_iter().zip(servers.threads) {
        let (stats, sent) = thread
            .join()
            .map_err(|_| format!("{role}'s thread panicked"))??;
        if role == Role::P0 {
            answered = stats.answered;
            batches = stats.batches;
        }
        bytes += sent;
    }
    let client_bytes = 2 * (QUERY_HEADER_LEN + 8 * spec.input().len()) + 2 * REPLY_HEADER_LEN;
    let correct = runs.iter().all(|r| {
        r.wrong == 0
            && r.failed == 0
            && r.answered + r.unanswered == r.queries
            && r.memory_flat != Some(false)
    });
    if let Some(path) = &args.plot {
        let points: Vec<ServePoint> = runs
            .iter()
            .map(|r| ServePoint {
                clients: r.clients,
                queries_per_second: r.queries_per_second,
                p99_ms: r.latency_p99_ms,
            })
            .collect();
        write_serve_curve(path, &args.network, &points)?;
    }
    let summary = Summary {
        network: args.network.clone(),
        runs,
        batches,
        server_bytes_per_query: bytes as f64 / answered.max(1) as f64,
        client_bytes_per_query: client_bytes,
        correct,
    };
    if args.json {
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        println!(
            "{} batches; {:.0} bytes per query between the servers, {} per client",
            summary.batches, summary.server_bytes_per_query, summary.client_bytes_per_query
        );
        println!("every answer is the twin's prediction: {correct}");
    }
    Ok(correct)
}
