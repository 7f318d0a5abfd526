//! One array in numpy's `.npy` format (versions 1 to 3): the magic `\x93NUMPY`, a version,
//! a header that is a Python dict literal (`{'descr': '<f4', 'fortran_order': False,
//! 'shape': (60000, 28, 28), }`), then the values in C order.
//!
//! Little-endian (and byte-sized) integers and floats are read; anything else (big-endian,
//! Fortran order, objects, strings) is refused by name. The header's shape is checked
//! against the bytes that follow it before anything is allocated for the values.

/// The values of an array, by kind.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Values {
    /// `uint8`: kept as bytes.
    Bytes(Vec<u8>),
    /// Any float type, as f64.
    Floats(Vec<f64>),
    /// Any other integer type, as i64 (a `uint64` above `i64::MAX` is refused).
    Integers(Vec<i64>),
}

/// An array: its shape and its values in C order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Array {
    pub(crate) shape: Vec<usize>,
    pub(crate) values: Values,
}

/// The element types numpy writes for data.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Element {
    Unsigned(usize),
    Signed(usize),
    Float(usize),
}

impl Element {
    fn size(self) -> usize {
        match self {
            Element::Unsigned(n) | Element::Signed(n) | Element::Float(n) => n,
        }
    }
}

fn element(descr: &str) -> Result<Element, String> {
    let unsupported = || {
        format!("element type `{descr}` (read: little-endian integers, floats of 32 or 64 bits)")
    };
    let mut chars = descr.chars();
    let order = chars.next().ok_or_else(unsupported)?;
    let kind = chars.next().ok_or_else(unsupported)?;
    let size: usize = chars.as_str().parse().map_err(|_| unsupported())?;
    let element = match (kind, size) {
        ('u', 1 | 2 | 4 | 8) => Element::Unsigned(size),
        ('i', 1 | 2 | 4 | 8) => Element::Signed(size),
        ('f', 4 | 8) => Element::Float(size),
        _ => return Err(unsupported()),
    };
    match order {
        '<' => Ok(element),
        '|' | '=' if size == 1 => Ok(element),
        '=' if cfg!(target_endian = "little") => Ok(element),
        '>' => Err(format!("element type `{descr}` is big-endian")),
        _ => Err(unsupported()),
    }
}

/// The text after `'key':` in a header dict, trimmed.
fn field<'h>(header: &'h str, key: &str) -> Result<&'h str, String> {
    let at = header
        .find(&format!("'{key}':"))
        .ok_or_else(|| format!("the header has no `{key}`"))?;
    Ok(header[at + key.len() + 3..].trim_start())
}

fn quoted(text: &str) -> Option<&str> {
    let rest = text.strip_prefix('\'')?;
    Some(&rest[..rest.find('\'')?])
}

fn shape(text: &str) -> Result<Vec<usize>, String> {
    let bad = || "the header's shape is not a tuple of sizes".to_owned();
    let inner = text.strip_prefix('(').ok_or_else(bad)?;
    let inner = &inner[..inner.find(')').ok_or_else(bad)?];
    inner
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().map_err(|_| bad()))
        .collect()
}

/// Reads an array from the bytes of a `.npy` file.
pub(crate) fn parse(bytes: &[u8]) -> Result<Array, String> {
    let rest = bytes
        .strip_prefix(b"\x93NUMPY")
        .ok_or("not a .npy array (no \\x93NUMPY magic)")?;
    let (header_len, rest) = match rest {
        [1, _, a, b, rest @ ..] => (usize::from(u16::from_le_bytes([*a, *b])), rest),
        [2 | 3, _, a, b, c, d, rest @ ..] => (
            usize::try_from(u32::from_le_bytes([*a, *b, *c, *d])).unwrap_or(usize::MAX),
            rest,
        ),
        [major, ..] => return Err(format!(".npy version {major} (read: 1 to 3)")),
        [] => return Err("the .npy header is truncated".to_owned()),
    };
    let (header, data) = if header_len <= rest.len() {
        rest.split_at(header_len)
    } else {
        return Err("the .npy header is truncated".to_owned());
    };
    let header = std::str::from_utf8(header).map_err(|_| "the .npy header is not text")?;
    let descr = quoted(field(header, "descr")?).ok_or("the header's descr is not a string")?;
    let element = element(descr)?;
    if field(header, "fortran_order")?.starts_with("True") {
        return Err("the array is in Fortran order (save it C-contiguous)".to_owned());
    }
    let shape = shape(field(header, "shape")?)?;
    let count = shape
        .iter()
        .try_fold(1usize, |n, &d| n.checked_mul(d))
        .ok_or("the header's shape is too large")?;
    let expected = count.checked_mul(element.size());
    if expected != Some(data.len()) {
        return Err(format!(
            "truncated or padded: the shape {shape:?} of `{descr}` needs {} bytes, the file holds {}",
            expected.map_or_else(|| "more than 2^64".to_owned(), |n| n.to_string()),
            data.len()
        ));
    }
    Ok(Array {
        shape,
        values: values(element, data)?,
    })
}

