//! `securenn serve --id N --config cluster.toml`: one server of private predictions.
//!
//! Each of P0, P1 and P2 runs it on its own machine, in the TLS cluster of `securenn
//! keygen`. The model is loaded once, kept in shares: P1 shares its plaintext model
//! (`--weights model.safetensors`, read by P1 alone), or P0 and P1 each read their own
//! share file of a model trained privately (`--weights DIR`). Then P0 and P1 take
//! clients' queries at the addresses of the configuration's `[clients]` section, over TLS
//! with client certificates issued by the clients' CA (`securenn keygen --client NAME`),
//! and the three answer them in batches ([`securenn_dsl::serve`]). No server ever holds a
//! query or an answer in the clear.
//!
//! The service runs until P0 is stopped (Ctrl-C or SIGTERM): it finishes the batch in
//! hand, refuses the queries still waiting, and the three servers stop. A server that
//! fails ends every open query with an error at its client, and the two others stop.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use securenn_dsl::net::tls::ClientAuthority;
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::party::Role;
use securenn_dsl::serve::{ClientLimits, Intake, ServeConfig, ServeStats, accept_clients, serve};
use securenn_dsl::session::{Job, SessionConfig};
use serde::Serialize;

use crate::cluster::{ClusterParty, resolve_address};
use crate::infer::{model_identity, party_weights, private_network};
use crate::processes::CliError;

/// Arguments of `securenn serve`.
#[derive(Debug, clap::Args)]
pub(crate) struct Args {
    /// This party's number: 0, 1 (the two that take clients' queries) or 2 (the helper).
    #[arg(long)]
    id: usize,
    /// The cluster configuration, with a `[clients]` section (`securenn keygen` writes one).
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// The network: A, B, C or D (the paper's), or a network file (`.toml`).
    #[arg(long, default_value = "A")]
    network: String,
    /// P1's plaintext model (a `.safetensors` file, which P1 shares once and P0 and P2 do
    /// not read), or the directory of the parties' shares (`party0.safetensors`,
    /// `party1.safetensors`, as `securenn train --save DIR` leaves them; each party reads
    /// its own, the helper none). Every party gives the same.
    #[arg(long, value_name = "FILE|DIR")]
    weights: PathBuf,
    /// The most queries in one batch; the three servers must agree.
    #[arg(long, default_value_t = 64)]
    max_batch: usize,
    /// How long, in milliseconds, a batch's first query waits for others (0: a batch
    /// closes as soon as the servers are free, and grows with the load).
    #[arg(long, default_value_t = 0)]
    max_wait_ms: u64,
    /// Send clients the network's outputs (scores) as well as the class.
    #[arg(long)]
    scores: bool,
    /// The most queries waiting at P0 or P1; more are answered "busy".
    #[arg(long, default_value_t = 256)]
    queue: usize,
    /// Print exactly one JSON object when the service stops, on the last line.
    #[arg(long)]
    json: bool,
}

/// What a server reports when the service stops.
#[derive(Debug, Serialize)]
struct Summary {
    party: usize,
    batches: u64,
    answered: u64,
    unpaired: u64,
    bytes_sent: u64,
}

/// The job the three servers compare before anything secret moves.
fn job(args: &Args, spec: &NetworkSpec, role: Role) -> Result<Job, CliError> {
    let source = party_weights(Some(&args.weights))?;
    let mut job = Job::new()
        .with("command", "serve")
        .with("network", spec.name())
        .with("architecture", spec.digest())
        .with(
            "weights",
            if args.weights.extension().is_some_and(|e| e == "safetensors") {
                "a model held by P1"
            } else {
                "the shares held by P0 and P1"
            },
        )
        .with("max batch", args.max_batch)
        .with("scores", args.scores);
    if let Some(model) = model_identity(&source, spec, role)? {
        job = job.with("model", model);
    }
    Ok(job)
}

/// Stops the service at the first Ctrl-C or SIGTERM, by closing P0's queue.
async fn stop_on_signal(intake: Arc<Intake>) {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                say!("P0: cannot listen for SIGTERM ({error}); stop with Ctrl-C");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
    say!("P0: stopping: the batch in hand finishes, the queries waiting are refused");
    intake.close();
}

/// The error of a server whose client listener failed.
fn listener_failed(role: Role, why: &dyn std::fmt::Display) -> CliError {
    format!("{role}: the client listener failed: {why}").into()
}

