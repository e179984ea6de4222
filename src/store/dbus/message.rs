//! D-Bus messages: a method call out, a reply (or anything else the bus sends) in.

use zeroize::Zeroizing;

use super::value::Value;
use super::wire::{Reader, WireError, check_signature, valid_object_path};
use super::writer::Writer;

/// The largest message we read: a `GetSecrets` reply for 10,000 items is about 3 MiB.
pub const MAX_MESSAGE: usize = 32 << 20;
/// The fixed part of every header: endianness, type, flags, version, body length, serial, and
/// the length of the header-field array.
pub const FIXED_HEADER: usize = 16;

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;

/// A method call, marshalled and ready to send (zeroed when dropped: it may carry a secret).
pub struct Call {
    pub bytes: Zeroizing<Vec<u8>>,
}

impl Call {
    /// `destination` and `member`/`interface` are our own constants; `path` may come from a
    /// reply or a cache, so it is checked (the bus drops a client that sends a bad one).
    pub fn new(
        destination: &str,
        path: &str,
        interface: &str,
        member: &str,
        args: &[Value],
        serial: u32,
    ) -> Result<Call, WireError> {
        if !valid_object_path(path) {
            return Err(WireError(format!("{path:?} is not a D-Bus object path")));
        }
        let signature: String = args.iter().map(Value::signature).collect();
        check_signature(signature.as_bytes())?;
        let field = |code: u8, value: Value| {
            Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(value))])
        };
        let mut fields = vec![
            field(1, Value::path(path)),
            field(2, Value::str(interface)),
            field(3, Value::str(member)),
            field(6, Value::str(destination)),
        ];
        if !signature.is_empty() {
            fields.push(field(8, Value::Signature(signature)));
        }
        let mut writer = Writer::new();
        writer.buf.extend_from_slice(&[b'l', METHOD_CALL, 0, 1]);
        writer.u32(0); // body length, patched below
        writer.u32(serial);
        writer.value(&Value::Array {
            element: "(yv)".into(),
            items: fields,
        });
        writer.align(8);
        let body_start = writer.buf.len();
        for arg in args {
            writer.value(arg);
        }
        let body_length = (writer.buf.len() - body_start) as u32;
        writer.patch_u32(4, body_length);
        Ok(Call { bytes: writer.buf })
    }
}

/// What came in: a reply to one of our calls (or an error reply), or something else.
#[derive(Debug)]
pub enum Incoming {
    Reply {
        serial: u32,
        body: Vec<Value>,
    },
    Error {
        serial: u32,
        name: String,
        message: Option<String>,
    },
    /// A signal (`NameAcquired` after `Hello`), or a call to us: not waited for.
    Other,
}

/// The length of the message at the start of `buf`, once its fixed header is there.
pub fn total_length(buf: &[u8]) -> Result<Option<usize>, WireError> {
    let Some(fixed) = buf.get(..FIXED_HEADER) else {
        return Ok(None);
    };
    let big_endian = match fixed[0] {
        b'l' => false,
        b'B' => true,
        _ => {
            return Err(WireError(
                "the bus sent something that is not a D-Bus message".into(),
            ));
        }
    };
    let number = |at: usize| {
        let mut bytes: [u8; 4] = fixed[at..at + 4].try_into().expect("4 bytes");
        if big_endian {
            bytes.reverse();
        }
        u32::from_le_bytes(bytes) as usize
    };
    let fields_end = FIXED_HEADER.saturating_add(number(12));
    let total = fields_end.next_multiple_of(8).saturating_add(number(4));
    if total > MAX_MESSAGE {
        return Err(WireError("the bus sent a message over 32 MiB".into()));
    }
    Ok(Some(total))
}

