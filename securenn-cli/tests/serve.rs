//! `securenn serve` and `securenn query`: three server processes of a TLS cluster answer a
//! client's private queries; an unknown client is refused; a server that dies ends the
//! client's queries with a clear error; stopping P0 stops the three cleanly.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    reason = "a test fails loudly on an unexpected error"
)]

mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use common::{Scratch, failure, json, last_json, run_python_script, securenn, signal};
use securenn_dsl::nn::NetworkSpec;
use securenn_dsl::nn::config::TrainConfig;
use securenn_dsl::nn::mnist::Mnist;
use securenn_dsl::nn::twin::{Number as _, Twin};
use securenn_dsl::nn::weights::load_model;
use securenn_dsl::ring::Z64;

/// The server processes of a test; any still running at the end is killed.
struct Servers(Vec<Child>);

impl Drop for Servers {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The vendored model of network C, trained by the plaintext twin.
fn model_c() -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../models/C.safetensors")
        .to_string_lossy()
        .into_owned()
}

/// A cluster in `scratch/NAME` on four free ports of 127.0.0.1 (two for the parties, two
/// for clients) and a client `alice` of it; returns the cluster's and the client's
/// configuration.
fn cluster_and_client(scratch: &Scratch, name: &str) -> (PathBuf, PathBuf) {
    // Four listeners open at once: four different ports.
    let listeners: Vec<std::net::TcpListener> = (0..4)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").unwrap())
        .collect();
    let ports: Vec<u16> = listeners
        .iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect();
    drop(listeners);
    let [p0, p1, c0, c1] = ports[..] else {
        unreachable!("four ports")
    };
    let out = scratch.path(name);
    let address = |port: u16| format!("127.0.0.1:{port}");
    let made = securenn(&[
        "keygen",
        "--out",
        &out,
        "--p0",
        &address(p0),
        "--p1",
        &address(p1),
        "--p0-clients",
        &address(c0),
        "--p1-clients",
        &address(c1),
    ]);
    assert!(made.status.success(), "{made:?}");
    let client = scratch.path(&format!("{name}-alice"));
    let issued = securenn(&[
        "keygen",
        "--client",
        "alice",
        "--cluster",
        &out,
        "--out",
        &client,
    ]);
    assert!(issued.status.success(), "{issued:?}");
    (
        Path::new(&out).join("cluster.toml"),
        Path::new(&client).join("client.toml"),
    )
}

/// Starts `securenn serve` for the three parties of `config`, serving network C from the
/// vendored model (shared once by P1).
fn start_servers(config: &Path) -> Servers {
    start_servers_of(config, "C", &model_c())
}