/// Runs `securenn serve`; `Ok(true)` once the service stopped as asked.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub(crate) fn run(args: &Args) -> Result<bool, CliError> {
    let cluster = ClusterParty::read(&args.config, args.id, false)?;
    let role = cluster.role;
    let spec = NetworkSpec::resolve(&args.network)?;
    if args.max_batch == 0 || args.max_batch > 4096 || args.queue == 0 {
        return Err("--max-batch must be between 1 and 4096, and --queue at least 1".into());
    }
    // P0 and P1 check their client section, and bind their client port, before connecting:
    // a server that cannot take queries stops here, not after its peers started.
    let clients = match (role, &cluster.clients) {
        (Role::P2, _) => None,
        (_, Some((address, ca))) => Some((
            resolve_address(address, &format!("{role}'s client address"))?,
            ClientAuthority::from_file(ca)?,
        )),
        (_, None) => {
            return Err(format!(
                "{}: no [clients] section says where {role} takes clients' queries (p0, p1 and ca)",
                cluster.config.display()
            )
            .into());
        }
    };
    let session_config = SessionConfig {
        job: job(args, &spec, role)?,
        ..SessionConfig::default()
    };
    let config = ServeConfig {
        max_batch: args.max_batch,
        max_wait: Duration::from_millis(args.max_wait_ms),
        scores: args.scores,
        ..ServeConfig::default()
    };
    let source = party_weights(Some(&args.weights))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (stats, sent): (ServeStats, u64) = runtime.block_on(async {
        let listener = match clients {
            Some((address, authority)) => {
                let listener = tokio::net::TcpListener::bind(address)
                    .await
                    .map_err(|e| format!("{role}: cannot listen for clients on {address}: {e}"))?;
                Some((listener, address, authority))
            }
            None => None,
        };
        let session = cluster.connect(&session_config).await?;
        let identity = cluster.into_identity();
        let mut network = private_network(&session, &spec, &source).await?;
        let input_len = spec.input().len();
        // Clients are accepted once the model is loaded (those that connect earlier wait).
        let (intake, mut accepting) = match listener {
            None => (None, None),
            Some((listener, address, authority)) => {
                let intake = Arc::new(Intake::new(input_len, args.queue));
                let identity = identity.ok_or("a server needs its TLS credentials")?;
                let queue = Arc::clone(&intake);
                let accepting = tokio::spawn(async move {
                    let limits = ClientLimits::new(input_len);
                    accept_clients(listener, &identity, &authority, queue, limits).await
                });
                say!(
                    "{role}: serving network {} to clients on {address} (batches of at most {})",
                    spec.name(),
                    args.max_batch
                );
                if role == Role::P0 {
                    tokio::spawn(stop_on_signal(Arc::clone(&intake)));
                }
                (Some(intake), Some(accepting))
            }
        };
        session.reset_stats();
        let serving = serve(&session, &mut network, intake.as_deref(), &config);
        tokio::pin!(serving);
        let (served, listener_ended) = match accepting.as_mut() {
            Some(task) => tokio::select! {
                served = &mut serving => (served.map_err(CliError::from), false),
                ended = task => match ended {
                    // The queue closed (P0 stopping): the loop ends after its batch.
                    Ok(Ok(())) => ((&mut serving).await.map_err(CliError::from), true),
                    // A listener that failed leaves this server deaf: it stops with an error.
                    Ok(Err(error)) => (Err(listener_failed(role, &error)), true),
                    Err(error) => (Err(listener_failed(role, &error)), true),
                },
            },
            None => (serving.await.map_err(CliError::from), false),
        };
        if let Some(intake) = &intake {
            intake.close();
        }
        // The connections write their last replies (a stopping service's refusals) before
        // the runtime goes; the listener waits for them, a message's timeout at most.
        if let Some(task) = accepting.filter(|_| !listener_ended) {
            task.await.ok();
        }
        Ok::<_, CliError>((served?, session.stats().total_sent()))
    })?;
    // Client connections still open are dropped with the runtime.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if args.json {
        let summary = Summary {
            party: role.index(),
            batches: stats.batches,
            answered: stats.answered,
            unpaired: stats.unpaired,
            bytes_sent: sent,
        };
        println!("{}", serde_json::to_string(&summary)?);
    } else {
        say!(
            "{role}: stopped after {} queries in {} batches ({} unpaired), sent {:.1} MB",
            stats.answered,
            stats.batches,
            stats.unpaired,
            sent as f64 / 1e6
        );
    }
    Ok(true)
}
