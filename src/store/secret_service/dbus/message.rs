//! D-Bus messages: a method call out, a reply (or anything else the bus sends) in.

use zeroize::Zeroizing;

use super::value::Value;
use super::wire::{Reader, WireError, check_signature, split_type, valid_object_path};
use super::writer::Writer;

/// The largest message we read: a `GetSecrets` reply for 10,000 items is about 3 MiB.
pub const MAX_MESSAGE: usize = 16 << 20;
/// The fixed part of every header: endianness, type, flags, version, body length, serial, and
/// the length of the header-field array.
pub const FIXED_HEADER: usize = 16;

const METHOD_CALL: u8 = 1;
const METHOD_RETURN: u8 = 2;
const ERROR: u8 = 3;
const SIGNAL: u8 = 4;

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
        let mut writer = Writer::new();
        writer.put(&[b'l', METHOD_CALL, 0, 1]);
        writer.u32(0); // body length, patched below
        writer.u32(serial);
        writer.u32(0); // header fields' length, patched below
        let fields_start = writer.buf.len(); // 16: already aligned for the first field
        writer.header_field(1, b'o', path);
        writer.header_field(2, b's', interface);
        writer.header_field(3, b's', member);
        writer.header_field(6, b's', destination);
        if !signature.is_empty() {
            writer.header_field(8, b'g', &signature);
        }
        let fields_length = (writer.buf.len() - fields_start) as u32;
        writer.patch_u32(12, fields_length);
        writer.body(args);
        Ok(Call { bytes: writer.buf })
    }
}

/// What came in: a reply to one of our calls (or an error reply), a signal we wait for, or
/// something else.
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
    /// A signal the caller said it waits for (its body read), with who sent it and where.
    Signal {
        sender: Option<String>,
        path: String,
        body: Vec<Value>,
    },
    /// Another signal (`NameAcquired` after `Hello`), or a call to us: skipped unread.
    Other,
}

/// Which signals are worth reading: `(path, interface, member)` → true.
pub type SignalFilter<'a> = &'a dyn Fn(&str, &str, &str) -> bool;

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
    let number = |at: usize| Reader::new(fixed, at, big_endian).u32().map(|n| n as usize);
    let fields_end = FIXED_HEADER.saturating_add(number(12)?);
    let total = fields_end.next_multiple_of(8).saturating_add(number(4)?);
    if total > MAX_MESSAGE {
        return Err(WireError(format!(
            "the bus sent a message over {} MiB",
            MAX_MESSAGE >> 20
        )));
    }
    Ok(Some(total))
}

