//! Offline material: what the helper P2 deals ahead of time for a program, and how a call
//! runs in the offline or the online phase.
//!
//! Much of what P2 deals does not depend on the inputs: every Beaver triple's ⟨Z⟩₁ and
//! ComputeMSB's random x with shares of its bits and of its least significant bit. All of
//! it is drawn from streams of the keys P0 and P1 share with P2, and only P1's part travels
//! (P0 derives its own). [`Session::deal_offline`] has P2 run the program once per run in a
//! *recording* phase: its messages to P0 and P1 other than this material are dropped,
//! what it would receive reads as zeros (its control flow never depends on values), and
//! the material it deals is recorded and sent to P1 in one piece per run. The online phase
//! ([`Material::open`]) runs the same program: P2 skips what it dealt, P1 reads the dealt
//! messages from its material instead of the wire, and everything else is sent as inline.
//!
//! With [`SessionConfig::offline_draws`](super::SessionConfig::offline_draws), P0 and P1
//! make offline, too, the Z_p draws they would make online (each comparison's multipliers
//! and zero masks, P0's shares of the bits P2 deals): P2 requests them with each run's
//! material, and they keep the values in theirs (see `draws`).
//!
//! The material has its own keys (P2's with P0 and with P1, drawn by P2 from its private
//! key and sent to each once; the P0-P1 key, drawn by P0 and sent to P1), so that the
//! online phase may run in another session, days later, and so that no stream of a
//! session's own keys is ever drawn twice. Each run has its own call
//! identity, and a run is handed out once: a second use is [`MaterialProblem::Used`], never
//! a silent reuse of masks.
//!
//! Files: [`Material::save`] writes one party's material (its keys, and at P0 and P1 the
//! dealt messages and draws, run by run); [`Material::load`] checks the whole file's
//! structure and reads a run's messages only when the run is opened, so memory holds one
//! run at a time.
//! Which runs were used is kept beside the file (`<file>.used`), written before a run is
//! handed out.

mod draws;
mod file;

pub(crate) use draws::{
    DRAWN_HEADER_LEN, DrawKind, DrawRequest, draw_requested, drawn_header, drawn_step,
};
pub(crate) use file::{Writer, update_record};

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, MaterialProblem, Result};
use crate::net::CallId;
use crate::party::Role;
use crate::prg::{Key, Prg, StreamId};
use crate::ring::Ring;
use typenum::Unsigned as _;

use super::masks::OpenedMasks;

/// The first bytes of a material file.
const MAGIC: &[u8; 8] = b"SNNMAT01";

/// The most bytes one run's dealt messages may hold (a bound on what a file or P2 may make
/// a party allocate): 16 GiB.
pub const MAX_RUN_BYTES: u64 = 16 << 30;

/// The most dealt messages one run may hold.
pub(crate) const MAX_RUN_MESSAGES: u64 = 1 << 24;

/// The most bytes of a program's description.
const MAX_PROGRAM_LEN: u64 = 4096;

/// The keys a party shares for one material: P0 holds the P0-P2 and the P0-P1 key, P1 the
/// P1-P2 and the P0-P1 key, P2 its two.
pub(crate) struct DealerKeys {
    role: Role,
    keys: [Option<Key>; 3],
    /// The masks opened under these keys.
    pub(crate) masks: OpenedMasks,
}

impl DealerKeys {
    /// Stream `stream` of the key shared with `peer`, if the key is held (a material dealt
    /// before P0 and P1 had one of their own holds only the keys with P2).
    pub(crate) fn shared_prg(&self, peer: Role, stream: StreamId) -> Option<Prg> {
        if peer == self.role {
            return None;
        }
        self.keys[peer.index()]
            .as_ref()
            .map(|key| Prg::derive(key, stream))
    }
}

impl core::fmt::Debug for DealerKeys {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DealerKeys")
            .field("role", &self.role)
            .finish_non_exhaustive()
    }
}

/// One run's dealt messages, by call and step, as their bytes would travel.
pub(crate) type RunMessages = HashMap<(CallId, u16), Vec<u8>>;

/// One dealt message: its call, its step, and its bytes as they would travel.
pub(crate) type Dealt = (CallId, u16, Vec<u8>);

/// How a call deals: inline (P2 sends as it goes), recording (P2's offline run), or
/// replaying a run's material (the online phase).
#[derive(Clone, Default)]
pub(crate) enum Dealing {
    /// P2 deals as the program runs.
    #[default]
    Inline,
    /// P2's offline run: dealt messages are recorded, every other message is dropped and
    /// every receive reads zeros.
    Record(Arc<Mutex<Vec<Dealt>>>),
    /// The online phase: P2 skips what it dealt; P1 reads it from the run's messages.
    Replay(Arc<Mutex<RunMessages>>),
}

