//! The job: the public parameters the parties state and agree on before anything secret
//! moves.

use crate::error::{Error, Result};
use crate::net::{CallId, Frame, Tag, Transport};
use crate::party::Role;

use super::Session;
use crate::net::WIRE_VERSION;

/// The public parameters of a job (network, batch size, model, ...), as named fields.
///
/// At the start of a session every party sends its job to the two others and compares
/// theirs with its own before any key or share is sent: a field both state with different
/// values is an [`Error::Handshake`] with
/// [`HandshakeFailure::Job`](crate::error::HandshakeFailure::Job), naming the field and
/// both values. A field only one party states is not compared: a party states what it
/// knows (the identity of the model shares it holds, say, which the helper does not). The
/// session always adds the wire version and the fixed-point format.
///
/// # Examples
///
/// ```
/// use securenn_dsl::session::{Job, SessionConfig, run_local_with};
///
/// let config = SessionConfig {
///     job: Job::new().with("network", "A").with("batch", 128),
///     ..SessionConfig::default()
/// };
/// let roles = run_local_with(&config, |session| async move { Ok(session.role()) })?;
/// assert_eq!(roles.len(), 3);
/// # Ok::<(), securenn_dsl::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Job {
    fields: Vec<(String, String)>,
}

/// The longest job description accepted from a peer, in bytes.
pub const MAX_JOB_LEN: usize = 16 << 10;

impl Job {
    /// A job with no field yet.
    pub fn new() -> Job {
        Job::default()
    }

    /// This job with `field` set to `value` (replacing an earlier value).
    #[must_use]
    pub fn with(mut self, field: impl Into<String>, value: impl ToString) -> Job {
        let field = field.into();
        let value = value.to_string();
        match self.fields.iter_mut().find(|(f, _)| *f == field) {
            Some(slot) => slot.1 = value,
            None => self.fields.push((field, value)),
        }
        self
    }

    /// The value of `field`, if stated.
    pub fn get(&self, field: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(f, _)| f == field)
            .map(|(_, v)| v.as_str())
    }

    /// The fields, in the order they were set.
    pub fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(f, v)| (f.as_str(), v.as_str()))
    }

    /// This job with the fields every session states.
    fn complete(&self) -> Job {
        self.clone().with("wire version", WIRE_VERSION).with(
            "fixed point",
            format!(
                "Z_2^64, {} fractional bits",
                crate::ring::fixed::FRACTIONAL_BITS
            ),
        )
    }

    /// The job's bytes on the wire.
    fn encode(&self) -> Result<Vec<u8>> {
        let bytes = postcard::to_stdvec(self)
            .map_err(|_| Error::Internal("the job description cannot be encoded"))?;
        if bytes.len() > MAX_JOB_LEN {
            return Err(Error::JobTooLarge {
                len: bytes.len(),
                max: MAX_JOB_LEN,
            });
        }
        Ok(bytes)
    }

    /// Decodes a job description sent by `peer`.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] with [`HandshakeFailure::Malformed`](crate::error::HandshakeFailure::Malformed)
    /// if the bytes are over [`MAX_JOB_LEN`] or not a job.
    pub fn decode(bytes: &[u8], peer: Role) -> Result<Job> {
        let malformed = Error::Handshake {
            peer: crate::error::PeerDescription::Party(peer),
            reason: crate::error::HandshakeFailure::Malformed,
        };
        if bytes.len() > MAX_JOB_LEN {
            return Err(malformed);
        }
        postcard::from_bytes(bytes).map_err(|_| malformed)
    }

    /// Checks `theirs`, `peer`'s job, against this one.
    ///
    /// # Errors
    ///
    /// [`Error::Handshake`] with [`HandshakeFailure::Job`](crate::error::HandshakeFailure::Job)
    /// for the first field both state with different values.
    pub fn check(&self, theirs: &Job, peer: Role) -> Result<()> {
        for (field, ours) in self.fields() {
            if let Some(their_value) = theirs.get(field)
                && their_value != ours
            {
                return Err(Error::Handshake {
                    peer: crate::error::PeerDescription::Party(peer),
                    reason: crate::error::HandshakeFailure::Job {
                        field: field.to_owned(),
                        ours: ours.to_owned(),
                        theirs: their_value.to_owned(),
                    },
                });
            }
        }
        Ok(())
    }
}

impl Session {
    /// Sends this party's job to both peers and checks theirs, before anything secret;
    /// returns theirs.
    pub(super) async fn agree_job(&self, job: &Job) -> Result<[Option<Job>; 3]> {
        let ours = job.complete();
        let payload = ours.encode()?;
        // The root identity tags no call: the job frames cannot be taken for a message.
        let tag = Tag {
            call: CallId::ROOT,
            step: 0,
            chunk: 0,
        };
        for peer in self.role.peers() {
            let frame = Frame {
                tag,
                round: 0,
                payload: payload.clone(),
            };
            self.transport.send(peer, frame).await?;
        }
        let mut jobs = [None, None, None];
        for peer in self.role.peers() {
            let frame = self.transport.recv(peer, tag).await?;
            let theirs = Job::decode(&frame.payload, peer)?;
            ours.check(&theirs, peer)?;
            jobs[peer.index()] = Some(theirs);
        }
        Ok(jobs)
    }
}
