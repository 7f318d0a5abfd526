//! The servers' loop: batch the queries both P0 and P1 hold, classify the batch on the
//! shares, and send each client its two halves of the answer, one from each server.
//!
//! Each batch is one call of three messages before the network runs:
//!
//! 1. P0 → P1: the batch's ids (a count, then the ids; `max_batch` slots).
//! 2. P1 → P0: which of them P1 holds. Only those run: a server computes on a query only
//!    when its peer holds the other half. P0 keeps the others for a later batch (their
//!    halves may still be on their way to P1) until they are older than `pair_wait`, then
//!    refuses them as unpaired; no one waits for them.
//! 3. P0 → P2: how many queries run (P2 deals for the batch; it learns its size, nothing
//!    else).
//!
//! With no query for `heartbeat`, P0 sends an empty batch, so that an idle cluster's
//! sessions stay alive, and P1 refuses the halves that have waited longer than
//! `unpaired_after` (their other half never reached P0). When P0's queue closes, P0 sends
//! a batch that says "stop", and every server's loop ends.

use std::time::Duration;

use super::intake::{Intake, Taken};
use super::query::{AnswerHalf, QueryId, Refusal, Reply};
use crate::error::{Error, Result};
use crate::nn::private::PrivateNetwork;
use crate::party::Role;
use crate::ring::{Ring, Z64};
use crate::session::Session;
use crate::share::Shared;

/// Message steps of a batch call.
const STEP_IDS: u16 = 0;
const STEP_HELD: u16 = 1;
const STEP_COUNT: u16 = 2;
/// The count that ends the loop.
const STOP: u64 = u64::MAX;
/// The longest P0 waits before it proposes again a half P1 lacked.
const RETRY_AT_MOST: Duration = Duration::from_millis(50);

/// How the servers batch queries. P0, P1 and P2 must use the same `max_batch`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServeConfig {
    /// The most queries in one batch (default 64).
    pub max_batch: usize,
    /// How long the first query of a batch waits for others (default 0: a batch closes as
    /// soon as the servers are free, and the queries that arrive while it runs form the
    /// next one, so that batches grow with the load).
    pub max_wait: Duration,
    /// How long a half at P0 may wait for P1 to receive the other half before it is refused
    /// as unpaired (default 500 ms). Meanwhile it is proposed again every eighth of this
    /// (at least 1 ms, at most 50 ms apart), and no other query waits for it.
    pub pair_wait: Duration,
    /// How long a half waits at P1 for P0 to batch it before it is refused as unpaired
    /// (default 2 s; keep it above P0's retry delay and a batch's time).
    pub unpaired_after: Duration,
    /// How long P0 waits for a query before it sends an empty batch (default 1 s).
    pub heartbeat: Duration,
    /// Whether answers carry the network's outputs as well as the class (default false:
    /// the client learns the class only).
    pub scores: bool,
}

impl Default for ServeConfig {
    fn default() -> Self {
        ServeConfig {
            max_batch: 64,
            max_wait: Duration::ZERO,
            pair_wait: Duration::from_millis(500),
            unpaired_after: Duration::from_secs(2),
            heartbeat: Duration::from_secs(1),
            scores: false,
        }
    }
}

/// What one server's loop did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServeStats {
    /// Batches that ran (empty ones not counted).
    pub batches: u64,
    /// Queries answered.
    pub answered: u64,
    /// Queries refused because the peer server lacked the other half (counted at P0).
    pub unpaired: u64,
}

/// Runs this party's side of the service until P0's `intake` closes: P0 and P1 pass their
/// queue of client halves, P2 passes `None`. Each batch runs
/// [`PrivateNetwork::classify`] on the shares; the class shares (and with
/// [`ServeConfig::scores`] the output shares) go back through each half's reply.
///
/// # Errors
///
/// [`Error::WrongRole`] if P0 or P1 has no queue or P2 has one, [`Error::InvalidArgument`]
/// for a batch size of 0 or a peer's malformed batch message, and the session's and the
/// network's errors. On an error every query waiting or running is refused as stopped and
/// the queue is closed.
pub async fn serve(
    session: &Session,
    network: &mut PrivateNetwork,
    intake: Option<&Intake>,
    config: &ServeConfig,
) -> Result<ServeStats> {
    if config.max_batch == 0 {
        return Err(Error::InvalidArgument {
            name: "max_batch",
            problem: "a batch holds at least one query".to_owned(),
        });
    }
    let role = session.role();
    let result = match (role, intake) {
        (Role::P2, None) => helper_loop(session, network, config).await,
        (Role::P0 | Role::P1, Some(intake))
            if intake.input_len() != network.spec().input().len() =>
        {
            Err(Error::InvalidArgument {
                name: "intake",
                problem: format!(
                    "it takes halves of {} values, the network's input has {}",
                    intake.input_len(),
                    network.spec().input().len()
                ),
            })
        }
        (Role::P0 | Role::P1, Some(intake)) => {
            let result = holder_loop(session, network, intake, config).await;
            intake.close();
            intake.refuse_waiting();
            result
        }
        _ => Err(Error::WrongRole {
            operation: "serve",
            role,
            reason: "P0 and P1 serve from a queue of client halves, P2 from none",
        }),
    };
    if let Err(error) = &result {
        tracing::warn!(%role, %error, "serving stopped");
    }
    result
}

