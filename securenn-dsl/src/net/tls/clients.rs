//! Certificates for clients that are not parties: the cluster's clients' CA, a CA of its
//! own, issues each one ([`ClientCredentials::issue`], `securenn keygen --client NAME`) for
//! the name `NAME.client.securenn`, for client authentication only. A server that takes
//! clients' queries requires such a certificate ([`ClientAuthority`]), so a client the
//! clients' CA never certified is refused in the handshake; and since the parties' own
//! connections trust only the parties' CA, a client certificate never passes for a party.
//! The client checks that the server's certificate is the cluster's and names the party it
//! meant to reach, as the parties do.

use std::path::Path;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use super::{CA_FILE, CLIENT_CA_FILE, CLIENT_CA_KEY_FILE, CLIENT_CA_NAME, TlsIdentity};
use super::{acceptor, ca_params, certificate_error, connector, parse_credentials};
use super::{party_name, write_new};
use crate::error::{Error, HandshakeFailure, PeerDescription, Result};
use crate::party::Role;

/// A client's certificate file in its credentials directory.
pub const CLIENT_CERTIFICATE_FILE: &str = "client.pem";
/// A client's private key file in its credentials directory.
pub const CLIENT_KEY_FILE: &str = "client.key";

/// A client's credentials, PEM: the cluster's CA certificate (to check the servers), and
/// the client's certificate and private key.
pub struct ClientCredentials {
    /// The client's name, as its certificate carries it.
    pub name: String,
    /// The cluster's CA certificate.
    pub ca_certificate: String,
    /// The client's certificate, issued by the cluster's CA.
    pub certificate: String,
    /// The client's private key (PKCS#8).
    pub key: zeroize::Zeroizing<String>,
}

impl core::fmt::Debug for ClientCredentials {
    /// Never prints the private key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl ClientCredentials {
    /// Issues a certificate for client `name` (letters, digits, `-` and `_`, at most 63)
    /// with the cluster's clients' CA `client_ca_key` (PEM); `ca_certificate` is the
    /// cluster's (parties') CA certificate, with which the client checks the servers.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidArgument`] for a name that is not a DNS label; [`Error::Certificate`]
    /// if the CA's key does not parse or signing fails.
    pub fn issue(ca_certificate: &str, client_ca_key: &str, name: &str) -> Result<Self> {
        use rcgen::KeyUsagePurpose;
        use rcgen::{CertificateParams, DnType, ExtendedKeyUsagePurpose, Issuer, KeyPair};
        let label_ok = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        if !label_ok {
            return Err(Error::InvalidArgument {
                name: "client name",
                problem: format!(
                    "{name:?} is not 1 to 63 letters, digits, `-` or `_` (it names the client's certificate)"
                ),
            });
        }
        let failed =
            |e: rcgen::Error| certificate_error(Path::new(CLIENT_CA_KEY_FILE), e.to_string());
        let key = KeyPair::from_pem(client_ca_key).map_err(failed)?;
        let issuer = Issuer::new(ca_params(CLIENT_CA_NAME)?, key);
        let mut params = CertificateParams::new(vec![client_name(name)]).map_err(failed)?;
        params
            .distinguished_name
            .push(DnType::CommonName, client_name(name));
        params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
        let key = KeyPair::generate().map_err(failed)?;
        let certificate = params.signed_by(&key, &issuer).map_err(failed)?;
        Ok(ClientCredentials {
            name: name.to_owned(),
            ca_certificate: ca_certificate.to_owned(),
            certificate: certificate.pem(),
            key: zeroize::Zeroizing::new(key.serialize_pem()),
        })
    }

    /// [`ClientCredentials::issue`] with a cluster's credentials directory (its `ca.pem`
    /// and `client-ca.key`, as `securenn keygen` writes them).
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] naming a file that is missing or unreadable, and as
    /// [`ClientCredentials::issue`].
    pub fn issue_from_dir(cluster_dir: &Path, name: &str) -> Result<Self> {
        let read = |file: &str| {
            let path = cluster_dir.join(file);
            std::fs::read_to_string(&path)
                .map(zeroize::Zeroizing::new)
                .map_err(|e| certificate_error(&path, format!("cannot read: {e}")))
        };
        Self::issue(&read(CA_FILE)?, &read(CLIENT_CA_KEY_FILE)?, name)
    }

    /// Writes `ca.pem`, `client.pem` and `client.key` (owner-only, on Unix) into `dir`,
    /// created if missing; never overwrites a file.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if a file exists or cannot be written.
    pub fn write_to(&self, dir: &Path) -> Result<()> {
        std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        write_new(&dir.join(CA_FILE), &self.ca_certificate, false)?;
        write_new(&dir.join(CLIENT_CERTIFICATE_FILE), &self.certificate, false)?;
        write_new(&dir.join(CLIENT_KEY_FILE), &self.key, true)
    }

    /// The client's identity, without touching the disk.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] if a PEM block does not parse.
    pub fn identity(&self) -> Result<ClientIdentity> {
        ClientIdentity::parse(
            (Path::new(CA_FILE), self.ca_certificate.as_bytes()),
            (
                Path::new(CLIENT_CERTIFICATE_FILE),
                self.certificate.as_bytes(),
            ),
            (Path::new(CLIENT_KEY_FILE), self.key.as_bytes()),
        )
    }
}