fn values(element: Element, data: &[u8]) -> Result<Values, String> {
    let words = |n: usize| data.chunks_exact(n);
    let word8 = |c: &[u8]| {
        let mut w = [0u8; 8];
        w.copy_from_slice(c);
        w
    };
    Ok(match element {
        Element::Unsigned(1) => Values::Bytes(data.to_vec()),
        Element::Float(4) => Values::Floats(
            words(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]).into())
                .collect(),
        ),
        Element::Float(_) => {
            Values::Floats(words(8).map(|c| f64::from_le_bytes(word8(c))).collect())
        }
        Element::Signed(1) => {
            Values::Integers(data.iter().map(|&b| i64::from(b.cast_signed())).collect())
        }
        Element::Signed(2) => Values::Integers(
            words(2)
                .map(|c| i16::from_le_bytes([c[0], c[1]]).into())
                .collect(),
        ),
        Element::Signed(4) => Values::Integers(
            words(4)
                .map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]).into())
                .collect(),
        ),
        Element::Signed(_) => {
            Values::Integers(words(8).map(|c| i64::from_le_bytes(word8(c))).collect())
        }
        Element::Unsigned(2) => Values::Integers(
            words(2)
                .map(|c| u16::from_le_bytes([c[0], c[1]]).into())
                .collect(),
        ),
        Element::Unsigned(4) => Values::Integers(
            words(4)
                .map(|c| u32::from_le_bytes([c[0], c[1], c[2], c[3]]).into())
                .collect(),
        ),
        Element::Unsigned(_) => Values::Integers(
            words(8)
                .map(|c| i64::try_from(u64::from_le_bytes(word8(c))))
                .collect::<Result<_, _>>()
                .map_err(|_| "a uint64 value is above 2^63")?,
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn npy(header: &str, data: &[u8]) -> Vec<u8> {
        let mut bytes = b"\x93NUMPY\x01\x00".to_vec();
        bytes.extend_from_slice(&u16::try_from(header.len()).unwrap().to_le_bytes());
        bytes.extend_from_slice(header.as_bytes());
        bytes.extend_from_slice(data);
        bytes
    }

    #[test]
    fn reads_each_element_type_in_c_order() {
        let a = parse(&npy(
            "{'descr': '<i2', 'fortran_order': False, 'shape': (2, 1), }",
            &[0xff, 0xff, 7, 0],
        ))
        .unwrap();
        assert_eq!(a.shape, [2, 1]);
        assert_eq!(a.values, Values::Integers(vec![-1, 7]));
        let f = parse(&npy(
            "{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
            &1.5f32.to_le_bytes(),
        ))
        .unwrap();
        assert_eq!(f.values, Values::Floats(vec![1.5]));
        let b = parse(&npy(
            "{'descr': '|u1', 'fortran_order': False, 'shape': (3,), }",
            &[1, 2, 3],
        ))
        .unwrap();
        assert_eq!(b.values, Values::Bytes(vec![1, 2, 3]));
    }

    #[test]
    fn refuses_what_it_cannot_read_by_name() {
        let error = |header: &str, data: &[u8]| parse(&npy(header, data)).unwrap_err();
        assert!(
            error(
                "{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }",
                &[0; 4]
            )
            .contains("big-endian")
        );
        assert!(
            error(
                "{'descr': '<f4', 'fortran_order': True, 'shape': (1,), }",
                &[0; 4]
            )
            .contains("Fortran")
        );
        assert!(
            error(
                "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }",
                &[0; 8]
            )
            .contains("`|O`")
        );
        assert!(
            error(
                "{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }",
                &[0; 4]
            )
            .contains("truncated")
        );
        assert!(
            error(
                "{'descr': '<f8', 'fortran_order': False, 'shape': (4294967296, 4294967296), }",
                &[]
            )
            .contains("too large")
        );
        assert!(
            parse(b"\x93NUMPY\x01\x00\xff\xff{")
                .unwrap_err()
                .contains("truncated")
        );
        assert!(parse(b"PK\x03\x04").unwrap_err().contains("magic"));
    }
}
