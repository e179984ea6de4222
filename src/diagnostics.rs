//! How the program talks on stderr: every line prefixed with its name, so a person reading
//! git's output knows who said it. Shared by the protocol operations, the commands and `main`.

use std::io::Write;

/// One diagnostic for stderr, each line prefixed with the program's name.
pub fn note(stderr: &mut dyn Write, message: &str) {
    for line in message.lines() {
        let _ = writeln!(stderr, "git-credential-bitbucket: {line}");
    }
}
