//! What a person sees in the platform's own keychain window. The field advice for Bitbucket
//! is "open Keychain Access (or Credential Manager) and search for bitbucket.org", so on macOS
//! and Windows each item is named after its host (and workspace) and says what it is. The
//! Linux stores keep the plain `service` + `account` pair they have always used.

use super::{EntryKey, SERVICE};

/// `bitbucket.org (Bitbucket API token for git, git-credential-bitbucket)`, with
/// `/workspace` after the host for a workspace's token.
pub fn item_label(key: &EntryKey) -> String {
    format!("{} (Bitbucket API token for git, {SERVICE})", key.account())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::HostKey;

    #[test]
    fn labels_name_the_host_the_workspace_and_what_the_item_is() {
        let host = HostKey::parse("bitbucket.org").unwrap();
        assert_eq!(
            item_label(&EntryKey::host(host.clone())),
            "bitbucket.org (Bitbucket API token for git, git-credential-bitbucket)"
        );
        assert_eq!(
            item_label(&EntryKey::workspace(host, "acme".into())),
            "bitbucket.org/acme (Bitbucket API token for git, git-credential-bitbucket)"
        );
    }
}
