//! The offline phase ([`Session::deal_offline`]) and the online one ([`Material::open`]).

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};

use crate::error::{Error, MaterialProblem, Result};
use crate::net::CallId;
use crate::party::Role;
use crate::prg::Key;
use crate::ring::Z64;

use super::material::{
    Dealing, DrawRequest, MAX_RUN_BYTES, MAX_RUN_MESSAGES, Material, Phase, RunMessages, Writer,
    draw_requested, lock,
};
use super::{Call, Context, Session};

/// The name of a material's runs.
const RUN: &str = "offline run";

/// The identity of run `index` of the material dealt as `id`: its own for every material,
/// so that two materials' runs never draw the same stream of any key (the session's P0-P1
/// key included) and never share a message tag.
pub(super) fn run_id(id: &[u8; 16], index: u64) -> CallId {
    let hex: String = id.iter().map(|b| format!("{b:02x}")).collect();
    CallId::named(&format!("{RUN} of {hex}"), index)
}

/// Message steps of the dealing.
const STEP_KEYS: u16 = 0;
const STEP_PAIR_KEY: u16 = 1;
const STEP_SIZES: u16 = 0;
const STEP_INDEX: u16 = 1;
const STEP_PAYLOAD: u16 = 2;

impl Session {
    /// The offline phase: deals the material for `count` runs of a program described by
    /// `program` (what it is for, e.g. the network, the batch and the model: the online
    /// phase must name the same), and returns this party's [`Material`].
    ///
    /// P2 draws the material's keys with P0 and with P1 from its private key and sends
    /// them (with the dealing's identity), then runs `run` once per run in a recording
    /// phase: the program must be the one the online phase will run in
    /// [`Material::open`]'s call, and P2's part of it must not depend on what P2 receives
    /// (every securenn protocol's is so). After each run P2 sends P1 its share of what it
    /// dealt and, with [`SessionConfig::offline_draws`](super::SessionConfig::offline_draws),
    /// P0 and P1 the draws it requested for them (the randomness of each comparison, P0's
    /// shares of the bits P2 deals), which they make from the material's keys (P0 draws
    /// the P0-P1 key and sends it to P1). P0 and P1 do not run `run`.
    ///
    /// # Errors
    ///
    /// [`Error::Material`] if a run's material is larger than [`MAX_RUN_BYTES`], the
    /// errors of `run` at P2, or the transport's errors.
    pub async fn deal_offline<F>(&self, program: &str, count: u64, run: F) -> Result<Material>
    where
        F: AsyncFnMut(&Call<'_>) -> Result<()>,
    {
        self.deal(program, count, run, None).await
    }

    /// [`Session::deal_offline`], writing this party's material to `path` run by run as it
    /// is dealt (with its record of used runs beside it), so that memory holds one run at
    /// a time however many are dealt; returns the material read back from the file.
    ///
    /// # Errors
    ///
    /// As [`Session::deal_offline`], and [`Error::Io`] if the file cannot be written.
    pub async fn deal_offline_into<F>(
        &self,
        path: &Path,
        program: &str,
        count: u64,
        run: F,
    ) -> Result<Material>
    where
        F: AsyncFnMut(&Call<'_>) -> Result<()>,
    {
        self.deal(program, count, run, Some(path)).await
    }

    async fn deal<F>(
        &self,
        program: &str,
        count: u64,
        mut run: F,
        sink: Option<&Path>,
    ) -> Result<Material>
    where
        F: AsyncFnMut(&Call<'_>) -> Result<()>,
    {
        let call = self.open("offline dealing");
        let role = self.role;
        let (id, keys) = if role == Role::P2 {
            let mut prg = call.private_prg(0);
            let mut bytes = [0u8; 48];
            prg.fill(&mut bytes);
            let id = first_bytes(&bytes[..16]);
            let with_p0 = first_bytes(&bytes[16..32]);
            let with_p1 = first_bytes(&bytes[32..]);
            call.send(Role::P0, STEP_KEYS, &words(&[id, with_p0]))
                .await?;
            call.send(Role::P1, STEP_KEYS, &words(&[id, with_p1]))
                .await?;
            let keys = [
                Some(Key::from_bytes(with_p0)),
                Some(Key::from_bytes(with_p1)),
                None,
            ];
            (id, keys)
        } else {
            let received = call.recv::<Z64>(Role::P2, STEP_KEYS, 4).await?;
            let [id, key] = from_words(&received);
            let mut keys = [None, None, None];
            keys[Role::P2.index()] = Some(Key::from_bytes(key));
            // The material's own P0-P1 key, drawn by P0 (P2 never sees it).
            let pair = if role == Role::P0 {
                let mut pair = [0u8; 16];
                call.private_prg(1).fill(&mut pair);
                call.send(Role::P1, STEP_PAIR_KEY, &words(&[pair])).await?;
                pair
            } else {
                let received = call.recv::<Z64>(Role::P0, STEP_PAIR_KEY, 2).await?;
                let [pair] = from_words(&received);
                pair
            };
            keys[role.other_holder().unwrap_or(Role::P0).index()] = Some(Key::from_bytes(pair));
            (id, keys)
        };
        let material = Material::new(id, program.to_owned(), role, keys, Vec::new());
        let mut writer = sink
            .map(|path| Writer::create(path, material.header(), count))
            .transpose()?;
        let mut runs = Vec::new();
        for index in 0..count {
            let transfer = call.open("run");
            match role {
                Role::P2 => {
                    let recorded = Arc::new(Mutex::new(Vec::new()));
                    let phase = Phase {
                        keys: Some(material.keys()),
                        dealing: Dealing::Record(Arc::clone(&recorded)),
                    };
                    run(&self.scope_with_id(RUN, run_id(&id, index), phase)).await?;
                    let recorded = std::mem::take(&mut *lock(&recorded));
                    // P0 gets the draws requested for it, P1 the rest.
                    let (for_p0, for_p1) = recorded.into_iter().partition(|(_, step, bytes)| {
                        DrawRequest::holder_of(*step, bytes) == Some(Role::P0)
                    });
                    send_run(&transfer, Role::P0, for_p0).await?;
                    send_run(&transfer, Role::P1, for_p1).await?;
                    tracing::info!(run = index + 1, count, "dealt an offline run");
                    if let Some(writer) = &mut writer {
                        writer.run(&RunMessages::new())?;
                    }
                }
                Role::P0 | Role::P1 => {
                    let mut messages = receive_run(&transfer).await?;
                    draw_requested(&mut messages, &material.keys(), role)?;
                    match &mut writer {
                        Some(writer) => writer.run(&messages)?,
                        None => runs.push(Some(messages)),
                    }
                }
            }
        }
        if let (Some(writer), Some(path)) = (writer, sink) {
            let count = usize::try_from(count).unwrap_or(usize::MAX);
            writer.finish(&vec![false; count])?;
            return Material::load(path);
        }
        if role == Role::P2 {
            runs = (0..count).map(|_| None).collect();
        }
        Ok(material.with_runs(runs))
    }
}

impl Material {
    /// The online phase: opens the next unused run of this material, in which `program`
    /// (the same as the offline phase's, described the same) runs with P2's
    /// input-independent dealing skipped and P1 reading it from the material. Open it at
    /// the same point at the three parties, with the material of the same dealing.
    ///
    /// # Errors
    ///
    /// [`Error::Material`] if the material is another party's, was dealt for another
    /// program, or has no unused run; [`Error::Io`] if a run cannot be read.
    pub fn open<'s>(&self, session: &'s Session, program: &str) -> Result<Call<'s>> {
        self.open_with(session, program, true)
    }

    /// [`Material::open`], but P2 deals inline with the material's keys: the same
    /// arithmetic and the same values as the online phase, with the offline messages sent
    /// as they are dealt. What the online phase is compared with; it uses the run too.
    ///
    /// # Errors
    ///
    /// As [`Material::open`].
    pub fn open_inline<'s>(&self, session: &'s Session, program: &str) -> Result<Call<'s>> {
        self.open_with(session, program, false)
    }

    fn open_with<'s>(&self, session: &'s Session, program: &str, online: bool) -> Result<Call<'s>> {
        self.check(session.role(), program)?;
        let (index, messages) = self.take_next()?;
        let dealing = if online {
            Dealing::Replay(Arc::new(Mutex::new(messages)))
        } else {
            Dealing::Inline
        };
        let phase = Phase {
            keys: Some(self.keys()),
            dealing,
        };
        Ok(session.scope_with_id(RUN, run_id(&self.id_bytes(), index), phase))
    }

    /// Marks run `index` used without running it (e.g. a run another process may have
    /// started before it stopped): [`MaterialProblem::Used`] if it was used before.
    ///
    /// # Errors
    ///
    /// [`Error::Material`] if the run was used before or does not exist.
    pub fn discard(&self, index: u64) -> Result<()> {
        self.take(index).map(drop)
    }
}

