//! Call identities and message tags: how a message is named, the same at every party.
//!
//! A leaf module: it imports nothing from the crate. The transports ([`net`](crate::net))
//! file frames under a [`Tag`], the session derives each call's [`CallId`], the generators
//! ([`prg`](crate::prg)) key a call's randomness by it, and the errors name the tag of a
//! message that went wrong.

use core::fmt;

/// The identity of a protocol call, the same at every party: 96 bits derived from the
/// identity of the call (or session) that opened it and its position among that one's
/// calls, so that calls opened concurrently are still named alike everywhere.
///
/// # Examples
///
/// ```
/// use securenn_dsl::net::CallId;
///
/// let first = CallId::ROOT.child(1);
/// assert_eq!(first, CallId::ROOT.child(1));
/// assert_ne!(first, CallId::ROOT.child(2));
/// assert_ne!(first.child(0), CallId::ROOT.child(0));
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId([u8; 12]);

impl CallId {
    /// The identity of the session itself, the parent of its top-level calls.
    pub const ROOT: CallId = CallId([0; 12]);

    /// The identity of the `index`-th call opened within this one: the first 96 bits of
    /// SHA-256(self ‖ index), so distinct paths collide with probability about n²/2^97.
    pub fn child(self, index: u32) -> CallId {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(self.0);
        hasher.update(index.to_le_bytes());
        let digest = hasher.finalize();
        let mut id = [0u8; 12];
        id.copy_from_slice(&digest[..12]);
        CallId(id)
    }

    /// The identity of the call named `name` number `index`, whatever was opened before it
    /// ([`Session::scope`](crate::session::Session::scope)): the first 96 bits of
    /// SHA-256("scope" ‖ len(name) ‖ name ‖ index), never equal to a [`CallId::child`] but
    /// with negligible probability.
    pub fn named(name: &str, index: u64) -> CallId {
        use sha2::{Digest, Sha256};
        let mut hasher = Sha256::new();
        hasher.update(b"scope");
        hasher.update((name.len() as u64).to_le_bytes());
        hasher.update(name.as_bytes());
        hasher.update(index.to_le_bytes());
        let digest = hasher.finalize();
        let mut id = [0u8; 12];
        id.copy_from_slice(&digest[..12]);
        CallId(id)
    }

    /// The identity's 12 bytes.
    pub const fn to_bytes(self) -> [u8; 12] {
        self.0
    }

    /// The identity with these 12 bytes.
    pub const fn from_bytes(bytes: [u8; 12]) -> CallId {
        CallId(bytes)
    }
}

impl fmt::Display for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for byte in &self.0[..6] {
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({self})")
    }
}

/// The name of one frame: the protocol call it belongs to, the step within the call, and
/// the chunk within the step's message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Tag {
    /// The protocol call.
    pub call: CallId,
    /// The step (message) within the call.
    pub step: u16,
    /// The chunk within a message that spans several frames.
    pub chunk: u16,
}

impl fmt::Display for Tag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "call {} step {}", self.call, self.step)?;
        if self.chunk > 0 {
            write!(f, " chunk {}", self.chunk)?;
        }
        Ok(())
    }
}