/// What a call inherits from the context it was opened in: which keys it shares with P2
/// (the session's, or a material's) and how P2's material reaches P1.
#[derive(Clone, Default)]
pub(crate) struct Phase {
    pub(crate) keys: Option<Arc<DealerKeys>>,
    pub(crate) dealing: Dealing,
}

/// Names the phase only: the messages it holds are shares.
impl core::fmt::Debug for Phase {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let dealing = match self.dealing {
            Dealing::Inline => "inline",
            Dealing::Record(_) => "offline (recording)",
            Dealing::Replay(_) => "online",
        };
        f.debug_struct("Phase")
            .field("material_keys", &self.keys.is_some())
            .field("dealing", &dealing)
            .finish()
    }
}

/// This phase's dealt message `step` of `call` as `len` elements of `R`, taken out of the
/// run's material (it is never read twice).
pub(crate) fn take_dealt<R: Ring>(
    messages: &Mutex<RunMessages>,
    call: CallId,
    step: u16,
    len: usize,
) -> Result<Vec<R>> {
    let problem = |problem| Error::Material {
        source_name: "online run".to_owned(),
        problem,
    };
    let bytes = lock(messages)
        .remove(&(call, step))
        .ok_or_else(|| problem(MaterialProblem::Missing { call, step }))?;
    decode_taken(call, step, &bytes, len)
}

/// The `len` elements of `R` in `bytes`, message `step` of `call` taken out of a run's
/// material: exactly that many, each canonical.
pub(crate) fn decode_taken<R: Ring>(
    call: CallId,
    step: u16,
    bytes: &[u8],
    len: usize,
) -> Result<Vec<R>> {
    let problem = |problem| Error::Material {
        source_name: "online run".to_owned(),
        problem,
    };
    let expected = len as u64 * R::WireLen::U64;
    if bytes.len() as u64 != expected {
        return Err(problem(MaterialProblem::WrongLength {
            call,
            step,
            expected,
            found: bytes.len() as u64,
        }));
    }
    let mut values = Vec::with_capacity(len);
    if !R::decode_slice(bytes, &mut values) {
        return Err(problem(MaterialProblem::NotCanonical { call, step }));
    }
    Ok(values)
}

/// A mutex's guard; a poisoned lock (a panicking party thread) is still consistent here,
/// since every critical section is a single insert or remove.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Where a material's runs are.
enum Runs {
    /// In memory, as dealt (P0's and P1's), or nothing to hold (P2's).
    Memory(Vec<Option<RunMessages>>),
    /// In a file, at these offsets (P0's and P1's, loaded).
    File { path: PathBuf, offsets: Vec<u64> },
}

/// Which runs are used, and where that is recorded.
#[derive(Debug)]
struct Usage {
    used: Vec<bool>,
    /// The file beside a loaded material that lists its used runs.
    record: Option<PathBuf>,
}

/// One party's offline material for `count` runs of one program: its keys and, at P0 and
/// P1, the messages P2 dealt and the draws it requested for each run.
///
/// Made by [`Session::deal_offline`](super::Session::deal_offline) (the three parties
/// together), written with [`Material::save`] and read back with [`Material::load`]; a run
/// is used by [`Material::open`]. The parties must use the material of the same dealing:
/// [`Material::id`] names it, and the CLI states it in each party's job.
pub struct Material {
    id: [u8; 16],
    program: String,
    role: Role,
    keys: Arc<DealerKeys>,
    runs: Mutex<Runs>,
    usage: Mutex<Usage>,
    source_name: String,
}

/// Names the material, never its keys or messages.
impl core::fmt::Debug for Material {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Material")
            .field("id", &self.id())
            .field("program", &self.program)
            .field("role", &self.role)
            .field("source", &self.source_name)
            .finish_non_exhaustive()
    }
}

impl Material {
    pub(crate) fn new(
        id: [u8; 16],
        program: String,
        role: Role,
        keys: [Option<Key>; 3],
        runs: Vec<Option<RunMessages>>,
    ) -> Material {
        let count = runs.len();
        Material {
            id,
            program,
            role,
            keys: Arc::new(DealerKeys {
                role,
                keys,
                masks: OpenedMasks::default(),
            }),
            runs: Mutex::new(Runs::Memory(runs)),
            usage: Mutex::new(Usage {
                used: vec![false; count],
                record: None,
            }),
            source_name: "in memory".to_owned(),
        }
    }

