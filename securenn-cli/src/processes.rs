//! Three parties as three processes on 127.0.0.1: the parent that starts them and collects
//! their reports, and the child side that connects one party.
//!
//! The parent starts P0, reads the port it listens on, starts P1 with P0's address, reads
//! P1's port, and starts P2 with both. Each child prints `LISTENING <port>` (P0 and P1)
//! and, at the end, one `REPORT <json>` line; its errors go to stderr.
//!
//! The children talk TLS 1.3 with mutual authentication, as three machines would: the parent
//! makes a fresh cluster CA and one certificate per party in a private temporary directory,
//! which it deletes when the children are done. With `--insecure` they talk plain TCP.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader, Write as _};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use securenn_dsl::net::tcp::TcpTransport;
use securenn_dsl::net::tls::{
    CA_FILE, ClusterCredentials, TlsIdentity, certificate_file, key_file,
};
use securenn_dsl::net::{Link, NetConfig};
use securenn_dsl::party::Role;
use securenn_dsl::prg::Prg;
use securenn_dsl::ring::{Ring, Z64};
use securenn_dsl::session::{Job, Session, SessionConfig};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Errors of the command itself (spawning, parsing children's reports).
pub(crate) type CliError = Box<dyn std::error::Error + Send + Sync>;

/// Where the three parties run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum TransportKind {
    /// Three threads of this process, over the in-memory transport.
    Local,
    /// Three processes on 127.0.0.1, over TCP with TLS (plain TCP with `--insecure`).
    Tcp,
}

/// The options of every command that runs the three parties.
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct PartyOptions {
    /// With `--transport tcp`: plain TCP instead of TLS. Nothing is authenticated or
    /// encrypted: for a trusted loopback only.
    #[arg(long)]
    pub(crate) insecure: bool,
    /// **Insecure, for tests and reproducibility only**: derive the parties' keys from this
    /// seed instead of the operating system's generator, so that two runs draw the same
    /// randomness.
    #[arg(long, value_name = "SEED")]
    pub(crate) insecure_key_seed: Option<u64>,
    /// Emulate a wide-area link between every two parties: each message delayed by the
    /// one-way latency and paced by the bandwidth, e.g. `latency=29ms,bandwidth=40MB/s`
    /// (the paper's WAN). For parties on one machine (it reads one clock); every party
    /// must be given the same.
    #[arg(long, value_name = "LINK")]
    pub(crate) link: Option<Link>,
}

impl PartyOptions {
    /// The session configuration of a party of this job (session id 0, default timeouts).
    pub(crate) fn config(&self, job: Job) -> SessionConfig {
        if self.insecure_key_seed.is_some() {
            say!("warning: --insecure-key-seed makes every key predictable; use it for tests only");
        }
        SessionConfig {
            insecure_seed: self.insecure_key_seed,
            job,
            net: NetConfig {
                link: self.link,
                ..NetConfig::default()
            },
            offline_draws: false,
        }
    }
}

/// Where a child party is told to connect (set by the parent, hidden from `--help`).
#[derive(Debug, Clone, clap::Args)]
pub(crate) struct ChildArgs {
    /// Run as this party of a three-process run (set by the parent process).
    #[arg(long, hide = true)]
    pub(crate) party: Option<usize>,
    /// P0's address.
    #[arg(long, hide = true)]
    pub(crate) peer0: Option<SocketAddr>,
    /// P1's address.
    #[arg(long, hide = true)]
    pub(crate) peer1: Option<SocketAddr>,
    /// The session id.
    #[arg(long, hide = true, default_value_t = 0)]
    pub(crate) session_id: u64,
    /// The directory holding the cluster's CA and the parties' certificates and keys.
    #[arg(long, hide = true)]
    pub(crate) tls_dir: Option<PathBuf>,
}

/// Party `role`'s TLS identity from a credentials directory made by
/// [`ClusterCredentials::write_to`].
pub(crate) fn identity_in(dir: &Path, role: Role) -> securenn_dsl::Result<TlsIdentity> {
    TlsIdentity::from_pem_files(
        role,
        &dir.join(CA_FILE),
        &dir.join(certificate_file(role)),
        &dir.join(key_file(role)),
    )
}

/// A temporary directory of credentials, deleted when dropped.
struct TemporaryCredentials(PathBuf);

impl TemporaryCredentials {
    fn create(session_id: u64) -> Result<Self, CliError> {
        let dir = std::env::temp_dir().join(format!(
            "securenn-tls-{}-{session_id:016x}",
            std::process::id()
        ));
        ClusterCredentials::generate()?.write_to(&dir)?;
        Ok(TemporaryCredentials(dir))
    }
}

