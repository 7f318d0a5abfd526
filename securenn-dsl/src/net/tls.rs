//! TLS with mutual authentication for the TCP transport (rustls with the `ring` provider).
//!
//! Every cluster has its own certificate authority. Party `Pn`'s certificate is issued by
//! it for the name `pn.securenn` ([`party_name`]) and serves both ends of a connection:
//!
//! - the **dialer** checks that the acceptor's certificate chains to the cluster's CA and
//!   names the party it meant to reach, as a browser checks a server;
//! - the **acceptor** requires a client certificate chaining to the same CA, and after the
//!   securenn hello checks that the certificate names the party the hello claims to be: a
//!   party cannot impersonate another, even with a valid certificate of its own.
//!
//! Only TLS 1.3 is offered. The securenn hello ([`Hello`](super::tcp::Hello)) then runs
//! inside the encrypted channel, so every byte after the TCP connection is protected.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, RootCertStore, ServerConfig};
use tokio::net::TcpStream;
use tokio_rustls::{TlsAcceptor, TlsConnector, TlsStream};

use crate::error::{Error, HandshakeFailure, PeerDescription, Result};
use crate::party::Role;

mod clients;

pub use clients::{
    CLIENT_CERTIFICATE_FILE, CLIENT_KEY_FILE, ClientAuthority, ClientCredentials, ClientIdentity,
};

/// The name party `role`'s certificate is issued for: `p0.securenn`, `p1.securenn` or
/// `p2.securenn`.
pub fn party_name(role: Role) -> &'static str {
    match role {
        Role::P0 => "p0.securenn",
        Role::P1 => "p1.securenn",
        Role::P2 => "p2.securenn",
    }
}

/// A cluster's certificates, as [`ClusterCredentials::generate`] makes them, all PEM: the
/// CA's certificate and each party's certificate and private key, and a second CA, for
/// clients only, with its private key. The parties' CA key is discarded once the three
/// certificates are signed, so no further party certificate can be issued; the clients'
/// CA key issues client certificates ([`ClientCredentials::issue`]), which the parties'
/// connections never accept.
pub struct ClusterCredentials {
    /// The CA certificate every party trusts.
    pub ca_certificate: String,
    /// Party `n`'s certificate (for `pn.securenn`) and private key (PKCS#8).
    pub parties: [(String, zeroize::Zeroizing<String>); 3],
    /// The clients' CA certificate, which the servers trust for clients.
    pub client_ca_certificate: String,
    /// The clients' CA private key (PKCS#8).
    pub client_ca_key: zeroize::Zeroizing<String>,
}

impl core::fmt::Debug for ClusterCredentials {
    /// Never prints the private keys.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClusterCredentials").finish_non_exhaustive()
    }
}

/// The CA certificate's file in a credentials directory.
pub const CA_FILE: &str = "ca.pem";
/// The clients' CA certificate's file in a credentials directory.
pub const CLIENT_CA_FILE: &str = "client-ca.pem";
/// The clients' CA private key's file in a credentials directory.
pub const CLIENT_CA_KEY_FILE: &str = "client-ca.key";
/// The common name of a cluster's CA.
const CLUSTER_CA_NAME: &str = "securenn cluster CA";
/// The common name of a cluster's clients' CA.
const CLIENT_CA_NAME: &str = "securenn client CA";

/// The certificate file of `role` in a credentials directory: `p0.pem`, ...
pub fn certificate_file(role: Role) -> String {
    format!("p{}.pem", role.index())
}

/// The private key file of `role` in a credentials directory: `p0.key`, ...
pub fn key_file(role: Role) -> String {
    format!("p{}.key", role.index())
}