/// Reads one whole message (`buf` is exactly [`total_length`] long). Only replies, errors and
/// the signals `wanted` names are taken apart (and of their header fields, only those we use);
/// any other signal, and a call to us, has its body skipped unread.
pub fn parse(buf: &[u8], wanted: SignalFilter) -> Result<Incoming, WireError> {
    let big_endian = buf[0] == b'B';
    let kind = buf[1];
    if kind != METHOD_RETURN && kind != ERROR && kind != SIGNAL {
        return Ok(Incoming::Other);
    }
    let mut reader = Reader::new(buf, 12, big_endian);
    let fields_length = reader.u32()? as usize;
    reader.align(8)?;
    let fields_end = reader.pos.saturating_add(fields_length);
    if fields_end > buf.len() {
        return Err(WireError(
            "header fields run past the end of the message".into(),
        ));
    }
    let mut reply_serial = None;
    let mut error_name = None;
    let mut signature = String::new();
    let (mut path, mut interface, mut member, mut sender) = (None, None, None, None);
    while reader.pos < fields_end {
        reader.align(8)?;
        let code = reader.byte()?;
        let type_code = reader.signature_bytes()?;
        match (code, type_code) {
            (1, b"o") if kind == SIGNAL => path = Some(reader.string()?),
            (2, b"s") if kind == SIGNAL => interface = Some(reader.string()?),
            (3, b"s") if kind == SIGNAL => member = Some(reader.string()?),
            (7, b"s") => sender = Some(reader.string()?),
            (4, b"s") => error_name = Some(reader.string()?),
            (5, b"u") => reply_serial = Some(reader.u32()?),
            (8, b"g") => {
                signature = String::from_utf8_lossy(reader.signature_bytes()?).into_owned();
                check_signature(signature.as_bytes())?;
            }
            (_, b"s" | b"o") => reader.skip_string()?,
            (_, b"g") => drop(reader.signature_bytes()?),
            _ => {
                let (one, rest) = split_type(type_code, 1)?;
                if !rest.is_empty() {
                    return Err(WireError("a header field of more than one type".into()));
                }
                drop(reader.value(one, 1)?);
            }
        }
    }
    if reader.pos != fields_end {
        return Err(WireError("header fields overrun their length".into()));
    }
    // A signal nobody waits for is left unread.
    let signal = match (kind, path, interface, member) {
        (SIGNAL, Some(path), Some(interface), Some(member)) if wanted(&path, &interface, &member) => {
            Some(path)
        }
        (SIGNAL, ..) => return Ok(Incoming::Other),
        _ => None,
    };
    reader.align(8)?;
    let body = reader.values(&signature)?;
    if reader.pos != buf.len() {
        return Err(WireError("a message body longer than its signature".into()));
    }
    if let Some(path) = signal {
        return Ok(Incoming::Signal { sender, path, body });
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

/// A message as a peer would send it (`kind`: 2 reply, 3 error, 4 signal), with these header
/// fields (code, value) and `body`, the signature field added: for the tests of the reader
/// and of the connection.
#[cfg(test)]
pub(super) fn incoming(kind: u8, fields: Vec<(u8, Value)>, body: &[Value]) -> Vec<u8> {
    let signature: String = body.iter().map(Value::signature).collect();
    let mut items: Vec<Value> = fields
        .into_iter()
        .map(|(code, value)| Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(value))]))
        .collect();
    if !signature.is_empty() {
        items.push(Value::Struct(vec![
            Value::Byte(8),
            Value::Variant(Box::new(Value::Signature(signature))),
        ]));
    }
    let mut writer = super::writer::Writer::new();
    writer.put(&[b'l', kind, 0, 1]);
    writer.u32(0);
    writer.u32(99);
    writer.value(&Value::Array {
        element: "(yv)".into(),
        items,
    });
    writer.body(body);
    writer.buf.to_vec()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reply as a service would send it, built with our own writer.
    fn reply(kind: u8, reply_serial: u32, error: Option<&str>, body: &[Value]) -> Vec<u8> {
        let mut fields = vec![(5, Value::Uint32(reply_serial))];
        if let Some(name) = error {
            fields.push((4, Value::str(name)));
        }
        incoming(kind, fields, body)
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
        assert!(matches!(parse(bytes, &|_, _, _| true).unwrap(), Incoming::Other));
        // Its header fields, read by the general reader, are exactly what was asked for.
        let mut reader = Reader::new(bytes, 12, false);
        let fields = reader.values("a(yv)").unwrap();
        let field = |code: u8, value: Value| {
            Value::Struct(vec![Value::Byte(code), Value::Variant(Box::new(value))])
        };
        assert_eq!(
            fields[0].as_array().unwrap(),
            [
                field(1, Value::path("/org/freedesktop/secrets")),
                field(2, Value::str("org.freedesktop.Secret.Service")),
                field(3, Value::str("SearchItems")),
                field(6, Value::str("org.freedesktop.secrets")),
                field(8, Value::Signature("a{ss}".into())),
            ]
        );
        reader.align(8).unwrap();
        assert_eq!(
            reader.values("a{ss}").unwrap(),
            [Value::string_dict([("service", "x")])]
        );
        assert_eq!(reader.pos, bytes.len());
        assert!(Call::new("d", "not/a/path", "i", "m", &[], 1).is_err());
    }

    #[test]
    fn replies_and_errors_are_read() {
        let bytes = reply(2, 3, None, &[Value::paths(["/a"]), Value::paths([])]);
        assert_eq!(total_length(&bytes).unwrap(), Some(bytes.len()));
        let Incoming::Reply { serial: 3, body } = parse(&bytes, &|_, _, _| true).unwrap() else {
            panic!("not a reply");
        };
        assert_eq!(body, vec![Value::paths(["/a"]), Value::paths([])]);

        let bytes = reply(3, 4, Some("org.example.Error.Nope"), &[Value::str("why")]);
        let Incoming::Error {
            serial: 4,
            name,
            message,
        } = parse(&bytes, &|_, _, _| true).unwrap()
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
                    let _ = parse(&prefix[..total], &|_, _, _| true);
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
                    let _ = parse(&corrupt, &|_, _, _| true);
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
                let _ = parse(&bytes[..total], &|_, _, _| true);
            }
        }
    }
}
