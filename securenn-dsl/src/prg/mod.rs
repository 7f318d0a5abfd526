//! Randomness: AES-128 in counter mode (AES-NI where the CPU has it), keys, and per-call
//! domain separation.
//!
//! Every random draw of a protocol comes from a [`Prg`]: AES-128-CTR keyed with a stream key
//! derived from one of the session's [`Key`]s and a [`StreamId`] (the protocol call's
//! identity and a label for the purpose within the call). The derivation is one AES block,
//! `stream key = AES_k(call ‖ label)` (96 + 32 bits), so distinct calls and purposes get
//! independent streams and no mask is ever drawn twice. Two parties that share a key and
//! derive the same `StreamId` draw the same stream: this is SecureNN's common randomness,
//! which lets P0 and P2 (or P1 and P2) generate Beaver-triple shares without sending them.
//!
//! `Prg` implements the `rand_core` traits (`TryRng<Error = Infallible>`, hence `Rng`, and
//! `TryCryptoRng`), so rings and distributions can draw from it.
//!
//! Its layer (the book's "Architecture" page): it may import only from `share`, `tensor`,
//! `ring`, `error`, `party`, `shape` and `tag`.

use core::convert::Infallible;
use core::fmt;

use aes::Aes128;
use aes::cipher::{BlockEncrypt, KeyInit, KeyIvInit, StreamCipher};
use rand_core::{TryCryptoRng, TryRng};

use std::sync::Arc;

use zeroize::Zeroize;

use crate::error::{Error, Result};
use crate::tag::CallId;

mod keys;

pub(crate) use keys::PartyKeys;

/// AES-128 in big-endian 128-bit counter mode.
type Aes128Ctr = ctr::Ctr128BE<Aes128>;

/// Bytes of keystream buffered for small draws.
const BUFFER_BYTES: usize = 512;

/// A 128-bit AES key. Its `Debug` output never shows the key, and it is erased from
/// memory when dropped.
#[derive(Clone)]
pub struct Key([u8; 16]);

impl Drop for Key {
    fn drop(&mut self) {
        self.0.zeroize();
    }
}

impl Key {
    /// A key from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`Error::OsRng`] if the operating system cannot provide randomness.
    pub fn from_os_rng() -> Result<Key> {
        let mut bytes = [0u8; 16];
        rand::rngs::SysRng
            .try_fill_bytes(&mut bytes)
            .map_err(|e| Error::OsRng(Arc::new(e)))?;
        Ok(Key(bytes))
    }

    /// A key with these bytes.
    pub const fn from_bytes(bytes: [u8; 16]) -> Key {
        Key(bytes)
    }

    /// The key's bytes (to send it to the peer it is shared with).
    pub(crate) fn to_bytes(&self) -> [u8; 16] {
        self.0
    }

    /// The key for one stream: `AES_k(call ‖ label)`.
    fn derive(&self, stream: StreamId) -> [u8; 16] {
        let mut block = [0u8; 16];
        block[..12].copy_from_slice(&stream.call.to_bytes());
        block[12..].copy_from_slice(&stream.label.to_le_bytes());
        let cipher = Aes128::new(&self.0.into());
        let mut block = block.into();
        cipher.encrypt_block(&mut block);
        block.into()
    }
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Key(<redacted>)")
    }
}

/// Names one stream of a key: the protocol call it belongs to and a label for its purpose
/// within that call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct StreamId {
    /// The protocol call (the same identity at every party).
    pub call: CallId,
    /// The purpose within the call (e.g. 0 for the first mask, 1 for the second).
    pub label: u32,
}

/// A cryptographically secure pseudo-random generator: AES-128-CTR.
///
/// # Examples
///
/// ```
/// use securenn_dsl::net::CallId;
/// use securenn_dsl::prg::{Key, Prg, StreamId};
/// use securenn_dsl::ring::{Ring, Z64};
///
/// let key = Key::from_bytes([7; 16]);
/// let stream = StreamId { call: CallId::ROOT.child(1), label: 0 };
/// // Two parties holding the same key draw the same values...
/// let mut mine = Prg::derive(&key, stream);
/// let mut theirs = Prg::derive(&key, stream);
/// assert_eq!(Z64::random(&mut mine), Z64::random(&mut theirs));
/// // ...and another stream of the same key is independent.
/// let mut other = Prg::derive(&key, StreamId { call: CallId::ROOT.child(2), label: 0 });
/// assert_ne!(Z64::random(&mut mine), Z64::random(&mut other));
/// ```
pub struct Prg {
    cipher: Aes128Ctr,
    buffer: [u8; BUFFER_BYTES],
    /// Bytes of `buffer` already handed out; `BUFFER_BYTES` when it is empty.
    used: usize,
}