/// P2 sends one run's material to `to`: the number of messages and of payload words, then
/// each message's call, step and length, then the payloads, each padded to whole words.
async fn send_run(call: &Call<'_>, to: Role, recorded: Vec<(CallId, u16, Vec<u8>)>) -> Result<()> {
    let mut index = Vec::with_capacity(recorded.len() * 3);
    let mut payload = Vec::new();
    for (id, step, bytes) in &recorded {
        let id = id.to_bytes();
        index.push(Z64::new(u64::from_le_bytes(first_bytes(&id[..8]))));
        let mut tail = [0u8; 8];
        tail[..4].copy_from_slice(&id[8..]);
        tail[4..6].copy_from_slice(&step.to_le_bytes());
        index.push(Z64::new(u64::from_le_bytes(tail)));
        index.push(Z64::new(bytes.len() as u64));
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            payload.push(Z64::new(u64::from_le_bytes(word)));
        }
    }
    let sizes = [
        Z64::new(recorded.len() as u64),
        Z64::new(payload.len() as u64),
    ];
    call.send(to, STEP_SIZES, &sizes).await?;
    call.send(to, STEP_INDEX, &index).await?;
    call.send(to, STEP_PAYLOAD, &payload).await
}

/// P0 or P1 receives one run's material from P2, within the bounds on a run.
async fn receive_run(call: &Call<'_>) -> Result<RunMessages> {
    let malformed = |problem: String| Error::Material {
        source_name: "from P2".to_owned(),
        problem: MaterialProblem::Malformed(problem),
    };
    let sizes = call.recv::<Z64>(Role::P2, STEP_SIZES, 2).await?;
    let (count, words) = (sizes[0].value(), sizes[1].value());
    if count > MAX_RUN_MESSAGES {
        return Err(malformed(format!("a run of {count} messages")));
    }
    if words.saturating_mul(8) > MAX_RUN_BYTES {
        return Err(Error::Material {
            source_name: "from P2".to_owned(),
            problem: MaterialProblem::TooLarge {
                bytes: words.saturating_mul(8),
                limit: MAX_RUN_BYTES,
            },
        });
    }
    let (count, words) = (to_usize(count)?, to_usize(words)?);
    let index = call.recv::<Z64>(Role::P2, STEP_INDEX, 3 * count).await?;
    let mut lens = Vec::with_capacity(count);
    let mut total_words = 0usize;
    for entry in index.chunks_exact(3) {
        let len = to_usize(entry[2].value())?;
        total_words = total_words.saturating_add(len.div_ceil(8));
        lens.push(len);
    }
    if total_words != words {
        return Err(malformed(format!(
            "its messages need {total_words} words, it announced {words}"
        )));
    }
    let payload = call.recv::<Z64>(Role::P2, STEP_PAYLOAD, words).await?;
    let mut messages = HashMap::with_capacity(count);
    let mut at = 0;
    for (entry, len) in index.chunks_exact(3).zip(lens) {
        let head = entry[0].value().to_le_bytes();
        let tail = entry[1].value().to_le_bytes();
        let mut id = [0u8; 12];
        id[..8].copy_from_slice(&head);
        id[8..].copy_from_slice(&tail[..4]);
        let step = u16::from_le_bytes([tail[4], tail[5]]);
        let used = len.div_ceil(8);
        let mut bytes = Vec::with_capacity(used * 8);
        for word in &payload[at..at + used] {
            bytes.extend_from_slice(&word.value().to_le_bytes());
        }
        bytes.truncate(len);
        at += used;
        let key = (CallId::from_bytes(id), step);
        if messages.insert(key, bytes).is_some() {
            return Err(malformed(format!("message {step} of call {} twice", key.0)));
        }
    }
    Ok(messages)
}

