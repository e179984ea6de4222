//! Reading the D-Bus marshalling format, to the specification's letter (writing is in
//! writer.rs).
//!
//! Reading takes either byte order, checks every length against
//! what is there, every string for UTF-8 and its terminating NUL, every signature for shape,
//! and nests at most [`MAX_DEPTH`] containers, so a reply from whatever owns the service's
//! name on the bus can make a call fail but never panic, loop or allocate without bound.
//! Offsets are positions in the whole message: the body starts 8-aligned, so alignment
//! counted from the message start is the specification's alignment.

use zeroize::Zeroizing;

use super::value::Value;
#[cfg(test)]
use super::writer::Writer;

/// Containers nested in one another (the specification allows 32 arrays and 32 structs).
pub const MAX_DEPTH: usize = 64;
/// The specification's limit on one array.
const MAX_ARRAY: usize = 64 << 20;
/// The memory the values read from one message may take: each value's own size and the text
/// it holds. A struct inside a struct takes no bytes on the wire, so without this 32 MiB of
/// `a(((…(y)…)))` would be gigabytes of tree. A `GetSecrets` reply for 10,000 items is
/// about 7 MiB.
const MAX_TREE: usize = 64 << 20;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WireError(pub String);

impl std::fmt::Display for WireError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn bad<T>(what: &str) -> Result<T, WireError> {
    Err(WireError(format!("malformed D-Bus data: {what}")))
}

/// The alignment of a type, by the first character of its signature.
pub fn alignment(code: u8) -> usize {
    match code {
        b'y' | b'g' | b'v' => 1,
        b'n' | b'q' => 2,
        b'x' | b't' | b'd' | b'(' | b'{' => 8,
        _ => 4, // b i u h s o a
    }
}

/// The first complete type of `signature`, and the rest.
pub fn split_type(signature: &[u8], depth: usize) -> Result<(&[u8], &[u8]), WireError> {
    if depth > MAX_DEPTH {
        return bad("containers nested too deep");
    }
    let Some(&code) = signature.first() else {
        return bad("a signature ends early");
    };
    let length = match code {
        b'y' | b'b' | b'n' | b'q' | b'i' | b'u' | b'x' | b't' | b'd' | b'h' | b's' | b'o'
        | b'g' | b'v' => 1,
        b'a' => 1 + split_type(&signature[1..], depth + 1)?.0.len(),
        b'(' => {
            let mut rest = &signature[1..];
            let mut fields = 0;
            while rest.first() != Some(&b')') {
                rest = split_type(rest, depth + 1)?.1;
                fields += 1;
            }
            if fields == 0 {
                return bad("an empty struct");
            }
            signature.len() - rest.len() + 1
        }
        b'{' => {
            let (key, rest) = split_type(&signature[1..], depth + 1)?;
            if key.len() != 1 || key[0] == b'v' {
                return bad("a dict key that is not a basic type");
            }
            let (_, rest) = split_type(rest, depth + 1)?;
            if rest.first() != Some(&b'}') {
                return bad("a dict entry without exactly two types");
            }
            signature.len() - rest.len() + 1
        }
        _ => return bad("an unknown type code"),
    };
    Ok(signature.split_at(length))
}

