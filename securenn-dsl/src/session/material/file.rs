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