async fn holder_loop(
    session: &Session,
    network: &mut PrivateNetwork,
    intake: &Intake,
    config: &ServeConfig,
) -> Result<ServeStats> {
    let role = session.role();
    let mut stats = ServeStats::default();
    loop {
        let call = session.call("serve batch");
        let batch = if role == Role::P0 {
            let ids = intake
                .next_batch(config.max_batch, config.max_wait, config.heartbeat)
                .await;
            let Some(ids) = ids else {
                call.send(Role::P1, STEP_IDS, &ids_message(None, config.max_batch))
                    .await?;
                call.send(Role::P2, STEP_COUNT, &[Z64::new(STOP)]).await?;
                return Ok(stats);
            };
            call.send(
                Role::P1,
                STEP_IDS,
                &ids_message(Some(&ids), config.max_batch),
            )
            .await?;
            let held = call
                .recv::<Z64>(Role::P1, STEP_HELD, config.max_batch)
                .await?;
            let held: Vec<bool> = held.iter().map(|h| h.value() == 1).collect();
            let retry = (config.pair_wait / 8).clamp(Duration::from_millis(1), RETRY_AT_MOST);
            let (batch, unpaired) = intake.settle(&ids, &held, config.pair_wait, retry);
            stats.unpaired += unpaired;
            call.send(Role::P2, STEP_COUNT, &[Z64::new(batch.len() as u64)])
                .await?;
            batch
        } else {
            let message = call
                .recv::<Z64>(Role::P0, STEP_IDS, 1 + 2 * config.max_batch)
                .await?;
            let Some(ids) = read_ids(&message, config.max_batch)? else {
                return Ok(stats);
            };
            let taken = intake.take(&ids);
            let held: Vec<Z64> = (0..config.max_batch)
                .map(|i| Z64::new(u64::from(taken.get(i).is_some_and(Option::is_some))))
                .collect();
            call.send(Role::P0, STEP_HELD, &held).await?;
            intake.expire(config.unpaired_after);
            taken.into_iter().flatten().collect()
        };
        drop(call);
        if batch.is_empty() {
            continue;
        }
        match run_batch(session, network, &batch, config.scores).await {
            Ok(answers) => {
                stats.batches += 1;
                stats.answered += batch.len() as u64;
                for (taken, answer) in batch.into_iter().zip(answers) {
                    taken.answer(Reply::Answer(answer));
                }
            }
            Err(error) => {
                for taken in batch {
                    let (id, refusal) = (taken.id, Refusal::Stopped);
                    taken.answer(Reply::Refused { id, refusal });
                }
                return Err(error);
            }
        }
    }
}

async fn helper_loop(
    session: &Session,
    network: &mut PrivateNetwork,
    config: &ServeConfig,
) -> Result<ServeStats> {
    let mut stats = ServeStats::default();
    loop {
        let call = session.call("serve batch");
        let count = call.recv::<Z64>(Role::P0, STEP_COUNT, 1).await?;
        drop(call);
        let count = match count.first().map(|c| c.value()) {
            Some(STOP) => return Ok(stats),
            Some(count) => within(count, config.max_batch)?,
            None => return Err(malformed("P0's batch size is missing")),
        };
        if count == 0 {
            continue;
        }
        let shape = network.spec().input().batch(count);
        let input = Shared::from_share(Role::P2, shape, Vec::new())?;
        network.classify(session, &input, count).await?;
        stats.batches += 1;
        stats.answered += count as u64;
    }
}

/// The batch's class shares (and output shares) at a share holder.
async fn run_batch(
    session: &Session,
    network: &mut PrivateNetwork,
    batch: &[Taken],
    scores: bool,
) -> Result<Vec<AnswerHalf>> {
    let shape = network.spec().input().batch(batch.len());
    let data = batch
        .iter()
        .flat_map(|t| t.shares.iter().copied())
        .collect();
    let input = Shared::from_share(session.role(), shape, data)?;
    let (outputs, classes) = network.classify(session, &input, batch.len()).await?;
    let outputs_per_query = network.spec().output().len();
    Ok(batch
        .iter()
        .zip(classes.data())
        .zip(outputs.data().chunks_exact(outputs_per_query))
        .map(|((taken, &class), outputs)| AnswerHalf {
            id: taken.id,
            class,
            scores: if scores { outputs.to_vec() } else { Vec::new() },
        })
        .collect())
}

/// P0's batch message: the count (or [`STOP`]), then each id as two words, zero-padded to
/// `max_batch` ids.
fn ids_message(ids: Option<&[QueryId]>, max_batch: usize) -> Vec<Z64> {
    let mut message = vec![Z64::ZERO; 1 + 2 * max_batch];
    message[0] = Z64::new(ids.map_or(STOP, |ids| ids.len() as u64));
    for (slot, id) in message[1..].chunks_exact_mut(2).zip(ids.unwrap_or(&[])) {
        let [low, high] = id.words();
        slot[0] = Z64::new(low);
        slot[1] = Z64::new(high);
    }
    message
}

/// The ids of P0's batch message; `None` for "stop".
fn read_ids(message: &[Z64], max_batch: usize) -> Result<Option<Vec<QueryId>>> {
    let count = match message.first().map(|c| c.value()) {
        Some(STOP) => return Ok(None),
        Some(count) => within(count, max_batch)?,
        None => return Err(malformed("P0's batch message is empty")),
    };
    let ids = message[1..]
        .chunks_exact(2)
        .take(count)
        .map(|words| QueryId::from_words([words[0].value(), words[1].value()]))
        .collect();
    Ok(Some(ids))
}

/// A batch size from P0, at most `max_batch`.
fn within(count: u64, max_batch: usize) -> Result<usize> {
    usize::try_from(count)
        .ok()
        .filter(|&count| count <= max_batch)
        .ok_or_else(|| malformed("P0's batch holds more queries than max_batch"))
}

fn malformed(reason: &'static str) -> Error {
    Error::InvalidArgument {
        name: "serve batch message",
        problem: reason.to_owned(),
    }
}