/// Starts `securenn serve` for the three parties of `config`, serving `network` with the
/// model `weights` (shared once by P1).
fn start_servers_of(config: &Path, network: &str, weights: &str) -> Servers {
    Servers(
        (0..3)
            .map(|id| {
                Command::new(env!("CARGO_BIN_EXE_securenn"))
                    .args(["serve", "--id", &id.to_string(), "--config"])
                    .arg(config)
                    .args(["--network", network, "--weights", weights, "--json"])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect(),
    )
}

/// `securenn query` of network C's first `queries` MNIST test images, `concurrency` at once.
fn query(client: &Path, queries: usize, concurrency: usize) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_securenn"));
    command.args(["query", "--config"]).arg(client).args([
        "--network",
        "C",
        "--queries",
        &queries.to_string(),
        "--concurrency",
        &concurrency.to_string(),
        "--json",
    ]);
    command
}

/// Waits for `child` to exit, for at most `limit`, and returns its output.
fn wait_output(mut child: Child, limit: Duration, what: &str) -> Output {
    let started = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if started.elapsed() > limit {
            let _ = child.kill();
            let output = child.wait_with_output().unwrap();
            panic!(
                "{what} did not exit within {limit:?}: {}",
                String::from_utf8_lossy(&output.stderr)
            );
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// The twin's class for each of MNIST's first `count` test images, with network C and the
/// vendored model, and the margin between its two largest outputs.
fn twin_classes(count: usize) -> Vec<(usize, f64)> {
    let spec = NetworkSpec::resolve("C").unwrap();
    let weights = load_model(Path::new(&model_c()), &spec).unwrap();
    let mut twin = Twin::<Z64>::new(spec, &weights, TrainConfig::default(), 0).unwrap();
    let test = Mnist::load(Mnist::default_dir()).unwrap().test;
    (0..count)
        .map(|index| {
            let input: Vec<Z64> = test.encode(&[index]).unwrap();
            let mut outputs: Vec<(f64, usize)> = twin
                .forward(&input, 1)
                .unwrap()
                .iter()
                .enumerate()
                .map(|(class, output)| (output.decode(), class))
                .collect();
            outputs.sort_by(|a, b| b.0.total_cmp(&a.0));
            (outputs[0].1, outputs[0].0 - outputs[1].0)
        })
        .collect()
}

#[test]
fn three_server_processes_answer_a_clients_private_queries_and_stop_cleanly() {
    let scratch = Scratch::new("serve");
    let (cluster, client) = cluster_and_client(&scratch, "cluster");
    let mut servers = start_servers(&cluster);

    let predictions = scratch.path("predictions.csv");
    let answered = query(&client, 100, 4)
        .args(["--out", &predictions])
        .output()
        .unwrap();
    assert!(
        answered.status.success(),
        "{}",
        String::from_utf8_lossy(&answered.stderr)
    );
    let summary = last_json(&answered);
    assert_eq!(summary["queries"], 100, "{summary}");
    // The same model and images classified privately by `infer`, whose classes the twin's
    // agree with: the served predictions are as right.
    let inferred = json(&[
        "infer",
        "--network",
        "C",
        "--weights",
        &model_c(),
        "--images",
        "100",
        "--json",
    ]);
    let (served, private) = (
        summary["accuracy"].as_f64().unwrap(),
        inferred["accuracy"].as_f64().unwrap(),
    );
    assert!(
        (served - private).abs() <= 0.011,
        "served {served}, infer {private}"
    );
    assert!(served >= 0.97, "{summary}");
    let csv = std::fs::read_to_string(&predictions).unwrap();
    let rows: Vec<&str> = csv.lines().collect();
    assert_eq!(rows[0], "index,label,class");
    assert_eq!(rows.len(), 101);
    // Each served class is the twin's, wherever the twin's two largest outputs differ by
    // more than twice the private outputs' fixed-point error (elsewhere either may win).
    let twin = twin_classes(100);
    let mut compared = 0;
    for (row, (class, margin)) in rows[1..].iter().zip(&twin) {
        let served: usize = row.rsplit(',').next().unwrap().parse().unwrap();
        if *margin > 0.02 {
            assert_eq!(served, *class, "{row}: the twin says {class}");
            compared += 1;
        }
    }
    assert!(compared >= 90, "only {compared} of 100 compared");

    // A client whose certificate another cluster issued is refused (it trusts this
    // cluster's servers: only its own certificate is foreign), and the servers go on.
    let (_, stranger) = cluster_and_client(&scratch, "other");
    std::fs::copy(
        client.with_file_name("ca.pem"),
        stranger.with_file_name("ca.pem"),
    )
    .unwrap();
    let stranger_config = std::fs::read_to_string(&stranger).unwrap();
    let ours = std::fs::read_to_string(&client).unwrap();
    let servers_section = |config: &str| {
        config[config.find("[servers]").unwrap()..config.find("[tls]").unwrap()].to_owned()
    };
    std::fs::write(
        &stranger,
        stranger_config.replace(&servers_section(&stranger_config), &servers_section(&ours)),
    )
    .unwrap();
    let refused = query(&stranger, 1, 1).output().unwrap();
    assert_eq!(refused.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&refused.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: test example 0: ") && last.contains("connection with P"),
        "{stderr}"
    );
    let again = query(&client, 8, 2).output().unwrap();
    assert!(
        again.status.success(),
        "{}",
        String::from_utf8_lossy(&again.stderr)
    );

    // SIGTERM at P0 stops the service: the three exit cleanly with their figures.
    signal(servers.0[0].id(), "-TERM");
    let mut answered_at = Vec::new();
    for (id, child) in servers.0.drain(..).enumerate() {
        let output = wait_output(child, Duration::from_secs(20), &format!("server P{id}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "P{id}: {stderr}");
        let report = last_json(&output);
        answered_at.push(report["answered"].as_u64().unwrap());
    }
    assert_eq!(answered_at[0], 108, "{answered_at:?}");
    assert_eq!(answered_at[0], answered_at[1], "{answered_at:?}");
}

/// Kills server `victim` while a client has queries in flight: the client exits with a
/// clear error, and the two other servers with an error, within the default timeouts.
fn killing_a_server_ends_the_clients_queries(victim: usize) {
    let scratch = Scratch::new(&format!("serve-kill-{victim}"));
    let (cluster, client) = cluster_and_client(&scratch, "cluster");
    let mut servers = start_servers(&cluster);
    // Once the servers answer (a first query, run to its end),
    let ready = query(&client, 1, 1).output().unwrap();
    assert!(
        ready.status.success(),
        "{}",
        String::from_utf8_lossy(&ready.stderr)
    );
    // enough queries to be still running when the server dies.
    let mut asking = query(&client, 10_000, 8)
        .stderr(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(1));
    assert!(
        asking.try_wait().unwrap().is_none(),
        "the client ended early"
    );
    let victim_process = servers.0.remove(victim);
    let mut victim_process = Servers(vec![victim_process]);
    victim_process.0[0].kill().unwrap();
    let _ = victim_process.0[0].wait();
    let client_output = wait_output(asking, Duration::from_secs(30), "the client");
    let stderr = String::from_utf8_lossy(&client_output.stderr);
    assert_eq!(client_output.status.code(), Some(1), "{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("error: test example ")
            && (last.contains("the servers stopped") || last.contains(&format!("P{victim}"))),
        "{stderr}"
    );
    for child in servers.0.drain(..) {
        let output = wait_output(child, Duration::from_secs(30), "a surviving server");
        let mut stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        stderr.push_str(&String::from_utf8_lossy(&output.stdout));
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    assert!(started.elapsed() < Duration::from_secs(60));
}

#[test]
fn killing_p1_mid_service_ends_the_clients_queries_with_a_clear_error() {
    killing_a_server_ends_the_clients_queries(1);
}

#[test]
fn killing_p2_mid_service_ends_the_clients_queries_with_a_clear_error() {
    killing_a_server_ends_the_clients_queries(2);
}

#[test]
fn a_server_or_client_configuration_that_cannot_work_is_one_clear_error() {
    let scratch = Scratch::new("serve-config");
    let (cluster, client) = cluster_and_client(&scratch, "cluster");
    // A cluster without a [clients] section cannot serve.
    let text = std::fs::read_to_string(&cluster).unwrap();
    let without = scratch.0.join("cluster/no-clients.toml");
    std::fs::write(
        &without,
        &text[..text.find("# Where P0 and P1 take").unwrap()],
    )
    .unwrap();
    let stderr = failure(&[
        "serve",
        "--id",
        "0",
        "--config",
        without.to_str().unwrap(),
        "--weights",
        &model_c(),
        "--network",
        "C",
    ]);
    assert!(stderr.contains("no [clients] section"), "{stderr}");
    let stderr = failure(&[
        "keygen",
        "--client",
        "bob",
        "--cluster",
        &scratch.path("missing"),
        "--out",
        &scratch.path("bob"),
    ]);
    assert!(stderr.contains("missing"), "{stderr}");
    // A client's configuration: missing, malformed, or naming missing credentials.
    let missing = scratch.path("none.toml");
    let stderr = failure(&["query", "--config", &missing, "--network", "C"]);
    assert!(stderr.contains("none.toml"), "{stderr}");
    let garbled = scratch.0.join("garbled.toml");
    std::fs::write(&garbled, "[servers]\np0 = 7\n").unwrap();
    let stderr = failure(&["query", "--config", garbled.to_str().unwrap()]);
    assert!(stderr.contains("garbled.toml"), "{stderr}");
    let text = std::fs::read_to_string(&client).unwrap();
    std::fs::write(&client, text.replace("client.key", "nokey.key")).unwrap();
    let stderr = failure(&["query", "--config", client.to_str().unwrap()]);
    assert!(stderr.contains("nokey.key"), "{stderr}");
}

#[test]
fn a_network_file_is_served_and_a_clients_own_data_file_queried() {
    let scratch = Scratch::new("serve-data");
    let npz = scratch.0.join("npz");
    run_python_script("tests/npz/make_npz.py", &npz);
    let data = npz.join("bars.npz").to_string_lossy().into_owned();
    let network = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../tests/npz/bars.toml")
        .to_string_lossy()
        .into_owned();
    // A model trained in the clear by the twin, which P1 shares once.
    let model = scratch.path("model");
    let trained = json(&[
        "train",
        "--network",
        &network,
        "--data",
        &data,
        "--plaintext",
        "--epochs",
        "8",
        "--batch",
        "32",
        "--lr",
        "0.0625",
        "--save",
        &model,
        "--json",
    ]);
    let twin_accuracy = trained["test_accuracy"].as_f64().unwrap();
    let (cluster, client) = cluster_and_client(&scratch, "cluster");
    let weights = Path::new(&model).join("model.safetensors");
    let mut servers = start_servers_of(&cluster, &network, weights.to_str().unwrap());
    let served = json(&[
        "query",
        "--config",
        client.to_str().unwrap(),
        "--network",
        &network,
        "--data",
        &data,
        "--concurrency",
        "4",
        "--json",
    ]);
    // Every test row of the file, classified as the twin classifies it (two rows of 256
    // may fall either way where the twin's top two outputs nearly tie).
    assert_eq!(served["queries"], 256, "{served}");
    let accuracy = served["accuracy"].as_f64().unwrap();
    assert!(
        (accuracy - twin_accuracy).abs() <= 2.0 / 256.0 + 1e-9,
        "served {accuracy}, twin {twin_accuracy}"
    );
    // A data file the network does not take is one clear error naming it.
    let stderr = failure(&[
        "query",
        "--config",
        client.to_str().unwrap(),
        "--network",
        "C",
        "--data",
        &data,
    ]);
    assert!(stderr.contains("bars.npz"), "{stderr}");
    // Stopped once every client has gone (the listener then ends at once), the three
    // still stop cleanly.
    signal(servers.0[0].id(), "-TERM");
    for (id, child) in servers.0.drain(..).enumerate() {
        let output = wait_output(child, Duration::from_secs(20), &format!("server P{id}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "P{id}: {stderr}");
    }
}
