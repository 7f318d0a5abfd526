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
//!
//! # Optional, for `securenn serve`: where P0 and P1 take clients' queries, and the CA
//! # that issues the clients' certificates.
//! [clients]
//! p0 = "10.0.0.10:7100"
//! p1 = "10.0.0.11:7101"
//! ca = "client-ca.pem"
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
use securenn_dsl::session::{Session, SessionConfig};
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
    /// Where P0 takes clients' queries (`securenn serve`), in the sample `cluster.toml`.
    /// Default: P0's host, at its port + 100.
    #[arg(long, value_name = "HOST:PORT")]
    p0_clients: Option<String>,
    /// Where P1 takes clients' queries. Default: P1's host, at its port + 100.
    #[arg(long, value_name = "HOST:PORT")]
    p1_clients: Option<String>,
    /// Instead of a cluster, a client's certificate for private predictions, issued for
    /// this name by the clients' CA of the cluster in `--cluster`; `--out` receives
    /// `ca.pem`, `client.pem`, `client.key` and a `client.toml` for `securenn query`.
    #[arg(long, value_name = "NAME", requires = "cluster")]
    client: Option<String>,
    /// With `--client`: the cluster's directory (its `ca.pem`, `client-ca.key`, and the
    /// `cluster.toml` whose `[clients]` section says where the servers take queries).
    #[arg(long, value_name = "DIR", requires = "client")]
    cluster: Option<PathBuf>,
}

