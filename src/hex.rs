//! Lower-case hexadecimal, written by table: `get` names a file and greets the bus in hex on
//! every run, where a `format!` per byte cost more than the rest of the naming.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// `bytes` as two lower-case hex digits each.
pub fn encode(bytes: &[u8]) -> String {
    let mut text = String::with_capacity(bytes.len() * 2);
    for &byte in bytes {
        text.push(char::from(DIGITS[usize::from(byte >> 4)]));
        text.push(char::from(DIGITS[usize::from(byte & 0x0f)]));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::encode;

    #[test]
    fn every_byte_is_two_lower_case_digits() {
        assert_eq!(encode(b""), "");
        assert_eq!(encode(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        let all: Vec<u8> = (0..=255).collect();
        let expected: String = all.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(encode(&all), expected);
    }
}
