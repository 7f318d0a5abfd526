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
//! The material has its own keys with P2 (drawn by P2 from its private key, sent to P0 and
//! P1 once), so that the online phase may run in another session, days later, and so that
//! no stream of a session's own keys is ever drawn twice. Each run has its own call
//! identity, and a run is handed out once: a second use is [`MaterialProblem::Used`], never
//! a silent reuse of masks.
//!
//! Files: [`Material::save`] writes one party's material (its keys with P2, and at P1 the
//! dealt messages, run by run); [`Material::load`] checks the whole file's structure and
//! reads a run's messages only when the run is opened, so memory holds one run at a time.
//! Which runs were used is kept beside the file (`<file>.used`), written before a run is
//! handed out.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard};

use crate::error::{Error, MaterialProblem, Result};
use crate::net::CallId;
use crate::party::Role;
use crate::prg::{Key, Prg, StreamId};
use crate::ring::Ring;
use typenum::Unsigned as _;

/// The first bytes of a material file.
const MAGIC: &[u8; 8] = b"SNNMAT01";

/// The most bytes one run's dealt messages may hold (a bound on what a file or P2 may make
/// a party allocate): 16 GiB.
pub const MAX_RUN_BYTES: u64 = 16 << 30;

/// The most dealt messages one run may hold.
pub(crate) const MAX_RUN_MESSAGES: u64 = 1 << 24;

/// The most bytes of a program's description.
const MAX_PROGRAM_LEN: u64 = 4096;

/// The keys a party shares with P2 for one material: P0 holds the P0-P2 key, P1 the P1-P2
/// key, P2 both.
pub(crate) struct DealerKeys {
    role: Role,
    keys: [Option<Key>; 3],
}