/// Reads values out of one message, checking everything.
pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
    big_endian: bool,
    /// How much more tree the values read may take ([`MAX_TREE`] in all).
    tree_left: usize,
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8], pos: usize, big_endian: bool) -> Self {
        Reader {
            buf,
            pos,
            big_endian,
            tree_left: MAX_TREE,
        }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        match self.buf.get(self.pos..self.pos.saturating_add(n)) {
            Some(bytes) => {
                self.pos += n;
                Ok(bytes)
            }
            None => bad("a value runs past the end of the message"),
        }
    }

    pub fn align(&mut self, to: usize) -> Result<(), WireError> {
        let padding = (to - self.pos % to) % to;
        self.take(padding).map(drop)
    }

    fn fixed<const N: usize>(&mut self) -> Result<[u8; N], WireError> {
        self.align(N)?;
        let mut bytes: [u8; N] = self.take(N)?.try_into().expect("took N bytes");
        if self.big_endian {
            bytes.reverse();
        }
        Ok(bytes)
    }

    pub fn u32(&mut self) -> Result<u32, WireError> {
        self.fixed::<4>().map(u32::from_le_bytes)
    }

    /// Counts `bytes` more of tree against [`MAX_TREE`].
    fn charge(&mut self, bytes: usize) -> Result<(), WireError> {
        match self.tree_left.checked_sub(bytes) {
            Some(left) => {
                self.tree_left = left;
                Ok(())
            }
            None => bad("more values than one message may hold"),
        }
    }

    fn text(&mut self, length: usize) -> Result<String, WireError> {
        self.charge(length)?;
        let bytes = self.take(length)?;
        if self.take(1)? != [0] {
            return bad("a string without its terminating NUL");
        }
        if bytes.contains(&0) {
            return bad("a string holding a NUL");
        }
        match std::str::from_utf8(bytes) {
            Ok(text) => Ok(text.to_owned()),
            Err(_) => bad("a string that is not UTF-8"),
        }
    }

    pub fn byte(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    /// A signature's bytes, without its NUL (not checked: the caller reads by it or drops it).
    pub fn signature_bytes(&mut self) -> Result<&'a [u8], WireError> {
        let length = self.byte()? as usize;
        let bytes = self.take(length)?;
        if self.take(1)? != [0] {
            return bad("a signature without its terminating NUL");
        }
        Ok(bytes)
    }

    pub fn string(&mut self) -> Result<String, WireError> {
        let length = self.u32()? as usize;
        self.text(length)
    }

    /// Steps over a string or object path that nothing reads.
    pub fn skip_string(&mut self) -> Result<(), WireError> {
        let length = self.u32()? as usize;
        self.take(length.saturating_add(1)).map(drop)
    }

    fn signature_text(&mut self) -> Result<String, WireError> {
        let length = self.take(1)?[0] as usize;
        self.text(length)
    }

    /// Every complete type of `signature`, in order (a message body).
    pub fn values(&mut self, signature: &str) -> Result<Vec<Value>, WireError> {
        let mut rest = signature.as_bytes();
        let mut values = Vec::new();
        while !rest.is_empty() {
            let (one, after) = split_type(rest, 0)?;
            values.push(self.value(one, 0)?);
            rest = after;
        }
        Ok(values)
    }

    /// One value of the complete type `signature`.
    pub fn value(&mut self, signature: &[u8], depth: usize) -> Result<Value, WireError> {
        if depth > MAX_DEPTH {
            return bad("containers nested too deep");
        }
        self.charge(std::mem::size_of::<Value>())?;
        Ok(match signature[0] {
            b'y' => Value::Byte(self.take(1)?[0]),
            b'b' => match self.u32()? {
                0 => Value::Bool(false),
                1 => Value::Bool(true),
                _ => return bad("a boolean that is neither 0 nor 1"),
            },
            b'n' => Value::Int16(i16::from_le_bytes(self.fixed()?)),
            b'q' => Value::Uint16(u16::from_le_bytes(self.fixed()?)),
            b'i' => Value::Int32(i32::from_le_bytes(self.fixed()?)),
            b'u' => Value::Uint32(self.u32()?),
            b'h' => Value::UnixFd(self.u32()?),
            b'x' => Value::Int64(i64::from_le_bytes(self.fixed()?)),
            b't' => Value::Uint64(u64::from_le_bytes(self.fixed()?)),
            b'd' => Value::Double(u64::from_le_bytes(self.fixed()?)),
            b's' => {
                let length = self.u32()? as usize;
                Value::Str(self.text(length)?)
            }
            b'o' => {
                let length = self.u32()? as usize;
                let path = self.text(length)?;
                if !valid_object_path(&path) {
                    return bad("an invalid object path");
                }
                Value::ObjectPath(path)
            }
            b'g' => {
                let text = self.signature_text()?;
                check_signature(text.as_bytes())?;
                Value::Signature(text)
            }
            b'v' => {
                let inner = self.signature_text()?;
                let (one, rest) = split_type(inner.as_bytes(), depth + 1)?;
                if !rest.is_empty() {
                    return bad("a variant holding more than one type");
                }
                Value::Variant(Box::new(self.value(one, depth + 1)?))
            }
            b'a' => self.array(&signature[1..], depth)?,
            b'(' => {
                self.align(8)?;
                let mut rest = &signature[1..signature.len() - 1];
                let mut fields = Vec::new();
                while !rest.is_empty() {
                    let (one, after) = split_type(rest, depth + 1)?;
                    fields.push(self.value(one, depth + 1)?);
                    rest = after;
                }
                Value::Struct(fields)
            }
            b'{' => {
                self.align(8)?;
                let (key, rest) = split_type(&signature[1..], depth + 1)?;
                let (value, _) = split_type(rest, depth + 1)?;
                Value::DictEntry(
                    Box::new(self.value(key, depth + 1)?),
                    Box::new(self.value(value, depth + 1)?),
                )
            }
            _ => return bad("an unknown type code"),
        })
    }

    fn array(&mut self, element: &[u8], depth: usize) -> Result<Value, WireError> {
        let length = self.u32()? as usize;
        if length > MAX_ARRAY {
            return bad("an array longer than 64 MiB");
        }
        self.align(alignment(element[0]))?;
        if element == b"y" {
            self.charge(length)?;
            return Ok(Value::Bytes(Zeroizing::new(self.take(length)?.to_vec())));
        }
        self.charge(element.len())?;
        let end = self.pos.saturating_add(length);
        if end > self.buf.len() {
            return bad("an array runs past the end of the message");
        }
        let mut items = Vec::new();
        while self.pos < end {
            items.push(self.value(element, depth + 1)?);
        }
        if self.pos != end {
            return bad("an array's items overrun its length");
        }
        Ok(Value::Array {
            element: String::from_utf8_lossy(element).into_owned(),
            items,
        })
    }
}

