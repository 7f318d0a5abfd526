//! The keys a party holds: one shared with each peer, and a private one.

use super::{Key, Prg, StreamId};
use crate::party::Role;

/// One party's keys, agreed at session start
/// ([`Session::start`](crate::session::Session::start)).
///
/// P0 and P1 share a key (their common randomness), P0 and P2 share one (P0's Beaver triple
/// shares), P1 and P2 share one (P1's triple shares); each party also has a private key.
/// No party holds the key of a pair it is not part of.
pub(crate) struct PartyKeys {
    role: Role,
    /// `shared[peer.index()]`: the key shared with `peer`; `None` at our own index.
    shared: [Option<Key>; 3],
    private: Key,
}

impl PartyKeys {
    pub(crate) fn new(role: Role, shared: [Option<Key>; 3], private: Key) -> Self {
        PartyKeys {
            role,
            shared,
            private,
        }
    }

    /// The stream `stream` of the key shared with `peer`, or `None` if `peer` is us.
    pub(crate) fn shared_prg(&self, peer: Role, stream: StreamId) -> Option<Prg> {
        if peer == self.role {
            return None;
        }
        self.shared[peer.index()]
            .as_ref()
            .map(|key| Prg::derive(key, stream))
    }

    /// The stream `stream` of the private key.
    pub(crate) fn private_prg(&self, stream: StreamId) -> Prg {
        Prg::derive(&self.private, stream)
    }
}

impl core::fmt::Debug for PartyKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("PartyKeys")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}