impl DealerKeys {
    /// Stream `stream` of the key shared with `peer`, if this party and `peer` are a pair
    /// with P2 and the key is held.
    pub(crate) fn shared_prg(&self, peer: Role, stream: StreamId) -> Option<Prg> {
        if peer == self.role || (peer != Role::P2 && self.role != Role::P2) {
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
#[derive(Debug, Clone, Default)]
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
#[derive(Debug, Clone, Default)]
pub(crate) struct Phase {
    pub(crate) keys: Option<Arc<DealerKeys>>,
    pub(crate) dealing: Dealing,
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
    if !R::decode_slice(&bytes, &mut values) {
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
#[derive(Debug)]
enum Runs {
    /// In memory, as dealt (P1's), or nothing to hold (P0's and P2's).
    Memory(Vec<Option<RunMessages>>),
    /// In a file, at these offsets (P1's, loaded).
    File { path: PathBuf, offsets: Vec<u64> },
}

/// Which runs are used, and where that is recorded.
#[derive(Debug)]
struct Usage {
    used: Vec<bool>,
    /// The file beside a loaded material that lists its used runs.
    record: Option<PathBuf>,
}

/// One party's offline material for `count` runs of one program: its keys with P2 and, at
/// P1, the messages P2 dealt for each run.
///
/// Made by [`Session::deal_offline`](super::Session::deal_offline) (the three parties
/// together), written with [`Material::save`] and read back with [`Material::load`]; a run
/// is used by [`Material::open`]. The parties must use the material of the same dealing:
/// [`Material::id`] names it, and the CLI states it in each party's job.
#[derive(Debug)]
pub struct Material {
    id: [u8; 16],
    program: String,
    role: Role,
    keys: Arc<DealerKeys>,
    runs: Mutex<Runs>,
    usage: Mutex<Usage>,
    source_name: String,
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
            keys: Arc::new(DealerKeys { role, keys }),
            runs: Mutex::new(Runs::Memory(runs)),
            usage: Mutex::new(Usage {
                used: vec![false; count],
                record: None,
            }),
            source_name: "in memory".to_owned(),
        }
    }

    /// This material with these runs' messages (P1's, as received).
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
        let index = {
            let mut usage = lock(&self.usage);
            let count = usage.used.len() as u64;
            let index = usage
                .used
                .iter()
                .position(|used| !used)
                .ok_or_else(|| self.error(MaterialProblem::Exhausted { count }))?;
            usage.used[index] = true;
            if let Some(record) = &usage.record {
                write_usage(record, &usage.used)?;
            }
            index
        };
        let messages = self.read_run(index)?;
        Ok((index as u64, messages))
    }

    /// Marks run `index` as used and returns its messages: [`MaterialProblem::Used`] if it
    /// was used before.
    pub(crate) fn take(&self, index: u64) -> Result<RunMessages> {
        {
            let mut usage = lock(&self.usage);
            let count = usage.used.len() as u64;
            let slot = usize::try_from(index)
                .ok()
                .and_then(|i| usage.used.get_mut(i))
                .ok_or_else(|| self.error(MaterialProblem::Exhausted { count }))?;
            if *slot {
                return Err(self.error(MaterialProblem::Used { index }));
            }
            *slot = true;
            if let Some(record) = &usage.record {
                write_usage(record, &usage.used)?;
            }
        }
        self.read_run(usize::try_from(index).unwrap_or(usize::MAX))
    }

    fn read_run(&self, index: usize) -> Result<RunMessages> {
        let mut runs = lock(&self.runs);
        match &mut *runs {
            Runs::Memory(runs) => Ok(runs
                .get_mut(index)
                .and_then(Option::take)
                .unwrap_or_default()),
            Runs::File { path, offsets } => {
                let Some(&offset) = offsets.get(index) else {
                    return Ok(HashMap::new());
                };
                let mut file =
                    BufReader::new(File::open(&*path).map_err(|e| Error::io(&*path, e))?);
                file.seek(SeekFrom::Start(offset))
                    .map_err(|e| Error::io(&*path, e))?;
                let mut reader = Reader {
                    inner: file,
                    path: path.clone(),
                };
                let run_len = reader.u64()?;
                read_messages(&mut reader, run_len)
            }
        }
    }

    /// Writes this party's material to `path` (its keys with P2 in the clear: keep the file
    /// as private as the party's shares). Runs already used are written empty and marked
    /// used.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be written.
    pub fn save(&self, path: &Path) -> Result<()> {
        let io = |e| Error::io(path, e);
        let file = create_private(path).map_err(io)?;
        let mut out = BufWriter::new(file);
        let used = lock(&self.usage).used.clone();
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&[self.role.id()]).map_err(io)?;
        out.write_all(&self.id).map_err(io)?;
        out.write_all(&(self.program.len() as u64).to_le_bytes())
            .map_err(io)?;
        out.write_all(self.program.as_bytes()).map_err(io)?;
        for key in &self.keys.keys {
            match key {
                Some(key) => {
                    out.write_all(&[1]).map_err(io)?;
                    out.write_all(&key.to_bytes()).map_err(io)?;
                }
                None => out.write_all(&[0; 17]).map_err(io)?,
            }
        }
        out.write_all(&(used.len() as u64).to_le_bytes())
            .map_err(io)?;
        for (index, &was_used) in used.iter().enumerate() {
            let messages = if was_used {
                HashMap::new()
            } else {
                self.peek_run(index)?
            };
            let mut run = Vec::new();
            run.extend_from_slice(&(messages.len() as u64).to_le_bytes());
            let mut sorted: Vec<_> = messages.iter().collect();
            sorted.sort_by_key(|(key, _)| **key);
            for ((call, step), bytes) in sorted {
                run.extend_from_slice(&call.to_bytes());
                run.extend_from_slice(&step.to_le_bytes());
                run.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                run.extend_from_slice(bytes);
            }
            out.write_all(&(run.len() as u64).to_le_bytes())
                .map_err(io)?;
            out.write_all(&run).map_err(io)?;
        }
        out.flush().map_err(io)?;
        let record = usage_path(path);
        write_usage(&record, &used)?;
        Ok(())
    }

    /// A copy of run `index`'s messages, without using it.
    fn peek_run(&self, index: usize) -> Result<RunMessages> {
        let runs = lock(&self.runs);
        match &*runs {
            Runs::Memory(runs) => Ok(runs.get(index).cloned().flatten().unwrap_or_default()),
            Runs::File { .. } => {
                drop(runs);
                self.read_run(index)
            }
        }
    }

    /// Reads a party's material written by [`Material::save`]: checks the header and the
    /// length of every run (a truncated or padded file is an error here), and which runs
    /// are used (`<path>.used`). A run's messages are read when it is opened.
    ///
    /// # Errors
    ///
    /// [`Error::Material`] if the file is not a material file, is truncated or malformed;
    /// [`Error::Io`] if it cannot be read.
    pub fn load(path: &Path) -> Result<Material> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let file_len = file.metadata().map_err(|e| Error::io(path, e))?.len();
        let mut reader = Reader {
            inner: BufReader::new(file),
            path: path.to_owned(),
        };
        let magic: [u8; 8] = reader.array()?;
        if &magic != MAGIC {
            return Err(material_error(path, MaterialProblem::NotMaterial));
        }
        let [role] = reader.array()?;
        let role = Role::from_index(usize::from(role))
            .ok_or_else(|| reader.malformed(format!("party {role} is not 0, 1 or 2")))?;
        let id: [u8; 16] = reader.array()?;
        let program_len = reader.u64()?;
        if program_len > MAX_PROGRAM_LEN {
            return Err(reader.malformed(format!(
                "a program description of {program_len} bytes (at most {MAX_PROGRAM_LEN})"
            )));
        }
        let program = String::from_utf8(reader.bytes(program_len)?)
            .map_err(|_| reader.malformed("the program description is not UTF-8".to_owned()))?;
        let mut keys = [None, None, None];
        for key in &mut keys {
            let [present] = reader.array()?;
            let bytes: [u8; 16] = reader.array()?;
            *key = match present {
                0 => None,
                1 => Some(Key::from_bytes(bytes)),
                other => return Err(reader.malformed(format!("a key flag of {other}"))),
            };
        }
        let count = reader.u64()?;
        let mut offsets = Vec::new();
        let mut position = reader.position()?;
        for index in 0..count {
            if position.saturating_add(8) > file_len {
                return Err(reader.malformed(format!(
                    "truncated: run {index} of {count} is missing ({file_len} bytes)"
                )));
            }
            offsets.push(position);
            let run_len = reader.u64()?;
            let end = position.saturating_add(8).saturating_add(run_len);
            if run_len > MAX_RUN_BYTES + 8 * MAX_RUN_MESSAGES || end > file_len {
                return Err(reader.malformed(format!(
                    "truncated: run {index} announces {run_len} bytes, the file ends {} bytes after its start",
                    file_len.saturating_sub(position + 8)
                )));
            }
            reader
                .inner
                .seek(SeekFrom::Start(end))
                .map_err(|e| Error::io(path, e))?;
            position = end;
        }
        if position != file_len {
            return Err(
                reader.malformed(format!("{} bytes after the last run", file_len - position))
            );
        }
        let record = usage_path(path);
        let used = read_usage(&record, count)?;
        Ok(Material {
            id,
            program,
            role,
            keys: Arc::new(DealerKeys { role, keys }),
            runs: Mutex::new(Runs::File {
                path: path.to_owned(),
                offsets,
            }),
            usage: Mutex::new(Usage {
                used,
                record: Some(record),
            }),
            source_name: path.display().to_string(),
        })
    }
}

