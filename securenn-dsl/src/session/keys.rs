//! Key agreement: the pairwise keys drawn by one party of each pair and sent to the
//! other, and each party's private key.

use crate::error::Result;
use crate::net::CallId;
use crate::prg::{Key, PartyKeys, Prg, StreamId};
use crate::ring::Z64;

use super::{Context, Session, SessionConfig};

impl Session {
    /// Draws this party's keys and exchanges the pairwise ones.
    pub(super) async fn agree_keys(&self, config: &SessionConfig) -> Result<PartyKeys> {
        let mut seeded = config.insecure_seed.map(|seed| {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&seed.to_le_bytes());
            Prg::derive(
                &Key::from_bytes(bytes),
                StreamId {
                    call: CallId::ROOT,
                    label: u32::from(self.role.id()),
                },
            )
        });
        let mut fresh_key = || match seeded.as_mut() {
            Some(prg) => {
                let mut bytes = [0u8; 16];
                prg.fill(&mut bytes);
                Ok(Key::from_bytes(bytes))
            }
            None => Key::from_os_rng(),
        };
        let private = fresh_key()?;
        let call = self.open("key agreement");
        // The lower-numbered party of each pair draws the pair's key.
        let mut shared = [None, None, None];
        for peer in self.role.peers() {
            let key = if self.role < peer {
                let key = fresh_key()?;
                call.send(peer, 0, &key_to_elements(&key)).await?;
                key
            } else {
                key_from_elements(&call.recv::<Z64>(peer, 0, 2).await?)
            };
            shared[peer.index()] = Some(key);
        }
        Ok(PartyKeys::new(self.role, shared, private))
    }
}

fn key_to_elements(key: &Key) -> [Z64; 2] {
    let bytes = key.to_bytes();
    let mut halves = [[0u8; 8]; 2];
    halves[0].copy_from_slice(&bytes[..8]);
    halves[1].copy_from_slice(&bytes[8..]);
    halves.map(|half| Z64::new(u64::from_le_bytes(half)))
}

fn key_from_elements(elements: &[Z64]) -> Key {
    let mut bytes = [0u8; 16];
    for (chunk, x) in bytes.chunks_exact_mut(8).zip(elements) {
        chunk.copy_from_slice(&x.value().to_le_bytes());
    }
    Key::from_bytes(bytes)
}
