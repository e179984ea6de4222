//! D-Bus values: what a message carries, as one tree type both directions share.
//!
//! The Secret Service needs only a handful of shapes (strings, object paths, `a{ss}`, `ao`,
//! variants, the `(oayays)` secret struct), but a reply is parsed by its signature, whatever
//! the service sends, so the tree covers every D-Bus type. `ay` gets its own variant,
//! [`Value::Bytes`], held in [`Zeroizing`]: it is how secrets travel.

use zeroize::Zeroizing;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Byte(u8),
    Bool(bool),
    Int16(i16),
    Uint16(u16),
    Int32(i32),
    Uint32(u32),
    Int64(i64),
    Uint64(u64),
    /// A `d`, kept as its bits: nothing here computes with it.
    Double(u64),
    UnixFd(u32),
    Str(String),
    ObjectPath(String),
    Signature(String),
    /// `ay`: zeroed when dropped, as it may be a secret.
    Bytes(Zeroizing<Vec<u8>>),
    /// An array of anything but bytes; `element` is the items' signature, needed when empty.
    Array {
        element: String,
        items: Vec<Value>,
    },
    Struct(Vec<Value>),
    DictEntry(Box<Value>, Box<Value>),
    Variant(Box<Value>),
}

impl Value {
    pub fn str(value: &str) -> Value {
        Value::Str(value.to_owned())
    }

    pub fn path(value: &str) -> Value {
        Value::ObjectPath(value.to_owned())
    }

    /// `a{ss}`.
    pub fn string_dict<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Value {
        Value::Array {
            element: "{ss}".into(),
            items: pairs
                .into_iter()
                .map(|(k, v)| Value::DictEntry(Box::new(Value::str(k)), Box::new(Value::str(v))))
                .collect(),
        }
    }

    /// `ao`.
    pub fn paths<'a>(paths: impl IntoIterator<Item = &'a str>) -> Value {
        Value::Array {
            element: "o".into(),
            items: paths.into_iter().map(Value::path).collect(),
        }
    }

    /// This value's complete D-Bus type signature.
    pub fn signature(&self) -> String {
        match self {
            Value::Byte(_) => "y".into(),
            Value::Bool(_) => "b".into(),
            Value::Int16(_) => "n".into(),
            Value::Uint16(_) => "q".into(),
            Value::Int32(_) => "i".into(),
            Value::Uint32(_) => "u".into(),
            Value::Int64(_) => "x".into(),
            Value::Uint64(_) => "t".into(),
            Value::Double(_) => "d".into(),
            Value::UnixFd(_) => "h".into(),
            Value::Str(_) => "s".into(),
            Value::ObjectPath(_) => "o".into(),
            Value::Signature(_) => "g".into(),
            Value::Bytes(_) => "ay".into(),
            Value::Array { element, .. } => format!("a{element}"),
            Value::Struct(fields) => {
                let inner: String = fields.iter().map(Value::signature).collect();
                format!("({inner})")
            }
            Value::DictEntry(k, v) => format!("{{{}{}}}", k.signature(), v.signature()),
            Value::Variant(_) => "v".into(),
        }
    }

    pub fn as_str(&self) -> Option<&str> {
        match self {
            Value::Str(s) | Value::ObjectPath(s) | Value::Signature(s) => Some(s),
            _ => None,
        }
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self {
            Value::Bool(b) => Some(*b),
            _ => None,
        }
    }

    pub fn as_bytes(&self) -> Option<&Zeroizing<Vec<u8>>> {
        match self {
            Value::Bytes(bytes) => Some(bytes),
            _ => None,
        }
    }

    /// The items of an array (an empty `ay` reads as no items).
    pub fn as_array(&self) -> Option<&[Value]> {
        match self {
            Value::Array { items, .. } => Some(items),
            Value::Bytes(bytes) if bytes.is_empty() => Some(&[]),
            _ => None,
        }
    }

    pub fn as_struct(&self) -> Option<&[Value]> {
        match self {
            Value::Struct(fields) => Some(fields),
            _ => None,
        }
    }

    pub fn as_dict_entry(&self) -> Option<(&Value, &Value)> {
        match self {
            Value::DictEntry(k, v) => Some((k, v)),
            _ => None,
        }
    }

    /// What a variant holds; any other value is itself.
    pub fn unwrap_variant(&self) -> &Value {
        match self {
            Value::Variant(inner) => inner.unwrap_variant(),
            other => other,
        }
    }
}
