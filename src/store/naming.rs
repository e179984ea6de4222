//! What a person sees in the platform's own keychain window. The field advice for Bitbucket
//! is "open Keychain Access (or Credential Manager) and search for bitbucket.org", so on macOS
//! and Windows each item is named after its host (and workspace) and says what it is. The
//! Linux stores keep the plain `service` + `account` pair they have always used.

use std::collections::HashMap;

use keyring_core::{CredentialStore, Entry};

use super::{Backend, EntryKey, SERVICE};

/// `bitbucket.org (Bitbucket API token for git, git-credential-bitbucket)`, with
/// `/workspace` after the host for a workspace's token.
pub fn item_label(key: &EntryKey) -> String {
    format!("{} (Bitbucket API token for git, {SERVICE})", key.account())
}

/// The entry for `key` in `store`. macOS: the label is the item's service, which Keychain
/// Access shows as its Name and Where (the account is the host). Windows: the label is the
/// credential's target name, the line Credential Manager lists (the user name is the host).
pub fn entry(
    store: &CredentialStore,
    backend: Backend,
    key: &EntryKey,
) -> keyring_core::Result<Entry> {
    let account = key.account();
    match backend {
        Backend::Keychain => store.build(&item_label(key), &account, None),
        Backend::Wincred => {
            let label = item_label(key);
            let target = HashMap::from([("target", label.as_str())]);
            store.build(SERVICE, &account, Some(&target))
        }
        _ => store.build(SERVICE, &account, None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::ServedHosts;

    #[test]
    fn labels_name_the_host_the_workspace_and_what_the_item_is() {
        let hosts = ServedHosts::new(&[]).unwrap();
        let crate::policy::Scope::Served(host) = hosts.scope(Some("https"), Some("bitbucket.org"))
        else {
            panic!("bitbucket.org is served");
        };
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
