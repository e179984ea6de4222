//! Writing the D-Bus marshalling format: values to little-endian bytes.

use zeroize::Zeroizing;

use super::value::Value;
use super::wire::alignment;

/// Appends `bytes` to a buffer that may hold a secret. `Vec` growth would leave the old
/// allocation's bytes behind in freed memory, so a full buffer moves to a new one of twice the
/// size and the old one is zeroed as it drops.
pub fn put(buf: &mut Zeroizing<Vec<u8>>, bytes: &[u8]) {
    let needed = buf.len() + bytes.len();
    if needed > buf.capacity() {
        let mut larger = Zeroizing::new(Vec::with_capacity(needed.max(2 * buf.capacity())));
        larger.extend_from_slice(buf);
        *buf = larger; // the old buffer is zeroed here
    }
    buf.extend_from_slice(bytes);
}

/// Appends marshalled values to a message buffer (zeroed when dropped: it may hold a secret).
pub struct Writer {
    pub buf: Zeroizing<Vec<u8>>,
}

impl Writer {
    pub fn new() -> Self {
        Writer {
            buf: Zeroizing::new(Vec::with_capacity(512)),
        }
    }

    pub fn put(&mut self, bytes: &[u8]) {
        put(&mut self.buf, bytes);
    }

    pub fn align(&mut self, to: usize) {
        let padding = (to - self.buf.len() % to) % to;
        self.put(&[0; 8][..padding]);
    }

    pub fn u32(&mut self, value: u32) {
        self.align(4);
        self.put(&value.to_le_bytes());
    }

    /// Overwrites the `u32` at `at` (a length written before what it measures).
    pub fn patch_u32(&mut self, at: usize, value: u32) {
        self.buf[at..at + 4].copy_from_slice(&value.to_le_bytes());
    }

    /// The body of the message this writer holds: aligned to 8 after the header, `args` in
    /// order, and its length patched into the header (offset 4).
    pub fn body(&mut self, args: &[Value]) {
        self.align(8);
        let start = self.buf.len();
        for arg in args {
            self.value(arg);
        }
        let length = (self.buf.len() - start) as u32;
        self.patch_u32(4, length);
    }

    /// One header field `(yv)` whose value is a string, object path (`o`) or signature (`g`).
    pub fn header_field(&mut self, code: u8, type_code: u8, text: &str) {
        self.align(8);
        self.put(&[code, 1, type_code, 0]);
        if type_code == b'g' {
            self.signature(text);
        } else {
            self.string(text);
        }
    }

    /// Strings and object paths must hold no NUL (checked by the caller's validation).
    fn string(&mut self, value: &str) {
        self.u32(value.len() as u32);
        self.put(value.as_bytes());
        self.put(&[0]);
    }

    fn signature(&mut self, value: &str) {
        self.put(&[value.len() as u8]);
        self.put(value.as_bytes());
        self.put(&[0]);
    }

    pub fn value(&mut self, value: &Value) {
        match value {
            Value::Byte(b) => self.put(&[*b]),
            Value::Bool(b) => self.u32(u32::from(*b)),
            Value::Int16(n) => self.fixed(2, &n.to_le_bytes()),
            Value::Uint16(n) => self.fixed(2, &n.to_le_bytes()),
            Value::Int32(n) => self.fixed(4, &n.to_le_bytes()),
            Value::Uint32(n) | Value::UnixFd(n) => self.u32(*n),
            Value::Int64(n) => self.fixed(8, &n.to_le_bytes()),
            Value::Uint64(n) | Value::Double(n) => self.fixed(8, &n.to_le_bytes()),
            Value::Str(s) | Value::ObjectPath(s) => self.string(s),
            Value::Signature(s) => self.signature(s),
            Value::Bytes(bytes) => {
                self.u32(bytes.len() as u32);
                self.put(bytes);
            }
            Value::Array { element, items } => {
                self.u32(0);
                let length_at = self.buf.len() - 4;
                self.align(alignment(element.as_bytes()[0]));
                let start = self.buf.len();
                for item in items {
                    self.value(item);
                }
                let length = (self.buf.len() - start) as u32;
                self.patch_u32(length_at, length);
            }
            Value::Struct(fields) => {
                self.align(8);
                for field in fields {
                    self.value(field);
                }
            }
            Value::DictEntry(key, value) => {
                self.align(8);
                self.value(key);
                self.value(value);
            }
            Value::Variant(inner) => {
                self.signature(&inner.signature());
                self.value(inner);
            }
        }
    }

    fn fixed(&mut self, size: usize, bytes: &[u8]) {
        self.align(size);
        self.put(bytes);
    }
}
