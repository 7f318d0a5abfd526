//! Material files: one party's material, written by [`Material::save`] and read back by
//! [`Material::load`], and the records kept beside it (`<file>.used`, the runs used).
//!
//! Layout, little-endian: the magic `SNNMAT01`; the party (1 byte); the dealing's
//! identity (16 bytes); the program's description (length, 8 bytes, then UTF-8); the keys
//! with P0, P1 and P2 (a flag byte and 16 bytes each); the number of runs (8 bytes); then
//! each run: its length (8 bytes), its number of messages (8 bytes) and each message's
//! call (12 bytes), step (2), length (8) and bytes.

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use super::{
    DealerKeys, MAGIC, MAX_PROGRAM_LEN, MAX_RUN_BYTES, MAX_RUN_MESSAGES, Material, RunMessages,
    Runs, Usage, lock,
};
use crate::error::{Error, MaterialProblem, Result};
use crate::net::CallId;
use crate::party::Role;
use crate::prg::Key;
use crate::session::masks::OpenedMasks;

impl Material {
    /// Writes this party's material to `path` (its keys and draws in the clear: keep the file
    /// as private as the party's shares), with its record of used runs beside it; from
    /// then on a run this material hands out is recorded there too. Runs already used are
    /// written empty and marked used.
    ///
    /// # Errors
    ///
    /// [`Error::Io`] if the file cannot be written, [`Error::Material`] if `path` is the
    /// file this material was loaded from.
    pub fn save(&self, path: &Path) -> Result<()> {
        if let Runs::File { path: source, .. } = &*lock(&self.runs)
            && source == path
        {
            return Err(material_error(
                path,
                MaterialProblem::Malformed("it cannot be saved over itself".to_owned()),
            ));
        }
        let used = lock(&self.usage).used.clone();
        let mut writer = Writer::create(path, self.header(), used.len() as u64)?;
        for (index, &was_used) in used.iter().enumerate() {
            let messages = if was_used {
                HashMap::new()
            } else {
                self.peek_run(index)?
            };
            writer.run(&messages)?;
        }
        writer.finish(&used)?;
        lock(&self.usage).record = Some(usage_path(path));
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
            if run_len > MAX_RUN_BYTES + 8 + 22 * MAX_RUN_MESSAGES || end > file_len {
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
        let masks = OpenedMasks::recorded(sidecar(path, ".masks"))?;
        Ok(Material {
            id,
            program,
            role,
            keys: Arc::new(DealerKeys { role, keys, masks }),
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

/// What a material file starts with.
pub(crate) struct Header<'m> {
    pub(super) role: Role,
    pub(super) id: [u8; 16],
    pub(super) program: &'m str,
    pub(super) keys: &'m [Option<Key>; 3],
}

/// Writes a material file run by run, so that a dealing never holds more than one run.
pub(crate) struct Writer {
    out: BufWriter<File>,
    path: PathBuf,
    count: u64,
    written: u64,
}

impl Writer {
    /// Creates `path` (owner-only) and writes the header of a material of `count` runs.
    pub(crate) fn create(path: &Path, header: Header<'_>, count: u64) -> Result<Writer> {
        let io = |e| Error::io(path, e);
        let mut out = BufWriter::new(create_private(path).map_err(io)?);
        out.write_all(MAGIC).map_err(io)?;
        out.write_all(&[header.role.id()]).map_err(io)?;
        out.write_all(&header.id).map_err(io)?;
        out.write_all(&(header.program.len() as u64).to_le_bytes())
            .map_err(io)?;
        out.write_all(header.program.as_bytes()).map_err(io)?;
        for key in header.keys {
            match key {
                Some(key) => {
                    out.write_all(&[1]).map_err(io)?;
                    out.write_all(&key.to_bytes()).map_err(io)?;
                }
                None => out.write_all(&[0; 17]).map_err(io)?,
            }
        }
        out.write_all(&count.to_le_bytes()).map_err(io)?;
        Ok(Writer {
            out,
            path: path.to_owned(),
            count,
            written: 0,
        })
    }

    /// Appends the next run's messages.
    pub(crate) fn run(&mut self, messages: &RunMessages) -> Result<()> {
        let io = |e| Error::io(&self.path, e);
        let mut sorted: Vec<_> = messages.iter().collect();
        sorted.sort_by_key(|(key, _)| **key);
        let len = 8 + sorted
            .iter()
            .map(|(_, bytes)| 22 + bytes.len() as u64)
            .sum::<u64>();
        self.out.write_all(&len.to_le_bytes()).map_err(io)?;
        self.out
            .write_all(&(sorted.len() as u64).to_le_bytes())
            .map_err(io)?;
        for ((call, step), bytes) in sorted {
            self.out.write_all(&call.to_bytes()).map_err(io)?;
            self.out.write_all(&step.to_le_bytes()).map_err(io)?;
            self.out
                .write_all(&(bytes.len() as u64).to_le_bytes())
                .map_err(io)?;
            self.out.write_all(bytes).map_err(io)?;
        }
        self.written += 1;
        Ok(())
    }

    /// Syncs the file and writes the record of used runs beside it.
    pub(crate) fn finish(mut self, used: &[bool]) -> Result<()> {
        let io = |e| Error::io(&self.path, e);
        if self.written != self.count {
            return Err(Error::Internal(
                "a material file with fewer runs than announced",
            ));
        }
        self.out.flush().map_err(io)?;
        self.out.get_ref().sync_all().map_err(io)?;
        write_usage(&usage_path(&self.path), used)
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
    sidecar(path, ".used")
}

/// `path` with `suffix` appended to its name.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

/// Writes which runs are used (one character per run, `1` used), durably, before a run
/// is handed out.
pub(super) fn write_usage(record: &Path, used: &[bool]) -> Result<()> {
    let io = |e| Error::io(record, e);
    let mut file = create_private(record).map_err(io)?;
    file.write_all(usage_text(used).as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)
}

fn usage_text(used: &[bool]) -> String {
    used.iter().map(|&u| if u { '1' } else { '0' }).collect()
}

/// Reads the record of used runs beside a material file, lets `pick` mark a run, and
/// writes the record back durably, all under an exclusive lock on the record: two
/// processes (or two loads in one) never take the same run.
pub(super) fn update_usage(
    record: &Path,
    count: usize,
    pick: impl FnOnce(&mut Vec<bool>) -> Result<usize>,
) -> Result<(usize, Vec<bool>)> {
    let io = |e| Error::io(record, e);
    let mut file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(record)
        .map_err(|e| missing_usage(record, e))?;
    file.lock().map_err(io)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    let mut used = parse_usage(record, &text, count)?;
    let index = pick(&mut used)?;
    file.seek(SeekFrom::Start(0)).map_err(io)?;
    file.set_len(0).map_err(io)?;
    file.write_all(usage_text(&used).as_bytes()).map_err(io)?;
    file.sync_all().map_err(io)?;
    Ok((index, used))
}

/// Reads the record at `path` (empty if there is none yet) under an exclusive lock, and
/// writes back what `update` returns, if anything, durably and readable by its owner only.
pub(crate) fn update_record(
    path: &Path,
    update: impl FnOnce(&str) -> Result<Option<String>>,
) -> Result<()> {
    let io = |e| Error::io(path, e);
    let mut options = std::fs::OpenOptions::new();
    options.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io)?;
    file.lock().map_err(io)?;
    let mut text = String::new();
    file.read_to_string(&mut text).map_err(io)?;
    if let Some(text) = update(&text)? {
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.set_len(0).map_err(io)?;
        file.write_all(text.as_bytes()).map_err(io)?;
        file.sync_all().map_err(io)?;
    }
    Ok(())
}

/// The error for a record of used runs that cannot be opened: a material file copied
/// without it would let its runs be used again, so it is refused.
fn missing_usage(record: &Path, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        material_error(
            record,
            MaterialProblem::Malformed(
                "the record of used runs beside the material is missing: without it a run could be used twice (copy it with the material)".to_owned(),
            ),
        )
    } else {
        Error::io(record, e)
    }
}

fn read_usage(record: &Path, count: u64) -> Result<Vec<bool>> {
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let text = std::fs::read_to_string(record).map_err(|e| missing_usage(record, e))?;
    parse_usage(record, &text, count)
}

fn parse_usage(record: &Path, text: &str, count: usize) -> Result<Vec<bool>> {
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

/// The messages of the run at `offset` of the file at `path`.
pub(super) fn read_run_at(path: &Path, offset: u64) -> Result<RunMessages> {
    let mut file = BufReader::new(File::open(path).map_err(|e| Error::io(path, e))?);
    file.seek(SeekFrom::Start(offset))
        .map_err(|e| Error::io(path, e))?;
    let mut reader = Reader {
        inner: file,
        path: path.to_owned(),
    };
    let run_len = reader.u64()?;
    read_messages(&mut reader, run_len)
}