impl ClusterCredentials {
    /// A fresh CA (ECDSA P-256) and a certificate for each party, valid for both ends of a
    /// connection.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] if key generation or signing fails.
    pub fn generate() -> Result<Self> {
        use rcgen::{CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose};
        use rcgen::{KeyPair, KeyUsagePurpose};
        let failed = |e: rcgen::Error| certificate_error(Path::new("keygen"), e.to_string());
        let ca = CertifiedIssuer::self_signed(
            ca_params(CLUSTER_CA_NAME)?,
            KeyPair::generate().map_err(failed)?,
        )
        .map_err(failed)?;
        let client_ca_key = KeyPair::generate().map_err(failed)?;
        let client_ca_key_pem = zeroize::Zeroizing::new(client_ca_key.serialize_pem());
        let client_ca = CertifiedIssuer::self_signed(ca_params(CLIENT_CA_NAME)?, client_ca_key)
            .map_err(failed)?;
        let party = |role: Role| -> Result<(String, zeroize::Zeroizing<String>)> {
            let mut params =
                CertificateParams::new(vec![party_name(role).to_owned()]).map_err(failed)?;
            params
                .distinguished_name
                .push(DnType::CommonName, party_name(role));
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            let key = KeyPair::generate().map_err(failed)?;
            let certificate = params.signed_by(&key, &ca).map_err(failed)?;
            Ok((
                certificate.pem(),
                zeroize::Zeroizing::new(key.serialize_pem()),
            ))
        };
        Ok(ClusterCredentials {
            ca_certificate: ca.pem(),
            parties: [party(Role::P0)?, party(Role::P1)?, party(Role::P2)?],
            client_ca_certificate: client_ca.pem(),
            client_ca_key: client_ca_key_pem,
        })
    }

    /// Writes `ca.pem`, `p0.pem`, `p0.key`, ..., `client-ca.pem` and `client-ca.key` into
    /// `dir` (created if missing); the key files are readable by their owner only (on
    /// Unix). Hand `ca.pem` and `client-ca.pem` to every party and `pn.pem` and `pn.key` to
    /// party n alone; keep `client-ca.key` with whoever admits clients. Never overwrites
    /// another cluster's credentials.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] if `dir` already holds a `ca.pem`; [`Error::Io`] if a file
    /// cannot be written.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        let ca = dir.join(CA_FILE);
        if ca.exists() {
            return Err(certificate_error(
                &ca,
                "already exists: refusing to overwrite another cluster's credentials",
            ));
        }
        let write = |name: &str, contents: &str, private: bool| {
            write_new(&dir.join(name), contents, private)
        };
        write(CA_FILE, &self.ca_certificate, false)?;
        write(CLIENT_CA_FILE, &self.client_ca_certificate, false)?;
        write(CLIENT_CA_KEY_FILE, &self.client_ca_key, true)?;
        for (role, (certificate, key)) in Role::ALL.into_iter().zip(&self.parties) {
            write(&certificate_file(role), certificate, false)?;
            write(&key_file(role), key, true)?;
        }
        Ok(())
    }

    /// Party `role`'s identity, without touching the disk.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] if a PEM block does not parse.
    pub fn identity(&self, role: Role) -> Result<TlsIdentity> {
        let (certificate, key) = &self.parties[role.index()];
        TlsIdentity::from_pem(
            role,
            self.ca_certificate.as_bytes(),
            certificate.as_bytes(),
            key.as_bytes(),
        )
    }
}

/// One party's TLS credentials: the cluster's CA certificate, the party's certificate
/// chain and its private key.
pub struct TlsIdentity {
    role: Role,
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl core::fmt::Debug for TlsIdentity {
    /// Never prints the private key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsIdentity")
            .field("role", &self.role)
            .field("chain_len", &self.chain.len())
            .finish_non_exhaustive()
    }
}

