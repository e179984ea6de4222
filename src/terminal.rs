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
///
/// The terminal is put in non-canonical mode without keyboard signals while the line is read:
/// Ctrl-C (and Ctrl-\\) arrive as bytes, so the saved settings are put back before we stop.
/// With signals on, the SIGINT killed the process and left the person's terminal without echo.
/// Erase (Backspace), kill (Ctrl-U) and end-of-file (Ctrl-D) keep their usual meaning.
#[cfg(unix)]
pub fn prompt_secret(prompt: &str) -> std::io::Result<Option<Token>> {
    use rustix::termios::{LocalModes, OptionalActions, SpecialCodeIndex, tcgetattr, tcsetattr};
    use std::io::Write;

    let tty = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/tty")
        .map_err(|_| {
            std::io::Error::other("no terminal to ask on; pipe the token in with --stdin")
        })?;
    let saved = tcgetattr(&tty)?;
    let keys = Keys::of(&saved);
    let mut quiet = saved.clone();
    quiet
        .local_modes
        .remove(LocalModes::ECHO | LocalModes::ICANON | LocalModes::ISIG);
    quiet.special_codes[SpecialCodeIndex::VMIN] = 1;
    quiet.special_codes[SpecialCodeIndex::VTIME] = 0;
    tcsetattr(&tty, OptionalActions::Flush, &quiet)?;
    // Echo off before the prompt shows, and back on however this function ends.
    let restore = Restore {
        tty: &tty,
        saved: &saved,
    };
    (&tty).write_all(prompt.as_bytes())?;
    (&tty).flush()?;
    let line = read_hidden_line(&mut &tty, &keys);
    drop(restore);
    let _ = (&tty).write_all(b"\n");
    match line? {
        Some(line) => Ok(trimmed_token(&line)),
        None => Err(std::io::Error::new(
            std::io::ErrorKind::Interrupted,
            "interrupted; nothing was changed",
        )),
    }
}

/// Puts the terminal's saved settings back when dropped.
#[cfg(unix)]
struct Restore<'a> {
    tty: &'a std::fs::File,
    saved: &'a rustix::termios::Termios,
}

#[cfg(unix)]
impl Drop for Restore<'_> {
    fn drop(&mut self) {
        use rustix::termios::{OptionalActions, tcsetattr};
        let _ = tcsetattr(self.tty, OptionalActions::Flush, self.saved);
    }
}

/// The person's editing and interrupt keys, from the terminal's saved settings (a disabled
/// key reads as 0, which no key matches).
#[cfg(unix)]
struct Keys {
    interrupt: [u8; 2],
    erase: u8,
    kill: u8,
    end_of_file: u8,
}

#[cfg(unix)]
impl Keys {
    fn of(settings: &rustix::termios::Termios) -> Keys {
        use rustix::termios::SpecialCodeIndex as I;
        let code = |index: I| settings.special_codes[index];
        Keys {
            interrupt: [code(I::VINTR), code(I::VQUIT)],
            erase: code(I::VERASE),
            kill: code(I::VKILL),
            end_of_file: code(I::VEOF),
        }
    }
}

/// One line typed with the terminal in non-canonical mode: `None` if the person interrupted.
#[cfg(unix)]
fn read_hidden_line(
    input: &mut dyn Read,
    keys: &Keys,
) -> std::io::Result<Option<Zeroizing<Vec<u8>>>> {
    use zeroize::Zeroize;
    let is = |byte: u8, key: u8| key != 0 && byte == key;
    let mut line = Zeroizing::new(Vec::with_capacity(MAX_SECRET));
    let mut byte = [0u8; 1];
    let read = loop {
        if input.read(&mut byte)? == 0 {
            break Some(());
        }
        match byte[0] {
            b'\n' | b'\r' => break Some(()),
            b if keys.interrupt.iter().any(|&key| is(b, key)) => break None,
            b if is(b, keys.erase) || b == 0x7f || b == 0x08 => {
                line.pop();
            }
            b if is(b, keys.kill) => line.clear(),
            b if is(b, keys.end_of_file) => break Some(()),
            b if line.len() < MAX_SECRET => line.push(b),
            _ => {}
        }
    };
    byte.zeroize();
    Ok(read.map(|()| line))
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

    #[cfg(unix)]
    #[test]
    fn the_hidden_line_honours_erase_kill_and_interrupt() {
        let keys = Keys {
            interrupt: [0x03, 0x1c],
            erase: 0x7f,
            kill: 0x15,
            end_of_file: 0x04,
        };
        let read = |typed: &[u8]| read_hidden_line(&mut &typed[..], &keys).unwrap();
        let line = |typed: &[u8]| read(typed).map(|l| l.to_vec());
        assert_eq!(line(b"ATATx\x7fT\r"), Some(b"ATATT".to_vec()));
        assert_eq!(line(b"wrong\x15ATATT\n"), Some(b"ATATT".to_vec()));
        assert_eq!(line(b"ATATT\x04ignored"), Some(b"ATATT".to_vec()));
        assert_eq!(line(b"ATATT"), Some(b"ATATT".to_vec()), "end of input");
        assert_eq!(line(b"ATA\x03TT\n"), None, "Ctrl-C");
        assert_eq!(line(b"ATA\x1c\n"), None, "Ctrl-\\");
        assert_eq!(
            line(b"\0A\n"),
            Some(b"\0A".to_vec()),
            "a disabled key (0) matches nothing"
        );
    }
}