/// Runs `securenn keygen`.
#[allow(clippy::print_stdout, reason = "the command's output")]
pub(crate) fn keygen(args: &KeygenArgs) -> Result<bool, CliError> {
    if let (Some(name), Some(cluster)) = (&args.client, &args.cluster) {
        return keygen_client(name, cluster, &args.out);
    }
    let clients = [
        (&args.p0, &args.p0_clients, "p0"),
        (&args.p1, &args.p1_clients, "p1"),
    ]
    .map(|(address, clients, flag)| {
        check_address(address, flag)?;
        match clients {
            Some(clients) => {
                check_address(clients, &format!("{flag}-clients")).map(|()| clients.clone())
            }
            None => port_plus_100(address, flag),
        }
    });
    let [p0_clients, p1_clients] = clients;
    let (p0_clients, p1_clients) = (p0_clients?, p1_clients?);
    let credentials = ClusterCredentials::generate()?;
    credentials.write_to(&args.out)?;
    let config = format!(
        "# A securenn cluster: where P0 and P1 listen (P2 only dials) and each party's\n\
         # credentials; {{id}} is the party's number. Give ca.pem to every party and\n\
         # pN.pem and pN.key to party N alone.\n\
         session_id = 1\n\n[addresses]\np0 = \"{}\"\np1 = \"{}\"\n\n[tls]\nca = \"ca.pem\"\ncertificate = \"p{{id}}.pem\"\nkey = \"p{{id}}.key\"\n\n\
         # Where P0 and P1 take clients' queries (securenn serve). Give client-ca.pem to\n\
         # P0 and P1; client-ca.key issues the clients' certificates (securenn keygen\n\
         # --client NAME): keep it with whoever admits clients.\n\
         [clients]\np0 = \"{p0_clients}\"\np1 = \"{p1_clients}\"\nca = \"client-ca.pem\"\n",
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

/// Checks that `address` looks like `HOST:PORT` and can be written into a configuration.
fn check_address(address: &str, flag: &str) -> Result<(), CliError> {
    if address.is_empty() || address.contains(['"', '\\', '\n']) || !address.contains(':') {
        return Err(format!("--{flag}: {address:?} is not HOST:PORT").into());
    }
    Ok(())
}

/// `address`'s host at its port + 100: where a party takes clients' queries by default.
fn port_plus_100(address: &str, flag: &str) -> Result<String, CliError> {
    let (host, port) = address
        .rsplit_once(':')
        .ok_or_else(|| format!("--{flag}: {address:?} is not HOST:PORT"))?;
    let port: u16 = port
        .parse()
        .ok()
        .and_then(|p: u16| p.checked_add(100))
        .ok_or_else(|| {
            format!(
                "--{flag}: {address:?} has no port below 65436 to add 100 to; give --{flag}-clients"
            )
        })?;
    Ok(format!("{host}:{port}"))
}

/// `securenn keygen --client NAME --cluster DIR --out OUT`: the client's credentials, and a
/// `client.toml` naming the servers of the cluster's `[clients]` section.
#[allow(clippy::print_stdout, reason = "the command's output")]
fn keygen_client(name: &str, cluster: &Path, out: &Path) -> Result<bool, CliError> {
    let config_path = cluster.join("cluster.toml");
    let text = std::fs::read_to_string(&config_path)
        .map_err(|e| format!("cannot read {}: {e}", config_path.display()))?;
    let file: ClusterFile =
        toml::from_str(&text).map_err(|e| format!("{}: {}", config_path.display(), e.message()))?;
    let Some(clients) = file.clients else {
        return Err(format!(
            "{}: no [clients] section says where the servers take queries (p0, p1 and ca; see `securenn keygen --help`)",
            config_path.display()
        )
        .into());
    };
    let client = ClientCredentials::issue_from_dir(cluster, name)?;
    client.write_to(out)?;
    let config = crate::query::client_config(&clients.p0, &clients.p1);
    let path = out.join(crate::query::CLIENT_CONFIG_FILE);
    std::fs::write(&path, config).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!(
        "wrote client {name:?}'s certificate and key, the cluster's CA, and {} to {}",
        path.display(),
        out.display()
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
    /// Where P0 and P1 take clients' queries (`securenn serve`).
    #[serde(default)]
    clients: Option<ClientsSection>,
}

/// The `[clients]` section: where P0 and P1 take clients' queries, and the clients' CA.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ClientsSection {
    p0: String,
    p1: String,
    ca: String,
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

/// A `[tls]` section: the CA's certificate, and this party's (or client's) certificate and
/// key, as paths.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct TlsFiles {
    pub(crate) ca: String,
    pub(crate) certificate: String,
    pub(crate) key: String,
}

/// The first socket address `address` resolves to; errors name it as `party`'s.
pub(crate) fn resolve_address(address: &str, party: &str) -> Result<SocketAddr, CliError> {
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

/// A party's place in its cluster, read from the configuration file.
pub(crate) struct ClusterParty {
    /// This party.
    pub(crate) role: Role,
    /// Where P0 and P1 listen for their peers.
    addresses: [Option<SocketAddr>; 3],
    /// The session id and timeouts of the file.
    net: NetConfig,
    /// This party's credentials; `None` for plain TCP (`--insecure`).
    identity: Option<TlsIdentity>,
    /// At P0 and P1 of a cluster with a `[clients]` section: where this party takes
    /// clients' queries (not resolved: only `securenn serve` needs it), and the clients'
    /// CA file.
    pub(crate) clients: Option<(String, PathBuf)>,
    /// The configuration file, for messages.
    pub(crate) config: PathBuf,
}

impl ClusterParty {
    /// Reads party `id`'s place from the configuration file `config`: plain TCP only with
    /// `insecure` and no `[tls]` section.
    pub(crate) fn read(config: &Path, id: usize, insecure: bool) -> Result<ClusterParty, CliError> {
        let role = Role::from_index(id).ok_or("--id must be 0, 1 or 2")?;
        let text = std::fs::read_to_string(config)
            .map_err(|e| format!("cannot read {}: {e}", config.display()))?;
        let file: ClusterFile =
            toml::from_str(&text).map_err(|e| format!("{}: {}", config.display(), e.message()))?;
        let addresses = [
            Some(resolve_address(&file.addresses.p0, "P0")?),
            Some(resolve_address(&file.addresses.p1, "P1")?),
            None,
        ];
        let seconds = |value: Option<u64>, name: &str, default: Duration| match value {
            Some(0) => Err(format!("{}: {name} must be at least 1", config.display())),
            Some(s) => Ok(Duration::from_secs(s)),
            None => Ok(default),
        };
        let defaults = NetConfig::default();
        let net = NetConfig {
            session_id: file.session_id,
            connect_timeout: seconds(
                file.connect_timeout_seconds,
                "connect_timeout_seconds",
                defaults.connect_timeout,
            )?,
            recv_timeout: seconds(
                file.receive_timeout_seconds,
                "receive_timeout_seconds",
                defaults.recv_timeout,
            )?,
            peer_timeout: seconds(
                file.peer_timeout_seconds,
                "peer_timeout_seconds",
                defaults.peer_timeout,
            )?,
            ..defaults
        };
        let identity = match (&file.tls, insecure) {
            (Some(tls), false) => Some(TlsIdentity::from_pem_files(
                role,
                &credential_path(config, &tls.ca, role),
                &credential_path(config, &tls.certificate, role),
                &credential_path(config, &tls.key, role),
            )?),
            (None, true) => None,
            (None, false) => {
                return Err(format!(
                    "{}: no [tls] section; plain TCP authenticates and encrypts nothing, so it needs --insecure",
                    config.display()
                )
                .into());
            }
            (Some(_), true) => {
                return Err(format!(
                    "{}: --insecure asks for plain TCP, but the configuration has a [tls] section",
                    config.display()
                )
                .into());
            }
        };
        let clients = match (&file.clients, role) {
            (Some(clients), Role::P0 | Role::P1) => {
                let address = if role == Role::P0 {
                    &clients.p0
                } else {
                    &clients.p1
                };
                Some((address.clone(), credential_path(config, &clients.ca, role)))
            }
            _ => None,
        };
        Ok(ClusterParty {
            role,
            addresses,
            net,
            identity,
            clients,
            config: config.to_path_buf(),
        })
    }

    /// Connects to the peers and starts the session of `config` (whose network settings
    /// are replaced by the file's).
    pub(crate) async fn connect(&self, config: &SessionConfig) -> securenn_dsl::Result<Session> {
        let config = SessionConfig {
            net: NetConfig {
                link: config.net.link,
                ..self.net.clone()
            },
            ..config.clone()
        };
        say!(
            "{}: connecting to the cluster over {}",
            self.role,
            if self.identity.is_some() {
                "TLS"
            } else {
                "plain TCP (--insecure)"
            }
        );
        connect_session(
            self.role,
            None,
            &self.addresses,
            &config,
            self.identity.as_ref(),
        )
        .await
    }

    /// This party's TLS identity, for its client listener to present once the session is
    /// connected.
    pub(crate) fn into_identity(self) -> Option<TlsIdentity> {
        self.identity
    }
}

/// Runs `securenn party`.
pub(crate) fn party(args: &PartyArgs) -> Result<bool, CliError> {
    let cluster = ClusterParty::read(&args.config, args.id, args.insecure)?;
    let role = cluster.role;
    let (job, options) = match &args.job {
        PartyJob::Train(job) => (train::party_job(job, role)?, job.options()),
        PartyJob::Infer(job) => (infer::party_job(job, role)?, job.options()),
    };
    let config = options.config(job.clone());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let session = cluster.connect(&config).await?;
        match &args.job {
            PartyJob::Train(train_args) => train::run_as_party(session, train_args, &job).await,
            PartyJob::Infer(infer_args) => infer::run_as_party(session, infer_args).await,
        }
    })
}
