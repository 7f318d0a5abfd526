//! Three machines: `securenn keygen` makes a cluster's certificates and a sample
//! configuration; `securenn party --id N --config cluster.toml <train|infer> ...` runs one
//! party of a job on its own machine, over TLS with mutual authentication.
//!
//! A cluster configuration names where P0 and P1 listen (P2 only dials), the session id
//! all three must share, and the party's credentials. In paths, `{id}` stands for the
//! party's number, so one file can serve three parties on one machine; relative paths are
//! relative to the configuration file:
//!
//! ```toml
//! session_id = 1
//! # Optional: seconds to wait for the peers at start-up, for any one message, and for any
//! # sign of life from a peer (it sends a heartbeat every quarter of that).
//! connect_timeout_seconds = 30
//! receive_timeout_seconds = 60
//! peer_timeout_seconds = 10
//!
//! [addresses]
//! p0 = "10.0.0.10:7000"
//! p1 = "10.0.0.11:7001"
//!
//! [tls]
//! ca = "ca.pem"
//! certificate = "p{id}.pem"
//! key = "p{id}.key"
//! ```
//!
//! Without a `[tls]` section the parties talk plain TCP, which `securenn party` refuses
//! unless given `--insecure`: nothing would be authenticated or encrypted.

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use securenn_dsl::net::NetConfig;
use securenn_dsl::net::tls::{ClientCredentials, ClusterCredentials, TlsIdentity};
use securenn_dsl::party::Role;
use securenn_dsl::session::SessionConfig;
use serde::Deserialize;

use crate::processes::{CliError, connect_session};
use crate::{infer, train};

/// Arguments of `securenn keygen`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// The directory to write `ca.pem`, `p0.pem`, `p0.key`, ..., the clients' CA
    /// (`client-ca.pem`, `client-ca.key`) and `cluster.toml` into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// P0's address in the sample `cluster.toml`.
    #[arg(long, default_value = "127.0.0.1:7000")]
    p0: String,
    /// P1's address in the sample `cluster.toml`.
    #[arg(long, default_value = "127.0.0.1:7001")]
    p1: String,
    /// Instead of a cluster, a client's certificate for private predictions, issued for
    /// this name by the clients' CA of the cluster in `--cluster`; `--out` receives
    /// `ca.pem`, `client.pem` and `client.key`.
    #[arg(long, value_name = "NAME", requires = "cluster")]
    client: Option<String>,
    /// With `--client`: the cluster's credentials directory (its `ca.pem` and
    /// `client-ca.key`).
    #[arg(long, value_name = "DIR", requires = "client")]
    cluster: Option<PathBuf>,
}

/// Runs `securenn keygen`.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub(crate) fn keygen(args: &KeygenArgs) -> Result<bool, CliError> {
    if let (Some(name), Some(cluster)) = (&args.client, &args.cluster) {
        let client = ClientCredentials::issue_from_dir(cluster, name)?;
        client.write_to(&args.out)?;
        println!(
            "wrote client {name:?}'s certificate and key, and the cluster's CA, to {}",
            args.out.display()
        );
        return Ok(true);
    }
    for (party, address) in [("P0", &args.p0), ("P1", &args.p1)] {
        if address.is_empty() || address.contains(['"', '\\', '\n']) || !address.contains(':') {
            return Err(format!("--{}: {address:?} is not HOST:PORT", party.to_lowercase()).into());
        }
    }
    let credentials = ClusterCredentials::generate()?;
    credentials.write_to(&args.out)?;
    let config = format!(
        "# A securenn cluster: where P0 and P1 listen (P2 only dials) and each party's\n\
         # credentials; {{id}} is the party's number. Give ca.pem to every party and\n\
         # pN.pem and pN.key to party N alone.\n\
         session_id = 1\n\n[addresses]\np0 = \"{}\"\np1 = \"{}\"\n\n[tls]\nca = \"ca.pem\"\ncertificate = \"p{{id}}.pem\"\nkey = \"p{{id}}.key\"\n",
        args.p0, args.p1
    );
    let path = args.out.join("cluster.toml");
    std::fs::write(&path, config).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "wrote a cluster CA, certificates and keys for P0, P1 and P2, and {} to {}",
        path.display(),
        args.out.display()
    );
    Ok(true)
}

/// Arguments of `securenn party`.
#[derive(Debug, clap::Args)]
pub(crate) struct PartyArgs {
    /// This party's number: 0 (data owner), 1 (model owner) or 2 (helper).
    #[arg(long)]
    id: usize,
    /// The cluster configuration.
    #[arg(long, value_name = "FILE")]
    config: PathBuf,
    /// Talk plain TCP, without TLS: nothing is authenticated or encrypted. Only for a
    /// trusted network; the configuration must then have no `[tls]` section.
    #[arg(long)]
    insecure: bool,
    /// The job all three parties run.
    #[command(subcommand)]
    job: PartyJob,
}