fn to_usize(value: u64) -> Result<usize> {
    usize::try_from(value).map_err(|_| Error::Material {
        source_name: "from P2".to_owned(),
        problem: MaterialProblem::TooLarge {
            bytes: value,
            limit: MAX_RUN_BYTES,
        },
    })
}

fn first_bytes<const N: usize>(bytes: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    out.copy_from_slice(&bytes[..N]);
    out
}

/// 16-byte values as little-endian words.
fn words(values: &[[u8; 16]]) -> Vec<Z64> {
    values
        .iter()
        .flat_map(|v| {
            [
                Z64::new(u64::from_le_bytes(first_bytes(&v[..8]))),
                Z64::new(u64::from_le_bytes(first_bytes(&v[8..]))),
            ]
        })
        .collect()
}

fn from_words<const N: usize>(words: &[Z64]) -> [[u8; 16]; N] {
    let mut out = [[0u8; 16]; N];
    for (value, pair) in out.iter_mut().zip(words.chunks_exact(2)) {
        value[..8].copy_from_slice(&pair[0].value().to_le_bytes());
        value[8..].copy_from_slice(&pair[1].value().to_le_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip() {
        let values = [
            [7u8; 16],
            core::array::from_fn(|i| u8::try_from(i).unwrap_or(0)),
        ];
        assert_eq!(from_words::<2>(&words(&values)), values);
    }
}
