//! The members of a ZIP archive, as numpy writes them: `np.savez` stores each array
//! uncompressed, `np.savez_compressed` deflates it, and both may use the ZIP64 extensions
//! (numpy forces them on every member).
//!
//! Only what a data file needs is read: the central directory (which holds every member's
//! true sizes, whether or not the local headers do), then each member's bytes, inflated if
//! need be and checked against the size and CRC-32 that the directory records. Every
//! offset and size is checked against the archive before it is used, and a member is never
//! inflated past its recorded size, so a hostile archive cannot make this allocate more
//! than `max_member` bytes per member.

use std::io::Read as _;

/// The most members an archive may have (a data file has four).
const MAX_MEMBERS: usize = 64;

const LOCAL_HEADER: u32 = 0x0403_4b50;
const CENTRAL_HEADER: u32 = 0x0201_4b50;
const END_OF_DIRECTORY: u32 = 0x0605_4b50;
const ZIP64_LOCATOR: u32 = 0x0706_4b50;
const ZIP64_END_OF_DIRECTORY: u32 = 0x0606_4b50;
const ZIP64_EXTRA: u16 = 0x0001;

/// One member: its name and its bytes.
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) bytes: Vec<u8>,
}

/// A little-endian reader over a slice that fails, instead of panicking, past its end.
struct Cursor<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Cursor<'a> {
    fn at(bytes: &'a [u8], at: usize) -> Self {
        Cursor { bytes, at }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self.at.checked_add(n).filter(|&e| e <= self.bytes.len());
        let slice = end
            .map(|end| &self.bytes[self.at..end])
            .ok_or("the archive is truncated")?;
        self.at += n;
        Ok(slice)
    }

    fn u16(&mut self) -> Result<u16, String> {
        let b = self.take(2)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self) -> Result<u32, String> {
        let b = self.take(4)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, String> {
        let mut word = [0u8; 8];
        word.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(word))
    }
}

fn offset(value: u64) -> Result<usize, String> {
    usize::try_from(value).map_err(|_| "an offset in the archive is out of range".to_owned())
}

/// Where the central directory is, and how many members it lists.
struct Directory {
    members: u64,
    offset: u64,
}

fn directory(bytes: &[u8]) -> Result<Directory, String> {
    const END_LEN: usize = 22;
    let not_zip = || "not a ZIP archive (as np.savez writes): no end of central directory";
    if bytes.len() < END_LEN {
        return Err(not_zip().to_owned());
    }
    // The end record is the last 22 bytes, before an archive comment of at most 64 KiB.
    let earliest = bytes.len().saturating_sub(END_LEN + usize::from(u16::MAX));
    let end = (earliest..=bytes.len() - END_LEN)
        .rev()
        .find(|&i| bytes[i..i + 4] == END_OF_DIRECTORY.to_le_bytes())
        .ok_or_else(not_zip)?;
    let mut record = Cursor::at(bytes, end + 10);
    let members = record.u16()?;
    let _size = record.u32()?;
    let start = record.u32()?;
    if members != u16::MAX && start != u32::MAX {
        return Ok(Directory {
            members: members.into(),
            offset: start.into(),
        });
    }
    // ZIP64: a locator just before the end record points at the ZIP64 end record.
    let locator_at = end.checked_sub(20).ok_or("the archive is truncated")?;
    let mut locator = Cursor::at(bytes, locator_at);
    if locator.u32()? != ZIP64_LOCATOR {
        return Err("the ZIP64 end of central directory locator is missing".to_owned());
    }
    let _disk = locator.u32()?;
    let mut record = Cursor::at(bytes, offset(locator.u64()?)?);
    if record.u32()? != ZIP64_END_OF_DIRECTORY {
        return Err("the ZIP64 end of central directory is missing".to_owned());
    }
    record.take(28)?;
    let members = record.u64()?;
    let _size = record.u64()?;
    Ok(Directory {
        members,
        offset: record.u64()?,
    })
}