/// A signature: complete types only, at most 255 bytes.
pub fn check_signature(signature: &[u8]) -> Result<(), WireError> {
    if signature.len() > 255 {
        return bad("a signature longer than 255 bytes");
    }
    let mut rest = signature;
    while !rest.is_empty() {
        rest = split_type(rest, 0)?.1;
    }
    Ok(())
}

/// `/`, or `/`-separated elements of `[A-Za-z0-9_]`, none empty, no trailing `/`.
pub fn valid_object_path(path: &str) -> bool {
    if path == "/" {
        return true;
    }
    let Some(elements) = path.strip_prefix('/') else {
        return false;
    };
    elements.split('/').all(|element| {
        !element.is_empty()
            && element
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(values: &[Value]) -> Vec<Value> {
        let mut writer = Writer::new();
        for value in values {
            writer.value(value);
        }
        let signature: String = values.iter().map(Value::signature).collect();
        let mut reader = Reader::new(&writer.buf, 0, false);
        let read = reader.values(&signature).unwrap();
        assert_eq!(reader.pos, writer.buf.len(), "everything read");
        read
    }

    #[test]
    fn every_type_survives_a_round_trip() {
        let values = vec![
            Value::Byte(7),
            Value::Bool(true),
            Value::Int16(-2),
            Value::Uint16(3),
            Value::Int32(-4),
            Value::Uint32(5),
            Value::Int64(-6),
            Value::Uint64(7),
            Value::Double(8.5f64.to_bits()),
            Value::str("text"),
            Value::path("/org/freedesktop/secrets/collection/login/1"),
            Value::Signature("a{sv}".into()),
            Value::Bytes(Zeroizing::new(b"secret".to_vec())),
            Value::string_dict([("service", "s"), ("username", "u")]),
            Value::paths([]),
            Value::Struct(vec![Value::path("/"), Value::Bytes(Zeroizing::new(vec![]))]),
            Value::Variant(Box::new(Value::paths(["/a", "/b"]))),
        ];
        assert_eq!(round_trip(&values), values);
    }

    #[test]
    fn known_bytes_of_the_specification() {
        // `(us)` of 1 and "ab": u32 LE, then length, bytes, NUL.
        let mut writer = Writer::new();
        writer.value(&Value::Struct(vec![Value::Uint32(1), Value::str("ab")]));
        assert_eq!(&writer.buf[..], b"\x01\0\0\0\x02\0\0\0ab\0");
        // An empty `a{ss}` still pads to its element's 8-byte alignment.
        let mut writer = Writer::new();
        writer.value(&Value::Byte(1));
        writer.value(&Value::string_dict([]));
        assert_eq!(&writer.buf[..], b"\x01\0\0\0\0\0\0\0");
        // Big-endian input reads the same numbers.
        let mut reader = Reader::new(b"\0\0\0\x05", 0, true);
        assert_eq!(reader.values("u").unwrap(), vec![Value::Uint32(5)]);
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        let cases: &[(&[u8], &str)] = &[
            (b"\x05\0\0\0ab", "s"),          // length past the end
            (b"\x02\0\0\0abX", "s"),         // no NUL
            (b"\x01\0\0\0\xff\0", "s"),      // not UTF-8
            (b"\x02\0\0\0a\0\0", "s"),       // NUL inside
            (b"\x02\0\0\0", "b"),            // boolean 2
            (b"\xff\xff\xff\x7f", "ay"),     // huge array
            (b"\x08\0\0\0\x01\0\0\0", "ai"), // array past the end
            (b"\x03\0\0\0\x01\0\0\0", "ai"), // item overruns the array
            (b"\x02ii\0", "v"),              // variant of two types
            (b"\x01z\0", "v"),               // unknown type
            (b"\x03\0\0\0a/b\0", "o"),       // bad object path
            (b"\x02\0\0\0", "(i"),           // unclosed struct
        ];
        for (bytes, signature) in cases {
            let result = std::panic::catch_unwind(|| {
                Reader::new(bytes, 0, false).values(signature).is_err()
                    || check_signature(signature.as_bytes()).is_err()
            });
            assert_eq!(result.ok(), Some(true), "{signature} {bytes:?}");
        }
        let deep = "a".repeat(200) + "i";
        assert!(check_signature(deep.as_bytes()).is_err());
        assert!(check_signature(b"a{vs}").is_err());
        assert!(check_signature(b"()").is_err());
    }

    #[test]
    fn nesting_that_takes_no_bytes_cannot_grow_the_tree_without_bound() {
        // An array of structs nested 32 deep around one byte: 8 bytes an item on the wire
        // (a struct starts 8-aligned and adds nothing), 33 values an item in the tree.
        let depth = 32;
        let signature = format!("a{}y{}", "(".repeat(depth), ")".repeat(depth));
        let array = |items: usize| {
            let mut bytes = ((items as u32 - 1) * 8 + 1).to_le_bytes().to_vec();
            bytes.resize(8 + items * 8 - 7, 0); // padding to the first item, then the items
            bytes
        };
        // Control: such nesting reads as long as the tree stays within its bound.
        let values = Reader::new(&array(1000), 0, false).values(&signature);
        assert_eq!(
            values.unwrap()[0].as_array().map(<[Value]>::len),
            Some(1000)
        );
        let past = MAX_TREE / ((depth + 1) * std::mem::size_of::<Value>()) + 1;
        assert!(
            Reader::new(&array(past), 0, false)
                .values(&signature)
                .is_err()
        );
    }

    #[test]
    fn object_paths() {
        for good in [
            "/",
            "/a",
            "/org/freedesktop/secrets/aliases/default",
            "/a_1/B2",
        ] {
            assert!(valid_object_path(good), "{good}");
        }
        for bad in ["", "a", "/a/", "//a", "/a-b", "/a b", "/ä"] {
            assert!(!valid_object_path(bad), "{bad}");
        }
    }
}
