//! Helpers shared by the command-line tests: running `securenn`, scratch directories,
//! clusters of party processes.

#![allow(dead_code, reason = "each test binary uses some of the helpers")]

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub(crate) fn securenn(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_securenn"))
        .args(args)
        .output()
        .unwrap()
}

/// Runs a command that must succeed and returns its last line, parsed as JSON.
pub(crate) fn json(args: &[&str]) -> serde_json::Value {
    let output = securenn(args);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "securenn {args:?} failed: {}\n{stdout}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// Runs a command that must fail cleanly; returns its stderr.
pub(crate) fn failure(args: &[&str]) -> String {
    let output = securenn(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "securenn {args:?} succeeded");
    assert_eq!(output.status.code(), Some(1), "securenn {args:?}: {stderr}");
    assert!(
        !stderr.contains("panicked"),
        "securenn {args:?} panicked: {stderr}"
    );
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: "), "securenn {args:?}: {stderr}");
    stderr
}

/// A scratch directory, removed afterwards.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    pub(crate) fn new(name: &str) -> Scratch {
        let dir = std::env::temp_dir().join(format!("securenn-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Scratch(dir)
    }

    pub(crate) fn path(&self, name: &str) -> String {
        self.0.join(name).to_string_lossy().into_owned()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Two free ports on 127.0.0.1.
pub(crate) fn free_ports() -> [u16; 2] {
    let a = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let b = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    [
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    ]
}

/// Runs `securenn party --id N --config CONFIG JOB...` for the three parties at once and
/// returns their outputs, each checked to have succeeded.
pub(crate) fn run_cluster(config: &Path, job: &[&str]) -> Vec<Output> {
    let outputs: Vec<Output> = spawn_cluster(config, job)
        .into_iter()
        .map(|c| c.wait_with_output().unwrap())
        .collect();
    for (id, output) in outputs.iter().enumerate() {
        assert!(
            output.status.success(),
            "party {id} of {job:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    outputs
}

pub(crate) fn last_json(output: &Output) -> serde_json::Value {
    let stdout = String::from_utf8_lossy(&output.stdout);
    serde_json::from_str(stdout.lines().last().unwrap_or_default()).unwrap()
}

/// A copy of the vendored MNIST in `scratch` with `file` replaced by `contents`, gzipped
/// (or taken as they are if `gzip` is false), and listed in `SHA256SUMS` with its true
/// checksum: data that passes the checksum but is wrong inside.
pub(crate) fn mnist_with(scratch: &Scratch, file: &str, contents: &[u8], gzip: bool) -> PathBuf {
    use sha2::Digest as _;
    use std::io::Write as _;

    let mnist = Path::new(env!("CARGO_MANIFEST_DIR")).join("../data/mnist");
    let dir = scratch.0.join("mnist");
    std::fs::create_dir_all(&dir).unwrap();
    for name in [
        "train-images-idx3-ubyte.gz",
        "train-labels-idx1-ubyte.gz",
        "t10k-images-idx3-ubyte.gz",
        "t10k-labels-idx1-ubyte.gz",
    ] {
        if name != file {
            std::fs::copy(mnist.join(name), dir.join(name)).unwrap();
        }
    }
    let bytes = if gzip {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        encoder.write_all(contents).unwrap();
        encoder.finish().unwrap()
    } else {
        contents.to_vec()
    };
    std::fs::write(dir.join(file), &bytes).unwrap();
    let sums: String = std::fs::read_to_string(mnist.join("SHA256SUMS"))
        .unwrap()
        .lines()
        .map(|line| {
            if line.ends_with(file) {
                format!("{:x}  {file}\n", sha2::Sha256::digest(&bytes))
            } else {
                format!("{line}\n")
            }
        })
        .collect();
    std::fs::write(dir.join("SHA256SUMS"), sums).unwrap();
    dir
}

/// `keygen` into `scratch/certs` for P0 and P1 on two free ports of 127.0.0.1, with
/// `extra` lines added at the top of `cluster.toml`; returns the configuration's path.
pub(crate) fn keygen_cluster(scratch: &Scratch, extra: &str) -> PathBuf {
    let [p0, p1] = free_ports();
    let out = scratch.path("certs");
    let output = securenn(&[
        "keygen",
        "--out",
        &out,
        "--p0",
        &format!("127.0.0.1:{p0}"),
        "--p1",
        &format!("127.0.0.1:{p1}"),
    ]);
    assert!(output.status.success());
    let config = Path::new(&out).join("cluster.toml");
    let text = std::fs::read_to_string(&config).unwrap();
    std::fs::write(&config, format!("{extra}\n{text}")).unwrap();
    config
}

/// Starts `securenn party --id N --config CONFIG JOB...` for N = 0, 1, 2, with piped
/// output.
pub(crate) fn spawn_cluster(config: &Path, job: &[&str]) -> Vec<std::process::Child> {
    (0..3)
        .map(|id| {
            Command::new(env!("CARGO_BIN_EXE_securenn"))
                .args(["party", "--id", &id.to_string(), "--config"])
                .arg(config)
                .args(job)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect()
}

/// `securenn train --iterations 1 --mnist DIR`, which must fail cleanly; returns its stderr.
pub(crate) fn train_on(mnist: &Path) -> String {
    failure(&[
        "train",
        "--iterations",
        "1",
        "--mnist",
        mnist.to_str().unwrap(),
    ])
}

/// `securenn train` for `steps` steps of network A with a checkpoint every two and no
/// evaluation, then `extra`.
pub(crate) fn checkpointed<'a>(steps: &'a str, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec![
        "train",
        "--iterations",
        steps,
        "--test-images",
        "0",
        "--checkpoint-every",
        "2",
    ];
    args.extend_from_slice(extra);
    args
}

/// Runs the repository's Python script `script` (a path from the repository's root) with
/// `out` as its argument, failing the test with how to install its packages if it fails.
pub(crate) fn run_python_script(script: &str, out: &Path) {
    let script = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join(script);
    let status = Command::new("python3").arg(&script).arg(out).status();
    assert!(
        status.is_ok_and(|s| s.success()),
        "{} failed; it needs python3 with the packages of tests/requirements.txt: \
         python3 -m pip install -r tests/requirements.txt",
        script.display()
    );
}

/// Sends `signal` to process `pid` with `kill(1)`.
pub(crate) fn signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill {signal} {pid}");
}