/// A member as the central directory lists it.
struct Listed {
    name: String,
    method: u16,
    crc: u32,
    compressed: u64,
    uncompressed: u64,
    local_header: u64,
}

fn listed(cursor: &mut Cursor<'_>) -> Result<Listed, String> {
    if cursor.u32()? != CENTRAL_HEADER {
        return Err("a central directory entry is corrupt".to_owned());
    }
    cursor.take(6)?;
    let method = cursor.u16()?;
    cursor.take(4)?;
    let crc = cursor.u32()?;
    let mut compressed = u64::from(cursor.u32()?);
    let mut uncompressed = u64::from(cursor.u32()?);
    let name_len = usize::from(cursor.u16()?);
    let extra_len = usize::from(cursor.u16()?);
    let comment_len = usize::from(cursor.u16()?);
    cursor.take(8)?;
    let mut local_header = u64::from(cursor.u32()?);
    let name = String::from_utf8_lossy(cursor.take(name_len)?).into_owned();
    let mut extra = Cursor::at(cursor.take(extra_len)?, 0);
    while extra.at + 4 <= extra.bytes.len() {
        let id = extra.u16()?;
        let len = usize::from(extra.u16()?);
        let mut field = Cursor::at(extra.take(len)?, 0);
        if id == ZIP64_EXTRA {
            // Present in this order, each only where the 32-bit field is saturated.
            if uncompressed == u64::from(u32::MAX) {
                uncompressed = field.u64()?;
            }
            if compressed == u64::from(u32::MAX) {
                compressed = field.u64()?;
            }
            if local_header == u64::from(u32::MAX) {
                local_header = field.u64()?;
            }
        }
    }
    cursor.take(comment_len)?;
    Ok(Listed {
        name,
        method,
        crc,
        compressed,
        uncompressed,
        local_header,
    })
}

/// Every member of the archive `bytes`, each at most `max_member` bytes once inflated.
pub(crate) fn members(bytes: &[u8], max_member: u64) -> Result<Vec<Member>, String> {
    let directory = directory(bytes)?;
    if directory.members > MAX_MEMBERS as u64 {
        return Err(format!(
            "the archive lists {} members, more than {MAX_MEMBERS}",
            directory.members
        ));
    }
    let mut cursor = Cursor::at(bytes, offset(directory.offset)?);
    let mut members = Vec::new();
    for _ in 0..directory.members {
        let entry = listed(&mut cursor)?;
        let problem = |what: &str| format!("member `{}`: {what}", entry.name);
        if entry.uncompressed > max_member {
            return Err(problem(&format!(
                "{} bytes, more than {max_member}",
                entry.uncompressed
            )));
        }
        let mut local = Cursor::at(bytes, offset(entry.local_header)?);
        if local.u32()? != LOCAL_HEADER {
            return Err(problem("its local header is corrupt"));
        }
        local.take(22)?;
        let skip = usize::from(local.u16()?) + usize::from(local.u16()?);
        local.take(skip)?;
        let stored = local
            .take(offset(entry.compressed)?)
            .map_err(|_| problem("truncated"))?;
        let contents = match entry.method {
            0 => stored.to_vec(),
            8 => {
                let mut out = Vec::with_capacity(offset(entry.uncompressed)?);
                flate2::read::DeflateDecoder::new(stored)
                    .take(entry.uncompressed + 1)
                    .read_to_end(&mut out)
                    .map_err(|_| problem("corrupt deflate stream"))?;
                out
            }
            method => {
                return Err(problem(&format!(
                    "compression method {method} (numpy writes stored or deflated members)"
                )));
            }
        };
        if contents.len() as u64 != entry.uncompressed {
            return Err(problem(&format!(
                "{} bytes, but the directory records {}",
                contents.len(),
                entry.uncompressed
            )));
        }
        let mut crc = flate2::Crc::new();
        crc.update(&contents);
        if crc.sum() != entry.crc {
            return Err(problem("its CRC-32 does not match: the archive is corrupt"));
        }
        members.push(Member {
            name: entry.name,
            bytes: contents,
        });
    }
    Ok(members)
}
