//! Private predictions for outside clients, three servers in one process: every answer is
//! the twin's prediction for its input, no server holds a query or an answer in the clear,
//! and a query only one server received, one that does not fit, or one too many for the
//! queue is refused with a typed error while the other queries are answered.

#![allow(
    clippy::unwrap_used,
    reason = "a test fails loudly on an unexpected error"
)]

use rand::Rng;
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use securenn_dsl::error::QueryProblem;
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::{LayerWeights, TrainConfig, initial_weights};
use securenn_dsl::nn::private::PrivateNetwork;
use securenn_dsl::nn::twin::{Number, Twin};
use securenn_dsl::prelude::*;
use securenn_dsl::prg::Prg;
use securenn_dsl::serve::{
    Intake, Prediction, QueryHalf, Refusal, Reply, ServeConfig, ServeStats, reconstruct, serve,
    split_query,
};
use securenn_dsl::session::run_local_with;

const SEED: u64 = 17;

/// Three servers of network A on threads of this process, and the two queues clients
/// give their halves to.
struct Cluster {
    intakes: [Arc<Intake>; 2],
    servers: JoinHandle<Result<[ServeStats; 3]>>,
}

fn weights(spec: &NetworkSpec) -> Vec<Option<LayerWeights>> {
    initial_weights(spec, SEED)
}

fn start(config: ServeConfig, capacity: usize) -> Cluster {
    start_with(config, capacity, false)
}

/// The cluster; with `helper_fails`, P2 goes away once the model is shared, as a server
/// that crashes.
fn start_with(config: ServeConfig, capacity: usize, helper_fails: bool) -> Cluster {
    let spec = NetworkSpec::a();
    let input_len = spec.input().len();
    let intakes = [
        Arc::new(Intake::new(input_len, capacity)),
        Arc::new(Intake::new(input_len, capacity)),
    ];
    let queues = intakes.clone();
    let servers = thread::spawn(move || {
        run_local_with(&SessionConfig::default(), |session| {
            let (spec, queues, config) = (spec.clone(), queues.clone(), config.clone());
            async move {
                let role = session.role();
                let owned = Private::<P1, _>::new(role, || weights(&spec));
                let mut network =
                    PrivateNetwork::share_weights(&session, spec, &owned, TrainConfig::default())
                        .await?;
                let intake = match role {
                    Role::P0 => Some(&*queues[0]),
                    Role::P1 => Some(&*queues[1]),
                    Role::P2 if helper_fails => {
                        return Err(Error::Program("P2 crashed".to_owned()));
                    }
                    Role::P2 => None,
                };
                serve(&session, &mut network, intake, &config).await
            }
        })
    });
    Cluster { intakes, servers }
}

impl Cluster {
    /// Offers each half to its server (`None`: the client never reaches that server) and
    /// waits for the replies.
    fn ask(&self, halves: [Option<QueryHalf>; 2]) -> [Option<Reply>; 2] {
        let [r0, r1] = [0, 1].map(|i| halves[i].clone().map(|half| self.intakes[i].offer(half)));
        futures::executor::block_on(async move {
            let r0 = match r0 {
                Some(r) => Some(r.await.unwrap()),
                None => None,
            };
            let r1 = match r1 {
                Some(r) => Some(r.await.unwrap()),
                None => None,
            };
            [r0, r1]
        })
    }

    fn stop(self) -> [ServeStats; 3] {
        self.intakes[0].close();
        self.servers.join().unwrap().unwrap()
    }
}

/// Random inputs in [0, 1), fixed point.
fn inputs(count: usize, len: usize, rng: &mut Prg) -> Vec<Vec<Z64>> {
    (0..count)
        .map(|_| {
            (0..len)
                .map(|_| Z64::new(u64::from(rng.next_u32()) % (1 << 13)))
                .collect()
        })
        .collect()
}

fn twin_outputs(inputs: &[Vec<Z64>]) -> Vec<Vec<Z64>> {
    let spec = NetworkSpec::a();
    let mut twin =
        Twin::<Z64>::new(spec.clone(), &weights(&spec), TrainConfig::default(), SEED).unwrap();
    inputs
        .iter()
        .map(|input| twin.forward(input, 1).unwrap())
        .collect()
}