/// A CA certificate, a certificate chain and a private key from PEM, each error naming
/// its file.
fn parse_credentials(
    (ca, ca_pem): (&Path, &[u8]),
    (certificate, chain_pem): (&Path, &[u8]),
    (key, key_pem): (&Path, &[u8]),
) -> Result<(
    CertificateDer<'static>,
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
)> {
    let ca_der = CertificateDer::from_pem_slice(ca_pem)
        .map_err(|e| certificate_error(ca, format!("no PEM certificate: {e}")))?;
    let chain = CertificateDer::pem_slice_iter(chain_pem)
        .collect::<core::result::Result<Vec<_>, _>>()
        .map_err(|e| certificate_error(certificate, format!("bad PEM certificate: {e}")))?;
    if chain.is_empty() {
        return Err(certificate_error(certificate, "holds no PEM certificate"));
    }
    let key_der = PrivateKeyDer::from_pem_slice(key_pem)
        .map_err(|e| certificate_error(key, format!("no PEM private key: {e}")))?;
    Ok((ca_der, chain, key_der))
}

/// Writes a new file (never overwriting one), readable by its owner only if `private`
/// (on Unix).
fn write_new(path: &Path, contents: &str, private: bool) -> Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    let mut file = options.open(path).map_err(|e| Error::io(path, e))?;
    std::io::Write::write_all(&mut file, contents.as_bytes()).map_err(|e| Error::io(path, e))
}

/// A CA's parameters: [`ClusterCredentials::generate`] self-signs them, and
/// [`ClientCredentials::issue`] rebuilds the same issuer (name and key) from the clients'
/// CA key.
fn ca_params(name: &str) -> Result<rcgen::CertificateParams> {
    use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, KeyUsagePurpose};
    let mut params = CertificateParams::new(Vec::<String>::new())
        .map_err(|e| certificate_error(Path::new("keygen"), e.to_string()))?;
    params.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    params.distinguished_name.push(DnType::CommonName, name);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    Ok(params)
}

fn certificate_error(path: &Path, problem: impl Into<String>) -> Error {
    Error::Certificate {
        path: path.to_path_buf(),
        problem: problem.into(),
    }
}

impl TlsIdentity {
    /// Reads party `role`'s credentials from PEM files: the cluster's CA certificate, the
    /// party's certificate (chain) and its private key (PKCS#8, PKCS#1 or SEC1).
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] naming the file that is missing, unreadable or holds no
    /// certificate (or key).
    pub fn from_pem_files(role: Role, ca: &Path, certificate: &Path, key: &Path) -> Result<Self> {
        let read = |path: &Path| -> Result<Vec<u8>> {
            std::fs::read(path).map_err(|e| certificate_error(path, format!("cannot read: {e}")))
        };
        Self::parse(
            role,
            (ca, &read(ca)?),
            (certificate, &read(certificate)?),
            (key, &zeroize::Zeroizing::new(read(key)?)),
        )
    }

    /// Party `role`'s credentials from PEM text.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] if a PEM block does not parse.
    pub fn from_pem(role: Role, ca: &[u8], certificate: &[u8], key: &[u8]) -> Result<Self> {
        Self::parse(
            role,
            (Path::new("CA certificate"), ca),
            (Path::new("party certificate"), certificate),
            (Path::new("party key"), key),
        )
    }

    fn parse(
        role: Role,
        ca: (&Path, &[u8]),
        certificate: (&Path, &[u8]),
        key: (&Path, &[u8]),
    ) -> Result<Self> {
        let (ca, chain, key) = parse_credentials(ca, certificate, key)?;
        Ok(TlsIdentity {
            role,
            ca,
            chain,
            key,
        })
    }

    /// The party these credentials belong to.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The rustls configurations of both ends of a connection.
    pub(crate) fn context(&self) -> Result<TlsContext> {
        let source = PathBuf::from(party_name(self.role));
        Ok(TlsContext {
            acceptor: acceptor(&self.ca, &self.chain, &self.key, &source)?,
            connector: connector(&self.ca, &self.chain, &self.key, &source)?,
        })
    }
}

/// A TLS 1.3 acceptor that presents `chain` (with `key`) and requires a client
/// certificate issued by `trusted`; errors name `source`.
fn acceptor(
    trusted: &CertificateDer<'static>,
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    source: &Path,
) -> Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let unusable =
        |what: &str, e: &dyn core::fmt::Display| certificate_error(source, format!("{what}: {e}"));
    let verifier = WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots(trusted, source)?),
        Arc::clone(&provider),
    )
    .build()
    .map_err(|e| unusable("cannot verify client certificates", &e))?;
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| unusable("TLS 1.3 is not available", &e))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(chain.to_vec(), key.clone_key())
        .map_err(|e| unusable("the certificate does not match the key", &e))?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// A TLS 1.3 connector that trusts servers whose certificates `trusted` issued and