/// The name a client's certificate is issued for: `NAME.client.securenn`.
fn client_name(name: &str) -> String {
    format!("{name}.client.securenn")
}

/// A client's TLS credentials, ready to connect to the servers.
pub struct ClientIdentity {
    ca: CertificateDer<'static>,
    chain: Vec<CertificateDer<'static>>,
    key: PrivateKeyDer<'static>,
}

impl core::fmt::Debug for ClientIdentity {
    /// Never prints the private key.
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientIdentity").finish_non_exhaustive()
    }
}

impl ClientIdentity {
    /// Reads a client's credentials directory (`ca.pem`, `client.pem`, `client.key`).
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] naming the file that is missing, unreadable or holds no
    /// certificate (or key).
    pub fn from_dir(dir: &Path) -> Result<Self> {
        Self::from_pem_files(
            &dir.join(CA_FILE),
            &dir.join(CLIENT_CERTIFICATE_FILE),
            &dir.join(CLIENT_KEY_FILE),
        )
    }

    /// Reads a client's credentials from three PEM files: the cluster's CA certificate, the
    /// client's certificate and its key.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] naming the file that is missing, unreadable or holds no
    /// certificate (or key).
    pub fn from_pem_files(ca: &Path, certificate: &Path, key: &Path) -> Result<Self> {
        let read = |path: &Path| {
            std::fs::read(path)
                .map(zeroize::Zeroizing::new)
                .map_err(|e| certificate_error(path, format!("cannot read: {e}")))
        };
        let (ca_pem, certificate_pem, key_pem) = (read(ca)?, read(certificate)?, read(key)?);
        Self::parse(
            (ca, &ca_pem),
            (certificate, &certificate_pem),
            (key, &key_pem),
        )
    }

    fn parse(ca: (&Path, &[u8]), certificate: (&Path, &[u8]), key: (&Path, &[u8])) -> Result<Self> {
        let (ca, chain, key) = parse_credentials(ca, certificate, key)?;
        Ok(ClientIdentity { ca, chain, key })
    }

    /// The rustls connector of this client.
    pub(crate) fn connector(&self) -> Result<TlsConnector> {
        connector(
            &self.ca,
            &self.chain,
            &self.key,
            Path::new(CLIENT_CERTIFICATE_FILE),
        )
    }

    /// Runs the TLS handshake with `server` (P0 or P1) over `stream`, checking that the
    /// server's certificate is the cluster's and names that party.
    pub(crate) async fn connect(
        connector: &TlsConnector,
        server: Role,
        stream: TcpStream,
    ) -> Result<TlsStream<TcpStream>> {
        let name = ServerName::try_from(party_name(server))
            .map_err(|_| Error::Internal("a party name that is not a DNS name"))?;
        connector
            .connect(name, stream)
            .await
            .map_err(|e| Error::Handshake {
                peer: PeerDescription::Party(server),
                reason: HandshakeFailure::Tls(e.to_string()),
            })
    }
}

/// The clients' CA as a server trusts it: only certificates it issued are accepted from
/// clients.
pub struct ClientAuthority {
    certificate: CertificateDer<'static>,
}

impl core::fmt::Debug for ClientAuthority {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("ClientAuthority").finish_non_exhaustive()
    }
}

impl ClientAuthority {
    /// The clients' CA from its PEM certificate.
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] if it does not parse.
    pub fn from_pem(pem: &[u8]) -> Result<Self> {
        let certificate = CertificateDer::from_pem_slice(pem).map_err(|e| {
            certificate_error(
                Path::new(CLIENT_CA_FILE),
                format!("no PEM certificate: {e}"),
            )
        })?;
        Ok(ClientAuthority { certificate })
    }

    /// The clients' CA from its file (`client-ca.pem`).
    ///
    /// # Errors
    ///
    /// [`Error::Certificate`] naming the file if it is unreadable or holds no certificate.
    pub fn from_file(path: &Path) -> Result<Self> {
        let pem = std::fs::read(path)
            .map_err(|e| certificate_error(path, format!("cannot read: {e}")))?;
        Self::from_pem(&pem).map_err(|_| certificate_error(path, "holds no PEM certificate"))
    }

    /// The acceptor of a server (`identity`, P0's or P1's) for these clients: it presents
    /// the party's certificate and requires a client certificate this CA issued.
    pub(crate) fn acceptor(&self, identity: &TlsIdentity) -> Result<tokio_rustls::TlsAcceptor> {
        acceptor(
            &self.certificate,
            &identity.chain,
            &identity.key,
            Path::new(CLIENT_CA_FILE),
        )
    }
}