impl Drop for TemporaryCredentials {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Connects party `role` over TCP (with TLS if `identity` is given) and starts its session.
pub(crate) async fn connect_session(
    role: Role,
    listener: Option<tokio::net::TcpListener>,
    addresses: &[Option<SocketAddr>; 3],
    config: &SessionConfig,
    identity: Option<&TlsIdentity>,
) -> securenn_dsl::Result<Session> {
    let transport = match identity {
        Some(identity) => {
            TcpTransport::connect_tls(role, listener, addresses, &config.net, identity).await?
        }
        None => TcpTransport::connect(role, listener, addresses, &config.net).await?,
    };
    Session::start(transport, config).await
}

/// The children of a three-process run; any still running when this is dropped (on an
/// early error) are killed and reaped, so that none outlives the parent's answer.
struct Children(Vec<Child>);

impl Drop for Children {
    fn drop(&mut self) {
        for child in &mut self.0 {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

/// Starts this executable three times with `args` (a subcommand and its options) plus each
/// party's connection arguments, and returns the three parsed `REPORT` lines. The children
/// talk TLS unless `insecure`.
pub(crate) fn run_three_processes<T: DeserializeOwned>(
    args: &[impl AsRef<OsStr>],
    insecure: bool,
) -> Result<[T; 3], CliError> {
    let exe = std::env::current_exe()?;
    let session_id = Z64::random(&mut Prg::from_os_rng()?).value();
    // Declared before the children, so dropped after them: no child outlives its keys.
    let credentials = if insecure {
        None
    } else {
        Some(TemporaryCredentials::create(session_id)?)
    };
    let mut children = Children(Vec::new());
    let mut outputs = Vec::new();
    let mut ports: Vec<u16> = Vec::new();
    for party in 0..3 {
        let mut command = Command::new(&exe);
        command
            .args(args)
            .arg("--party")
            .arg(party.to_string())
            .arg("--session-id")
            .arg(session_id.to_string())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit());
        if let Some(credentials) = &credentials {
            command.arg("--tls-dir").arg(&credentials.0);
        }
        for (peer, port) in ports.iter().enumerate() {
            command
                .arg(format!("--peer{peer}"))
                .arg(format!("127.0.0.1:{port}"));
        }
        let mut child = command.spawn()?;
        let stdout = child.stdout.take().ok_or("child has no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        children.0.push(child);
        if party < 2 {
            // P0 and P1 announce the port they listen on before anything else.
            let line = lines.next().transpose()?.unwrap_or_default();
            match line.strip_prefix("LISTENING ").and_then(|p| p.parse().ok()) {
                Some(port) => ports.push(port),
                None => return Err(format!("P{party} did not start listening").into()),
            }
        }
        outputs.push(lines);
    }
    let mut reports = Vec::new();
    for (party, (lines, child)) in outputs.into_iter().zip(&mut children.0).enumerate() {
        let report_line = lines
            .map_while(Result::ok)
            .find_map(|line| line.strip_prefix("REPORT ").map(str::to_owned));
        let status = child.wait()?;
        match report_line {
            Some(line) if status.success() => reports.push(serde_json::from_str::<T>(&line)?),
            _ => {
                return Err(
                    format!("P{party} failed ({status}); its error is printed above").into(),
                );
            }
        }
    }
    reports
        .try_into()
        .map_err(|_| "expected three reports".into())
}

/// The child side: connects party `party` over TCP with TLS, or plain TCP if `insecure`
/// (listening on a free port for P0 and P1, announced on stdout), starts its session under
/// `config`, runs `work`, and prints its report.
#[allow(clippy::print_stdout, reason = "the parent reads the child's stdout")]
pub(crate) fn run_child<T, W>(
    child: &ChildArgs,
    party: usize,
    insecure: bool,
    config: SessionConfig,
    work: W,
) -> Result<T, CliError>
where
    T: Serialize,
    W: AsyncFnOnce(Session) -> Result<T, CliError>,
{
    let role = Role::from_index(party).ok_or("--party must be 0, 1 or 2")?;
    let identity = match (&child.tls_dir, insecure) {
        (Some(dir), false) => Some(identity_in(dir, role)?),
        (None, true) => None,
        (Some(_), true) => return Err("--insecure and TLS credentials exclude each other".into()),
        (None, false) => {
            return Err("a party needs TLS credentials, or --insecure for plain TCP".into());
        }
    };
    let mut config = config;
    config.net.session_id = child.session_id;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let report = runtime.block_on(async {
        let listener = if role.is_helper() {
            None
        } else {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            println!("LISTENING {}", listener.local_addr()?.port());
            std::io::stdout().flush()?;
            Some(listener)
        };
        let addresses = [child.peer0, child.peer1, None];
        let session =
            connect_session(role, listener, &addresses, &config, identity.as_ref()).await?;
        work(session).await
    })?;
    println!("REPORT {}", serde_json::to_string(&report)?);
    Ok(report)
}
