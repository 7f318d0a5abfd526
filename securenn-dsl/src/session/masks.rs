//! Masks opened once and reused: the record, per key domain (a session's keys with P2, or
//! a material's), of each operand whose masked value F = W − V was opened, so that the
//! same mask V never hides another operand.
//!
//! A product with a model's weights opens F = W − V once and reuses F and V for every
//! later query ([`protocol::matmul_with_mask`](crate::protocol::matmul_with_mask)). That
//! is safe only while W stays the same: F = W − V and F′ = W′ − V would reveal W − W′.
//! Each party therefore keeps its own share of the operand F was opened for and refuses
//! ([`Error::MaskReused`]) a later product whose share differs. A material loaded from a
//! file also records a digest of the share beside the file (`<file>.masks`), so that a
//! later process with the same material and other weights is refused too.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::net::CallId;
use crate::ring::{Ring, Z64};

use super::material::lock;

/// One opened mask, as this party holds it.
pub(crate) struct OpenedMask {
    /// This party's share of the operand the mask was opened for (empty at P2).
    pub(crate) operand: Vec<Z64>,
    /// The opened value F = W − V (empty at P2).
    pub(crate) opened: Vec<Z64>,
    /// This party's share of the mask V (at P2, V itself).
    pub(crate) mask: Vec<Z64>,
}

/// The masks opened in one key domain.
#[derive(Default)]
pub(crate) struct OpenedMasks {
    entries: Mutex<HashMap<CallId, Arc<OpenedMask>>>,
    /// A loaded material's record of digests, and the digests it holds.
    record: Option<PathBuf>,
    digests: Mutex<HashMap<CallId, [u8; 32]>>,
}

/// Lengths only: the values are shares and masks.
impl core::fmt::Debug for OpenedMask {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenedMask")
            .field("len", &self.mask.len())
            .finish_non_exhaustive()
    }
}

/// How many masks are open, not what they hide.
impl core::fmt::Debug for OpenedMasks {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("OpenedMasks")
            .field("opened", &lock(&self.entries).len())
            .field("record", &self.record)
            .finish_non_exhaustive()
    }
}

impl OpenedMasks {
    /// A registry that records digests in `record` (read from it if it exists).
    pub(crate) fn recorded(record: PathBuf) -> Result<OpenedMasks> {
        let digests = match std::fs::read_to_string(&record) {
            Ok(text) => parse_digests(&text).ok_or_else(|| Error::Material {
                source_name: record.display().to_string(),
                problem: crate::error::MaterialProblem::Malformed(
                    "the record of opened masks is malformed".to_owned(),
                ),
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(Error::io(&record, e)),
        };
        Ok(OpenedMasks {
            entries: Mutex::default(),
            record: Some(record),
            digests: Mutex::new(digests),
        })
    }

    /// The mask `id`, if it was opened, after checking that it was opened for `operand`
    /// (this party's share; P2 passes an empty slice).
    ///
    /// # Errors
    ///
    /// [`Error::MaskReused`] if it was opened for another operand.
    pub(crate) fn get(&self, id: CallId, operand: &[Z64]) -> Result<Option<Arc<OpenedMask>>> {
        let entry = lock(&self.entries).get(&id).cloned();
        match entry {
            Some(entry) if entry.operand != operand => Err(Error::MaskReused { mask: id }),
            Some(entry) => Ok(Some(entry)),
            None => {
                self.check_digest(id, operand)?;
                Ok(None)
            }
        }
    }

    /// Records that mask `id` was opened (checked by [`OpenedMasks::get`] first).
    pub(crate) fn insert(&self, id: CallId, entry: OpenedMask) -> Arc<OpenedMask> {
        let entry = Arc::new(entry);
        lock(&self.entries).insert(id, Arc::clone(&entry));
        entry
    }

    /// With a record: refuses an operand whose digest differs from the one recorded for
    /// `id`, and records it if there is none yet (before anything is opened).
    fn check_digest(&self, id: CallId, operand: &[Z64]) -> Result<()> {
        let Some(record) = self.record.as_ref().filter(|_| !operand.is_empty()) else {
            return Ok(());
        };
        let mut hasher = Sha256::new();
        let mut bytes = Vec::with_capacity(operand.len() * 8);
        Z64::encode_slice(operand, &mut bytes);
        hasher.update(&bytes);
        let digest: [u8; 32] = hasher.finalize().into();
        let mut digests = lock(&self.digests);
        // Under the record's lock, with what another process may have recorded since.
        crate::session::material::update_record(record, |text| {
            let recorded = parse_digests(text).ok_or_else(|| Error::Material {
                source_name: record.display().to_string(),
                problem: crate::error::MaterialProblem::Malformed(
                    "the record of opened masks is malformed".to_owned(),
                ),
            })?;
            digests.extend(recorded);
            match digests.get(&id) {
                Some(recorded) if *recorded != digest => Err(Error::MaskReused { mask: id }),
                Some(_) => Ok(None),
                None => {
                    digests.insert(id, digest);
                    Ok(Some(
                        digests
                            .iter()
                            .map(|(id, digest)| {
                                format!("{} {}\n", hex(&id.to_bytes()), hex(digest))
                            })
                            .collect(),
                    ))
                }
            }
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    if text.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (i, byte) in out.iter_mut().enumerate() {
        *byte = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn parse_digests(text: &str) -> Option<HashMap<CallId, [u8; 32]>> {
    text.lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            let (id, digest) = line.trim().split_once(' ')?;
            Some((CallId::from_bytes(unhex(id)?), unhex(digest)?))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digests_round_trip_through_their_record() {
        let id = CallId::named("weight mask", 3);
        let text = format!("{} {}\n", hex(&id.to_bytes()), hex(&[9u8; 32]));
        let parsed = parse_digests(&text).unwrap_or_default();
        assert_eq!(parsed.get(&id), Some(&[9u8; 32]));
        assert!(parse_digests("00 11\n").is_none());
    }
}
