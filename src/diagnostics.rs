//! How the program talks on stderr: every line prefixed with its name, so a person reading
//! git's output knows who said it. Shared by the protocol operations, the commands and `main`.

use std::io::Write;

/// One diagnostic for stderr, each line prefixed with the program's name.
pub fn note(stderr: &mut dyn Write, message: &str) {
    for line in message.lines() {
        let _ = writeln!(stderr, "git-credential-bitbucket: {line}");
    }
}

/// The `login` command line that replaces the token of `key`: with `--host H` for a host other
/// than bitbucket.org and `--workspace W` for a workspace entry, so following the advice
/// replaces that entry and no other.
pub fn login_command(key: &crate::store::EntryKey) -> String {
    let mut command = "git-credential-bitbucket".to_owned();
    if key.host.as_str() != crate::policy::BITBUCKET_HOST {
        command.push_str(&format!(" --host {}", key.host.as_str()));
    }
    command.push_str(" login");
    if let Some(workspace) = &key.workspace {
        command.push_str(&format!(" --workspace {workspace}"));
    }
    command.push_str(" --expires YYYY-MM-DD");
    command
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::HostKey;
    use crate::store::EntryKey;

    #[test]
    fn login_advice_names_the_entry_it_replaces() {
        let bb = HostKey::parse("bitbucket.org").unwrap();
        assert_eq!(
            login_command(&EntryKey::host(bb.clone())),
            "git-credential-bitbucket login --expires YYYY-MM-DD"
        );
        assert_eq!(
            login_command(&EntryKey::workspace(bb, "acme".into())),
            "git-credential-bitbucket login --workspace acme --expires YYYY-MM-DD"
        );
        let local = HostKey::parse("127.0.0.1:8080").unwrap();
        assert_eq!(
            login_command(&EntryKey::host(local)),
            "git-credential-bitbucket --host 127.0.0.1:8080 login --expires YYYY-MM-DD"
        );
    }
}