fn material_error(path: &Path, problem: MaterialProblem) -> Error {
    Error::Material {
        source_name: path.display().to_string(),
        problem,
    }
}

/// The file beside a material file that lists its used runs.
fn usage_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".used");
    PathBuf::from(name)
}

/// Writes which runs are used (one character per run, `1` used), durably, before a run
/// is handed out.
fn write_usage(record: &Path, used: &[bool]) -> Result<()> {
    let text: String = used.iter().map(|&u| if u { '1' } else { '0' }).collect();
    let io = |e| Error::io(record, e);
    let mut file = create_private(record).map_err(io)?;
    file.write_all(text.as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

fn read_usage(record: &Path, count: u64) -> Result<Vec<bool>> {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let text = match std::fs::read_to_string(record) {
        Ok(text) => text,
        // A file written elsewhere and copied without its record: nothing used here yet.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(vec![false; count]),
        Err(e) => return Err(Error::io(record, e)),
    };
    let text = text.trim();
    if text.len() != count || !text.bytes().all(|b| b == b'0' || b == b'1') {
        return Err(material_error(
            record,
            MaterialProblem::Malformed(format!(
                "the record of used runs is not {count} characters 0 or 1"
            )),
        ));
    }
    Ok(text.bytes().map(|b| b == b'1').collect())
}

/// Creates (or truncates) `path`, readable by its owner only where the platform allows.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    options.open(path)
}

/// Reads a material file's fields, naming the file in every error.
struct Reader<R> {
    inner: R,
    path: PathBuf,
}

impl<R: Read + Seek> Reader<R> {
    fn malformed(&self, problem: String) -> Error {
        material_error(&self.path, MaterialProblem::Malformed(problem))
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut bytes = [0u8; N];
        self.inner.read_exact(&mut bytes).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                self.malformed("truncated".to_owned())
            } else {
                Error::io(&self.path, e)
            }
        })?;
        Ok(bytes)
    }

    fn u64(&mut self) -> Result<u64> {
        Ok(u64::from_le_bytes(self.array()?))
    }

    fn bytes(&mut self, len: u64) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        let read = (&mut self.inner)
            .take(len)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(&self.path, e))?;
        if read as u64 != len {
            return Err(self.malformed("truncated".to_owned()));
        }
        Ok(bytes)
    }

    fn position(&mut self) -> Result<u64> {
        self.inner
            .stream_position()
            .map_err(|e| Error::io(&self.path, e))
    }
}

/// One run's messages, `run_len` bytes from the reader's position.
fn read_messages<R: Read + Seek>(reader: &mut Reader<R>, run_len: u64) -> Result<RunMessages> {
    let count = reader.u64()?;
    if count > MAX_RUN_MESSAGES {
        return Err(reader.malformed(format!("a run of {count} messages")));
    }
    let mut consumed = 8u64;
    let mut messages = HashMap::new();
    for _ in 0..count {
        let call = CallId::from_bytes(reader.array()?);
        let step = u16::from_le_bytes(reader.array()?);
        let len = reader.u64()?;
        consumed = consumed.saturating_add(22).saturating_add(len);
        if consumed > run_len {
            return Err(reader.malformed(format!(
                "a message of {len} bytes runs past its run's {run_len} bytes"
            )));
        }
        let bytes = reader.bytes(len)?;
        if messages.insert((call, step), bytes).is_some() {
            return Err(reader.malformed(format!("message {step} of call {call} twice")));
        }
    }
    if consumed != run_len {
        return Err(reader.malformed(format!(
            "a run announces {run_len} bytes and holds {consumed}"
        )));
    }
    Ok(messages)
}