impl Prg {
    /// The stream `stream` of `key`.
    pub fn derive(key: &Key, stream: StreamId) -> Prg {
        Prg::from_stream_key(key.derive(stream))
    }

    /// A generator keyed directly with `key`, counter starting at zero.
    pub fn from_stream_key(key: [u8; 16]) -> Prg {
        Prg {
            cipher: Aes128Ctr::new(&key.into(), &[0u8; 16].into()),
            buffer: [0; BUFFER_BYTES],
            used: BUFFER_BYTES,
        }
    }

    /// A generator keyed from the operating system's random number generator.
    ///
    /// # Errors
    ///
    /// [`Error::OsRng`] if the operating system cannot provide randomness.
    pub fn from_os_rng() -> Result<Prg> {
        Ok(Prg::from_stream_key(Key::from_os_rng()?.0))
    }

    /// Fills `dest` with the next bytes of the keystream.
    pub fn fill(&mut self, dest: &mut [u8]) {
        let buffered = (BUFFER_BYTES - self.used).min(dest.len());
        let (head, tail) = dest.split_at_mut(buffered);
        head.copy_from_slice(&self.buffer[self.used..self.used + buffered]);
        self.used += buffered;
        if tail.is_empty() {
            return;
        }
        // The buffer is empty. Large requests take the keystream in place; the last partial
        // buffer's worth goes through the buffer so that the stream stays contiguous.
        let direct = tail.len() - tail.len() % BUFFER_BYTES;
        let (bulk, rest) = tail.split_at_mut(direct);
        bulk.fill(0);
        self.cipher.apply_keystream(bulk);
        if !rest.is_empty() {
            self.buffer.fill(0);
            self.cipher.apply_keystream(&mut self.buffer);
            rest.copy_from_slice(&self.buffer[..rest.len()]);
            self.used = rest.len();
        }
    }
}

impl fmt::Debug for Prg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Prg(<redacted>)")
    }
}

impl TryRng for Prg {
    type Error = Infallible;

    fn try_next_u32(&mut self) -> Result<u32, Infallible> {
        let mut bytes = [0u8; 4];
        self.fill(&mut bytes);
        Ok(u32::from_le_bytes(bytes))
    }

    fn try_next_u64(&mut self) -> Result<u64, Infallible> {
        let mut bytes = [0u8; 8];
        self.fill(&mut bytes);
        Ok(u64::from_le_bytes(bytes))
    }

    fn try_fill_bytes(&mut self, dst: &mut [u8]) -> Result<(), Infallible> {
        self.fill(dst);
        Ok(())
    }
}

impl TryCryptoRng for Prg {}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::Rng;

    #[test]
    fn the_stream_does_not_depend_on_how_it_is_drawn() {
        let key = Key::from_bytes([1; 16]);
        let stream = StreamId {
            call: CallId::ROOT.child(9),
            label: 3,
        };
        let mut whole = vec![0u8; 5000];
        Prg::derive(&key, stream).fill(&mut whole);
        let mut pieces = Vec::new();
        let mut prg = Prg::derive(&key, stream);
        for size in [3usize, 8, 700, 1, 2048, 4, 512, 1724] {
            let mut part = vec![0u8; size];
            prg.fill_bytes(&mut part);
            pieces.extend(part);
        }
        assert_eq!(pieces, whole);
    }

    #[test]
    fn keystream_block_i_is_aes_of_counter_i() {
        // Counter mode with a zero IV: block i of the keystream is AES_k(i), big-endian.
        let key = [
            0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf,
            0x4f, 0x3c,
        ];
        let mut prg = Prg::from_stream_key(key);
        let mut got = [0u8; 32];
        prg.fill(&mut got);
        let cipher = Aes128::new(&key.into());
        for (i, chunk) in got.chunks_exact(16).enumerate() {
            let mut block = (i as u128).to_be_bytes().into();
            cipher.encrypt_block(&mut block);
            assert_eq!(chunk, block.as_slice());
        }
    }
}