/// presents `chain` (with `key`) as its client certificate; errors name `source`.
fn connector(
    trusted: &CertificateDer<'static>,
    chain: &[CertificateDer<'static>],
    key: &PrivateKeyDer<'static>,
    source: &Path,
) -> Result<TlsConnector> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let unusable =
        |what: &str, e: &dyn core::fmt::Display| certificate_error(source, format!("{what}: {e}"));
    let config = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| unusable("TLS 1.3 is not available", &e))?
        .with_root_certificates(roots(trusted, source)?)
        .with_client_auth_cert(chain.to_vec(), key.clone_key())
        .map_err(|e| unusable("the certificate does not match the key", &e))?;
    Ok(TlsConnector::from(Arc::new(config)))
}

/// The one CA certificate `trusted`, as a root store.
fn roots(trusted: &CertificateDer<'static>, source: &Path) -> Result<RootCertStore> {
    let mut roots = RootCertStore::empty();
    roots
        .add(trusted.clone())
        .map_err(|e| certificate_error(source, format!("the CA certificate is not usable: {e}")))?;
    Ok(roots)
}

/// Both ends of a party's TLS connections.
#[derive(Clone)]
pub(crate) struct TlsContext {
    acceptor: TlsAcceptor,
    connector: TlsConnector,
}

impl core::fmt::Debug for TlsContext {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("TlsContext").finish_non_exhaustive()
    }
}

fn tls_failure(peer: PeerDescription, error: &std::io::Error) -> Error {
    Error::Handshake {
        peer,
        reason: HandshakeFailure::Tls(error.to_string()),
    }
}

impl TlsContext {
    /// Runs the TLS handshake as the dialer, expecting `peer`'s certificate.
    pub(crate) async fn connect(
        &self,
        peer: Role,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(party_name(peer))
            .map_err(|_| Error::Internal("a party name that is not a DNS name"))?;
        self.connector
            .connect(name, stream)
            .await
            .map(TlsStream::from)
            .map_err(|e| tls_failure(PeerDescription::Party(peer), &e))
    }

    /// Runs the TLS handshake as the acceptor; the client's certificate is checked against
    /// the CA here and against its claimed party by [`check_peer_certificate`].
    pub(crate) async fn accept(&self, stream: TcpStream) -> Result<TlsStream<TcpStream>> {
        self.acceptor
            .accept(stream)
            .await
            .map(TlsStream::from)
            .map_err(|e| tls_failure(PeerDescription::Unknown, &e))
    }
}

/// Checks that the certificate `stream`'s peer presented is issued to `claimed`.
pub(crate) fn check_peer_certificate(stream: &TlsStream<TcpStream>, claimed: Role) -> Result<()> {
    let refused = |why: &str| Error::Handshake {
        peer: PeerDescription::Party(claimed),
        reason: HandshakeFailure::Tls(why.to_owned()),
    };
    let certificate = stream
        .get_ref()
        .1
        .peer_certificates()
        .and_then(<[CertificateDer<'_>]>::first)
        .ok_or_else(|| refused("the peer presented no certificate"))?;
    let parsed = rustls::server::ParsedCertificate::try_from(certificate)
        .map_err(|e| refused(&format!("its certificate does not parse: {e}")))?;
    let name = ServerName::try_from(party_name(claimed))
        .map_err(|_| Error::Internal("a party name that is not a DNS name"))?;
    rustls::client::verify_server_name(&parsed, &name).map_err(|_| {
        refused(&format!(
            "its certificate is not issued to {} ({claimed}), the party its hello claims to be",
            party_name(claimed)
        ))
    })
}