/// Reads one whole message (`buf` is exactly [`total_length`] long).
pub fn parse(buf: &[u8]) -> Result<Incoming, WireError> {
    let big_endian = buf[0] == b'B';
    let kind = buf[1];
    let mut reader = Reader::new(buf, 12, big_endian);
    let fields = reader.values("a(yv)")?;
    let mut reply_serial = None;
    let mut error_name = None;
    let mut signature = String::new();
    for field in fields[0].as_array().unwrap_or_default() {
        let (Some(Value::Byte(code)), Some(value)) = (
            field.as_struct().and_then(|f| f.first()),
            field.as_struct().and_then(|f| f.get(1)),
        ) else {
            continue;
        };
        match (code, value.unwrap_variant()) {
            (4, Value::Str(name)) => error_name = Some(name.clone()),
            (5, Value::Uint32(serial)) => reply_serial = Some(*serial),
            (8, Value::Signature(s)) => signature = s.clone(),
            _ => {}
        }
    }
    reader.align(8)?;
    let body = reader.values(&signature)?;
    if reader.pos != buf.len() {
        return Err(WireError("a message body longer than its signature".into()));
    }
    Ok(match (kind, reply_serial) {
        (METHOD_RETURN, Some(serial)) => Incoming::Reply { serial, body },
        (ERROR, Some(serial)) => Incoming::Error {
            serial,
            name: error_name.unwrap_or_else(|| "org.freedesktop.DBus.Error.Failed".into()),
            message: body.first().and_then(Value::as_str).map(str::to_owned),
        },
        _ => Incoming::Other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as a service would send it, built with our own writer.
    fn reply(kind: u8, reply_serial: u32, error: Option<&str>, body: &[Value]) -> Vec<u8> {
        let signature: String = body.iter().map(Value::signature).collect();
        let mut fields = vec![Value::Struct(vec![
            Value::Byte(5),
            Value::Variant(Box::new(Value::Uint32(reply_serial))),
        ])];
        if let Some(name) = error {
            fields.push(Value::Struct(vec![
                Value::Byte(4),
                Value::Variant(Box::new(Value::str(name))),
            ]));
        }
        fields.push(Value::Struct(vec![
            Value::Byte(8),
            Value::Variant(Box::new(Value::Signature(signature))),
        ]));
        let mut writer = Writer::new();
        writer.buf.extend_from_slice(&[b'l', kind, 0, 1]);
        writer.u32(0);
        writer.u32(99);
        writer.value(&Value::Array {
            element: "(yv)".into(),
            items: fields,
        });
        writer.align(8);
        let start = writer.buf.len();
        for value in body {
            writer.value(value);
        }
        let length = (writer.buf.len() - start) as u32;
        writer.patch_u32(4, length);
        writer.buf.to_vec()
    }

    #[test]
    fn a_call_is_a_well_formed_message() {
        let call = Call::new(
            "org.freedesktop.secrets",
            "/org/freedesktop/secrets",
            "org.freedesktop.Secret.Service",
            "SearchItems",
            &[Value::string_dict([("service", "x")])],
            7,
        )
        .unwrap();
        let bytes = &call.bytes;
        assert_eq!(total_length(bytes).unwrap(), Some(bytes.len()));
        // Read back as if it came in: a call is neither a reply nor an error.
        assert!(matches!(parse(bytes).unwrap(), Incoming::Other));
        assert!(Call::new("d", "not/a/path", "i", "m", &[], 1).is_err());
    }

    #[test]
    fn replies_and_errors_are_read() {
        let bytes = reply(2, 3, None, &[Value::paths(["/a"]), Value::paths([])]);
        assert_eq!(total_length(&bytes).unwrap(), Some(bytes.len()));
        let Incoming::Reply { serial: 3, body } = parse(&bytes).unwrap() else {
            panic!("not a reply");
        };
        assert_eq!(body, vec![Value::paths(["/a"]), Value::paths([])]);

        let bytes = reply(3, 4, Some("org.example.Error.Nope"), &[Value::str("why")]);
        let Incoming::Error {
            serial: 4,
            name,
            message,
        } = parse(&bytes).unwrap()
        else {
            panic!("not an error");
        };
        assert_eq!(
            (name.as_str(), message.as_deref()),
            ("org.example.Error.Nope", Some("why"))
        );
    }

    #[test]
    fn every_truncation_and_corruption_is_an_error_or_a_message_never_a_panic() {
        let bytes = reply(
            2,
            3,
            None,
            &[Value::string_dict([("a", "b")]), Value::Bool(true)],
        );
        for cut in 0..bytes.len() {
            let prefix = &bytes[..cut];
            match total_length(prefix) {
                Ok(Some(total)) if total <= prefix.len() => {
                    let _ = parse(&prefix[..total]);
                }
                _ => {}
            }
        }
        for at in 0..bytes.len() {
            for flip in [0x01u8, 0x80, 0xff] {
                let mut corrupt = bytes.clone();
                corrupt[at] ^= flip;
                if let Ok(Some(total)) = total_length(&corrupt)
                    && total == corrupt.len()
                {
                    let _ = parse(&corrupt);
                }
            }
        }
        assert!(total_length(b"X\x02\x01\x01\0\0\0\0\0\0\0\0\0\0\0\0").is_err());
        assert!(total_length(b"l\x02\x01\x01\xff\xff\xff\x7f\0\0\0\0\0\0\0\0").is_err());
    }

    proptest::proptest! {
        /// Whatever bytes the bus sends, reading them is an answer or an error, never a panic.
        #[test]
        fn arbitrary_bytes_never_panic(tail in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..400),
                                       kind in 0u8..5, fields in 0u32..300, body in 0u32..300) {
            let mut bytes = vec![b'l', kind, 0, 1];
            bytes.extend_from_slice(&body.to_le_bytes());
            bytes.extend_from_slice(&1u32.to_le_bytes());
            bytes.extend_from_slice(&fields.to_le_bytes());
            bytes.extend_from_slice(&tail);
            if let Ok(Some(total)) = total_length(&bytes)
                && total <= bytes.len()
            {
                let _ = parse(&bytes[..total]);
            }
        }
    }
}
