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

use std::net::{SocketAddr, ToSocketAddrs as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use securenn_dsl::net::tls::{ClusterCredentials, TlsIdentity};
use securenn_dsl::party::Role;
use securenn_dsl::session::SessionConfig;
use serde::Deserialize;

use crate::processes::{CliError, connect_session};
use crate::{infer, train};

/// Arguments of `securenn keygen`.
#[derive(Debug, clap::Args)]
pub(crate) struct KeygenArgs {
    /// The directory to write `ca.pem`, `p0.pem`, `p0.key`, ... and `cluster.toml` into.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// P0's address in the sample `cluster.toml`.
    #[arg(long, default_value = "127.0.0.1:7000")]
    p0: String,
    /// P1's address in the sample `cluster.toml`.
    #[arg(long, default_value = "127.0.0.1:7001")]
    p1: String,
}

/// Runs `securenn keygen`.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub(crate) fn keygen(args: &KeygenArgs) -> Result<bool, CliError> {
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
    tls: TlsFiles,
    /// Seconds to wait for the peers to connect.
    #[serde(default)]
    connect_timeout_seconds: Option<u64>,
    /// Seconds to wait for any one message.
    #[serde(default)]
    receive_timeout_seconds: Option<u64>,
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
    let identity = TlsIdentity::from_pem_files(
        role,
        &credential_path(&args.config, &file.tls.ca, role),
        &credential_path(&args.config, &file.tls.certificate, role),
        &credential_path(&args.config, &file.tls.key, role),
    )?;
    let defaults = SessionConfig::default();
    let config = SessionConfig {
        session_id: file.session_id,
        connect_timeout: file
            .connect_timeout_seconds
            .map_or(defaults.connect_timeout, Duration::from_secs),
        recv_timeout: file
            .receive_timeout_seconds
            .map_or(defaults.recv_timeout, Duration::from_secs),
        ..defaults
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        eprintln!("{role}: connecting to the cluster over TLS");
        let session = connect_session(role, None, &addresses, &config, Some(&identity)).await?;
        match &args.job {
            PartyJob::Train(job) => train::run_as_party(session, job).await,
            PartyJob::Infer(job) => infer::run_as_party(session, job).await,
        }
    })
}