/// A job run by the three parties of a cluster.
#[derive(Debug, clap::Subcommand)]
pub(crate) enum PartyJob {
    /// Train a network privately (the options of `securenn train`).
    Train(train::Args),
    /// Classify test images privately (the options of `securenn infer`).
    Infer(infer::Args),
}

/// The configuration file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClusterFile {
    #[serde(default = "default_session_id")]
    session_id: u64,
    addresses: Addresses,
    #[serde(default)]
    tls: Option<TlsFiles>,
    /// Seconds to wait for the peers to connect.
    #[serde(default)]
    connect_timeout_seconds: Option<u64>,
    /// Seconds to wait for any one message.
    #[serde(default)]
    receive_timeout_seconds: Option<u64>,
    /// Seconds a peer may stay silent (no message, no heartbeat) before it is taken for dead.
    #[serde(default)]
    peer_timeout_seconds: Option<u64>,
}

fn default_session_id() -> u64 {
    1
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Addresses {
    p0: String,
    p1: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFiles {
    ca: String,
    certificate: String,
    key: String,
}

fn resolve(address: &str, party: &str) -> Result<SocketAddr, CliError> {
    address
        .to_socket_addrs()
        .map_err(|e| format!("{party}'s address {address:?} does not resolve: {e}"))?
        .next()
        .ok_or_else(|| format!("{party}'s address {address:?} resolves to nothing").into())
}

/// The path of a credentials file: `{id}` replaced, relative to the configuration's folder.
fn credential_path(config: &Path, template: &str, role: Role) -> PathBuf {
    let path = PathBuf::from(template.replace("{id}", &role.index().to_string()));
    if path.is_absolute() {
        path
    } else {
        config.parent().unwrap_or(Path::new(".")).join(path)
    }
}

/// Runs `securenn party`.
pub(crate) fn party(args: &PartyArgs) -> Result<bool, CliError> {
    let role = Role::from_index(args.id).ok_or("--id must be 0, 1 or 2")?;
    let text = std::fs::read_to_string(&args.config)
        .map_err(|e| format!("cannot read {}: {e}", args.config.display()))?;
    let file: ClusterFile =
        toml::from_str(&text).map_err(|e| format!("{}: {}", args.config.display(), e.message()))?;
    let addresses = [
        Some(resolve(&file.addresses.p0, "P0")?),
        Some(resolve(&file.addresses.p1, "P1")?),
        None,
    ];
    let seconds = |value: Option<u64>, name: &str, default: Duration| match value {
        Some(0) => Err(format!(
            "{}: {name} must be at least 1",
            args.config.display()
        )),
        Some(s) => Ok(Duration::from_secs(s)),
        None => Ok(default),
    };
    let defaults = NetConfig::default();
    let connect_timeout = seconds(
        file.connect_timeout_seconds,
        "connect_timeout_seconds",
        defaults.connect_timeout,
    )?;
    let recv_timeout = seconds(
        file.receive_timeout_seconds,
        "receive_timeout_seconds",
        defaults.recv_timeout,
    )?;
    let peer_timeout = seconds(
        file.peer_timeout_seconds,
        "peer_timeout_seconds",
        defaults.peer_timeout,
    )?;
    let identity = match (&file.tls, args.insecure) {
        (Some(tls), false) => Some(TlsIdentity::from_pem_files(
            role,
            &credential_path(&args.config, &tls.ca, role),
            &credential_path(&args.config, &tls.certificate, role),
            &credential_path(&args.config, &tls.key, role),
        )?),
        (None, true) => None,
        (None, false) => {
            return Err(format!(
                "{}: no [tls] section; plain TCP authenticates and encrypts nothing, so it needs --insecure",
                args.config.display()
            )
            .into());
        }
        (Some(_), true) => {
            return Err(format!(
                "{}: --insecure asks for plain TCP, but the configuration has a [tls] section",
                args.config.display()
            )
            .into());
        }
    };
    let (job, options) = match &args.job {
        PartyJob::Train(job) => (train::party_job(job, role)?, job.options()),
        PartyJob::Infer(job) => (infer::party_job(job, role)?, job.options()),
    };
    let config = options.config(job.clone());
    let config = SessionConfig {
        net: NetConfig {
            session_id: file.session_id,
            connect_timeout,
            recv_timeout,
            peer_timeout,
            ..config.net
        },
        ..config
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        say!(
            "{role}: connecting to the cluster over {}",
            if identity.is_some() {
                "TLS"
            } else {
                "plain TCP (--insecure)"
            }
        );
        let session = connect_session(role, None, &addresses, &config, identity.as_ref()).await?;
        match &args.job {
            PartyJob::Train(train_args) => train::run_as_party(session, train_args, &job).await,
            PartyJob::Infer(infer_args) => infer::run_as_party(session, infer_args).await,
        }
    })
}
