//! Reading a secret from a person: from the terminal with echo off, or from stdin for scripts.
//!
//! The terminal is opened directly (`/dev/tty`, or the console `CONIN$` on Windows), never
//! stdin, so a prompt works even when stdin is a pipe, and echo is restored whatever happens.
//! Bytes go into zeroed-on-drop buffers; the result is a [`Token`] with surrounding whitespace
//! trimmed.

use std::io::Read;

use zeroize::Zeroizing;

use crate::token::Token;

/// The most we read for one token; real ones are about 200 bytes.
const MAX_SECRET: usize = 64 * 1024;

/// Reads everything from `input` (for `--stdin`), trimmed.
pub fn read_secret_from(input: &mut dyn Read) -> std::io::Result<Option<Token>> {
    let mut buffer = Zeroizing::new(Vec::with_capacity(MAX_SECRET + 1));
    input.take(MAX_SECRET as u64 + 1).read_to_end(&mut buffer)?;
    if buffer.len() > MAX_SECRET {
        return Err(std::io::Error::other("the input is too long to be a token"));
    }
    Ok(trimmed_token(&buffer))
}

fn trimmed_token(bytes: &[u8]) -> Option<Token> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    (!text.is_empty()).then(|| Token::new(text.to_owned()))
}

/// Prompts on the terminal and reads one line with echo off.
#[cfg(unix)]
pub fn prompt_secret(prompt: &str) -> std::io::Result<Option<Token>> {
    use rustix::termios::{LocalModes, OptionalActions, tcgetattr, tcsetattr};
    use std::io::Write;

    let mut tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            std::io::Error::other("no terminal to ask on; pipe the token in with --stdin")
        })?;
    let saved = tcgetattr(&tty)?;
    let mut quiet = saved.clone();
    quiet.local_modes.remove(LocalModes::ECHO);
    quiet.local_modes.insert(LocalModes::ECHONL);
    tty.write_all(prompt.as_bytes())?;
    tty.flush()?;
    tcsetattr(&tty, OptionalActions::Flush, &quiet)?;
    let line = read_line(&mut tty);
    tcsetattr(&tty, OptionalActions::Flush, &saved)?;
    Ok(trimmed_token(&line?))
}

/// Prompts on the Windows console and reads one line with echo off: rpassword opens `CONIN$`
/// (the console, even when stdin is a pipe), clears `ENABLE_ECHO_INPUT` and restores the mode.
#[cfg(windows)]
pub fn prompt_secret(prompt: &str) -> std::io::Result<Option<Token>> {
    use std::io::Write;
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(prompt.as_bytes());
    let _ = stderr.flush();
    let line = Zeroizing::new(rpassword::read_password().map_err(|e| match e.kind() {
        std::io::ErrorKind::Interrupted | std::io::ErrorKind::UnexpectedEof => e,
        _ => std::io::Error::other("no console to ask on; pipe the token in with --stdin"),
    })?);
    Ok(trimmed_token(line.as_bytes()))
}

#[cfg(not(any(unix, windows)))]
pub fn prompt_secret(_prompt: &str) -> std::io::Result<Option<Token>> {
    Err(std::io::Error::other(
        "no hidden prompt on this system; pipe the token in with --stdin",
    ))
}

#[cfg(unix)]
fn read_line(input: &mut dyn Read) -> std::io::Result<Zeroizing<Vec<u8>>> {
    use zeroize::Zeroize;
    let mut line = Zeroizing::new(Vec::with_capacity(MAX_SECRET));
    let mut byte = [0u8; 1];
    while line.len() < MAX_SECRET {
        if input.read(&mut byte)? == 0 || byte[0] == b'\n' {
            break;
        }
        line.push(byte[0]);
    }
    byte.zeroize();
    Ok(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stdin_secrets_are_trimmed_and_empty_input_is_none() {
        let token = read_secret_from(&mut &b"  ATATTabc=1234\r\n"[..])
            .unwrap()
            .unwrap();
        assert_eq!(token.expose(), "ATATTabc=1234");
        assert!(read_secret_from(&mut &b" \n"[..]).unwrap().is_none());
        let huge = vec![b'a'; MAX_SECRET + 1];
        assert!(read_secret_from(&mut &huge[..]).is_err());
    }
}