#[test]
fn concurrent_clients_get_the_twins_predictions_and_no_server_holds_them_in_the_clear() {
    let config = ServeConfig {
        scores: true,
        max_batch: 8,
        ..ServeConfig::default()
    };
    let cluster = Arc::new(start(config, 64));
    let spec = NetworkSpec::a();
    let mut rng = Prg::from_os_rng().unwrap();
    let inputs = inputs(12, spec.input().len(), &mut rng);
    let expected = twin_outputs(&inputs);

    // Four clients at once, three queries each; the first input is asked twice.
    let clients: Vec<_> = (0..4)
        .map(|client| {
            let cluster = Arc::clone(&cluster);
            let inputs: Vec<Vec<Z64>> = inputs[client * 3..client * 3 + 3].to_vec();
            thread::spawn(move || {
                let mut rng = Prg::from_os_rng().unwrap();
                inputs
                    .iter()
                    .map(|input| {
                        let halves = split_query(input, &mut rng);
                        let replies = cluster.ask(halves.clone().map(Some));
                        (halves, replies.map(Option::unwrap))
                    })
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let answered: Vec<_> = clients
        .into_iter()
        .flat_map(|client| client.join().unwrap())
        .collect();
    let again = {
        let halves = split_query(&inputs[0], &mut rng);
        (
            halves.clone(),
            cluster.ask(halves.map(Some)).map(Option::unwrap),
        )
    };

    for (i, ((halves, replies), expected)) in answered.iter().zip(&expected).enumerate() {
        let Prediction { class, scores } = reconstruct(replies.clone(), 10).unwrap();
        let best = (0..10)
            .max_by_key(|&j| (expected[j].value() as i64, core::cmp::Reverse(j)))
            .unwrap();
        assert_eq!(class, best, "query {i}: the class is the twin's");
        for (got, want) in scores.unwrap().iter().zip(expected) {
            assert!(
                (got - want.decode()).abs() <= 0.01,
                "query {i}: {got} against {want:?}"
            );
        }
        // What each server held: a half that is not the input, and a class share that is
        // not the class (for every query; 2^-64 to fail by chance).
        for (server, half) in halves.iter().enumerate() {
            assert_ne!(
                half.shares, inputs[i],
                "server {server} held query {i} in the clear"
            );
        }
        for (server, reply) in replies.iter().enumerate() {
            let Reply::Answer(answer) = reply else {
                panic!("query {i} refused by server {server}: {reply:?}")
            };
            assert_ne!(
                answer.class.value(),
                class as u64,
                "server {server} held the class"
            );
        }
    }
    // The same input asked again: both servers' halves and answer shares are fresh.
    let (first_halves, first_replies) = &answered[0];
    for server in 0..2 {
        assert_ne!(again.0[server].shares, first_halves[server].shares);
        assert_ne!(again.1[server], first_replies[server]);
    }
    assert_eq!(
        reconstruct(again.1.clone(), 10).unwrap().class,
        reconstruct(first_replies.clone(), 10).unwrap().class
    );

    let cluster = Arc::into_inner(cluster).unwrap();
    let [p0, p1, p2] = cluster.stop();
    assert_eq!(p0.answered, 13);
    assert_eq!((p1.answered, p2.answered), (13, 13));
    assert!(p0.batches <= 13 && p0.batches == p2.batches);
}

#[test]
fn a_query_one_server_never_received_is_refused_and_costs_the_others_nothing() {
    let config = ServeConfig {
        pair_wait: Duration::from_secs(3),
        unpaired_after: Duration::from_millis(300),
        heartbeat: Duration::from_millis(100),
        ..ServeConfig::default()
    };
    let cluster = start(config, 16);
    let spec = NetworkSpec::a();
    let mut rng = Prg::from_os_rng().unwrap();
    let inputs = inputs(3, spec.input().len(), &mut rng);
    let expected = twin_outputs(&inputs);
    let best = |outputs: &[Z64]| {
        (0..10)
            .max_by_key(|&j| (outputs[j].value() as i64, core::cmp::Reverse(j)))
            .unwrap()
    };

    // Two halves reach P0 alone: one's other half is late, the other's never comes.
    let start = Instant::now();
    let [late_at_p0, late_at_p1] = split_query(&inputs[0], &mut rng);
    let late_reply_p0 = cluster.intakes[0].offer(late_at_p0);
    let [lone_at_p0, _] = split_query(&inputs[1], &mut rng);
    let lone_reply = cluster.intakes[0].offer(lone_at_p0);

    // A whole query is answered as the twin answers it, without waiting for either.
    let halves = split_query(&inputs[2], &mut rng);
    let replies = cluster.ask(halves.map(Some)).map(Option::unwrap);
    assert_eq!(reconstruct(replies, 10).unwrap().class, best(&expected[2]));

    // Only now does the late half reach P1: the pair runs, within the pair wait.
    let late_reply_p1 = cluster.intakes[1].offer(late_at_p1);
    let late = futures::executor::block_on(async { [late_reply_p0.await, late_reply_p1.await] })
        .map(Result::unwrap);
    assert_eq!(reconstruct(late, 10).unwrap().class, best(&expected[0]));

    // The lone half is refused as unpaired once it has waited the pair wait.
    let lone = futures::executor::block_on(lone_reply).unwrap();
    assert!(matches!(
        lone,
        Reply::Refused {
            refusal: Refusal::Unpaired,
            ..
        }
    ));
    assert!(start.elapsed() >= Duration::from_secs(3));

    // Only P1 received it: P1 refuses it once it has waited `unpaired_after`.
    let start = Instant::now();
    let [_, h1] = split_query(&inputs[0], &mut rng);
    let [_, at_p1] = cluster.ask([None, Some(h1)]);
    let reply = at_p1.unwrap();
    assert!(matches!(
        reply,
        Reply::Refused {
            refusal: Refusal::Unpaired,
            ..
        }
    ));
    assert!(start.elapsed() >= Duration::from_millis(300));
    let error = reconstruct([reply.clone(), reply], 10).unwrap_err();
    assert!(
        matches!(error, Error::Query(QueryProblem::Unpaired)),
        "{error}"
    );
    let [p0, ..] = cluster.stop();
    assert_eq!((p0.answered, p0.unpaired), (2, 1));
}

#[test]
fn a_full_queue_answers_busy_and_a_query_that_does_not_fit_is_refused() {
    let spec = NetworkSpec::a();
    let intake = Intake::new(spec.input().len(), 2);
    let mut rng = Prg::from_os_rng().unwrap();
    let inputs = inputs(3, spec.input().len(), &mut rng);
    let first = split_query(&inputs[0], &mut rng)[0].clone();
    let second = split_query(&inputs[1], &mut rng)[0].clone();
    let waiting = vec![intake.offer(first.clone()), intake.offer(second)];
    // An id already waiting is refused as a duplicate.
    let duplicate = futures::executor::block_on(intake.offer(first.clone())).unwrap();
    assert_eq!(
        duplicate,
        Reply::Refused {
            id: first.id,
            refusal: Refusal::DuplicateId
        }
    );
    let third = split_query(&inputs[2], &mut rng)[0].clone();
    let busy = futures::executor::block_on(intake.offer(third.clone())).unwrap();
    assert_eq!(
        busy,
        Reply::Refused {
            id: third.id,
            refusal: Refusal::Busy
        }
    );

    let short = QueryHalf {
        id: third.id,
        shares: vec![Z64::ZERO; 3],
    };
    let refused = futures::executor::block_on(intake.offer(short)).unwrap();
    assert!(matches!(
        refused,
        Reply::Refused {
            refusal: Refusal::Malformed,
            ..
        }
    ));

    // A closed queue refuses new halves; those waiting stay for the serving loop, which
    // refuses them (tests above), or end with the queue.
    intake.close();
    let late = futures::executor::block_on(intake.offer(third)).unwrap();
    assert!(matches!(
        late,
        Reply::Refused {
            refusal: Refusal::Stopped,
            ..
        }
    ));
    assert_eq!(intake.waiting(), 2);
    drop(intake);
    for reply in waiting {
        assert!(
            futures::executor::block_on(reply).is_err(),
            "the queue is gone"
        );
    }
}

#[test]
fn a_server_that_fails_ends_every_open_query_with_an_error_at_its_client() {
    let cluster = start_with(ServeConfig::default(), 16, true);
    let spec = NetworkSpec::a();
    let mut rng = Prg::from_os_rng().unwrap();
    let inputs = inputs(3, spec.input().len(), &mut rng);
    // The batch that runs them needs P2, which is gone: both servers refuse them.
    let replies: Vec<_> = inputs
        .iter()
        .map(|input| {
            let [h0, h1] = split_query(input, &mut rng);
            (cluster.intakes[0].offer(h0), cluster.intakes[1].offer(h1))
        })
        .collect();
    for (r0, r1) in replies {
        let replies =
            futures::executor::block_on(async { [r0.await, r1.await] }).map(|reply| reply.unwrap());
        let error = reconstruct(replies, 10).unwrap_err();
        assert!(
            matches!(error, Error::Query(QueryProblem::ServerStopped)),
            "{error}"
        );
    }
    // A later half finds the queue closed, and the servers report why they stopped.
    let late = split_query(&inputs[0], &mut rng)[0].clone();
    let reply = futures::executor::block_on(cluster.intakes[0].offer(late)).unwrap();
    assert!(matches!(
        reply,
        Reply::Refused {
            refusal: Refusal::Stopped,
            ..
        }
    ));
    assert!(cluster.servers.join().unwrap().is_err());
}