    /// This material with these runs' messages (P0's and P1's, as received and drawn).
    pub(crate) fn with_runs(self, runs: Vec<Option<RunMessages>>) -> Self {
        let count = runs.len();
        Material {
            runs: Mutex::new(Runs::Memory(runs)),
            usage: Mutex::new(Usage {
                used: vec![false; count],
                record: None,
            }),
            ..self
        }
    }

    /// What its file starts with.
    pub(crate) fn header(&self) -> file::Header<'_> {
        file::Header {
            role: self.role,
            id: self.id,
            program: &self.program,
            keys: &self.keys.keys,
        }
    }

    /// The dealing's identity, as bytes.
    pub(crate) fn id_bytes(&self) -> [u8; 16] {
        self.id
    }

    /// The dealing's identity, the same at the three parties (hexadecimal).
    pub fn id(&self) -> String {
        self.id.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// What the material was dealt for, as the dealing program described it.
    pub fn program(&self) -> &str {
        &self.program
    }

    /// The party whose material this is.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The runs it was dealt for.
    pub fn count(&self) -> u64 {
        lock(&self.usage).used.len() as u64
    }

    /// The runs not used yet.
    pub fn remaining(&self) -> u64 {
        lock(&self.usage).used.iter().filter(|used| !**used).count() as u64
    }

    pub(crate) fn keys(&self) -> Arc<DealerKeys> {
        Arc::clone(&self.keys)
    }

    pub(crate) fn error(&self, problem: MaterialProblem) -> Error {
        Error::Material {
            source_name: self.source_name.clone(),
            problem,
        }
    }

    /// Checks that this material serves `role` running `program`.
    pub(crate) fn check(&self, role: Role, program: &str) -> Result<()> {
        if role != self.role {
            return Err(self.error(MaterialProblem::OtherParty {
                holder: self.role,
                asked_by: role,
            }));
        }
        if program != self.program {
            return Err(self.error(MaterialProblem::OtherProgram {
                dealt_for: self.program.clone(),
                asked_for: program.to_owned(),
            }));
        }
        Ok(())
    }

    /// Marks the first unused run as used (recording it beside the file first) and returns
    /// its index and, at P1, its messages.
    pub(crate) fn take_next(&self) -> Result<(u64, RunMessages)> {
        let index = self.mark_used(None)?;
        Ok((index as u64, self.read_run(index)?))
    }

    /// Marks run `index` as used and returns its messages: [`MaterialProblem::Used`] if it
    /// was used before.
    pub(crate) fn take(&self, index: u64) -> Result<RunMessages> {
        let index = self.mark_used(Some(index))?;
        self.read_run(index)
    }

    /// The next unused run, if any (another process may take it first).
    pub fn next_unused(&self) -> Option<u64> {
        let usage = lock(&self.usage);
        usage.used.iter().position(|used| !used).map(|i| i as u64)
    }

    /// Marks `wanted` (or the first unused run) as used and returns it. With a file, the
    /// record beside it is read, updated and synced under an exclusive lock, so two
    /// processes never take the same run.
    fn mark_used(&self, wanted: Option<u64>) -> Result<usize> {
        let mut usage = lock(&self.usage);
        let pick = |used: &mut Vec<bool>| -> Result<usize> {
            let count = used.len() as u64;
            let index = match wanted {
                None => used
                    .iter()
                    .position(|used| !used)
                    .ok_or_else(|| self.error(MaterialProblem::Exhausted { count }))?,
                Some(index) => {
                    let slot = usize::try_from(index)
                        .ok()
                        .filter(|&i| i < used.len())
                        .ok_or_else(|| self.error(MaterialProblem::Exhausted { count }))?;
                    if used[slot] {
                        return Err(self.error(MaterialProblem::Used { index }));
                    }
                    slot
                }
            };
            used[index] = true;
            Ok(index)
        };
        match usage.record.clone() {
            Some(record) => {
                let count = usage.used.len();
                let (index, used) = file::update_usage(&record, count, pick)?;
                usage.used = used;
                Ok(index)
            }
            None => pick(&mut usage.used),
        }
    }

    fn read_run(&self, index: usize) -> Result<RunMessages> {
        let mut runs = lock(&self.runs);
        match &mut *runs {
            Runs::Memory(runs) => Ok(runs
                .get_mut(index)
                .and_then(Option::take)
                .unwrap_or_default()),
            Runs::File { path, offsets } => match offsets.get(index) {
                Some(&offset) => file::read_run_at(path, offset),
                None => Ok(HashMap::new()),
            },
        }
    }
}
