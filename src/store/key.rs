//! The name of one stored token: a host entry, or a workspace entry under a host, and how it
//! is written in a keychain's `user` (account) field.

use crate::policy::HostKey;

/// Names one stored token: a host entry, or a workspace entry under a host.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EntryKey {
    pub host: HostKey,
    pub workspace: Option<String>,
}

impl EntryKey {
    pub fn host(host: HostKey) -> Self {
        Self {
            host,
            workspace: None,
        }
    }

    pub fn workspace(host: HostKey, workspace: String) -> Self {
        Self {
            host,
            workspace: Some(workspace),
        }
    }

    /// The keychain `user` field: `bitbucket.org` or `bitbucket.org/workspace`.
    pub fn account(&self) -> String {
        match &self.workspace {
            Some(ws) => format!("{}/{ws}", self.host.as_str()),
            None => self.host.as_str().to_owned(),
        }
    }

    /// The key a keychain `user` field names ([`EntryKey::account`] reversed); `None` for a
    /// field this helper never writes.
    pub fn from_account(account: &str) -> Option<EntryKey> {
        match account.split_once('/') {
            Some((host, ws)) if !ws.is_empty() && !ws.contains('/') => {
                Some(EntryKey::workspace(HostKey::parse(host)?, ws.to_owned()))
            }
            Some(_) => None,
            None => Some(EntryKey::host(HostKey::parse(account)?)),
        }
    }
}

impl std::fmt::Display for EntryKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.workspace {
            Some(ws) => write!(f, "workspace {ws} on {}", self.host.as_str()),
            None => write!(f, "{}", self.host.as_str()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accounts_read_back_into_keys_and_odd_ones_are_skipped() {
        let ws = EntryKey::from_account("bitbucket.org/acme").unwrap();
        assert_eq!(ws.account(), "bitbucket.org/acme");
        let host = EntryKey::from_account("127.0.0.1:8080").unwrap();
        assert_eq!(host.account(), "127.0.0.1:8080");
        for odd in ["", "bitbucket.org/", "bitbucket.org/a/b", "a b"] {
            assert_eq!(EntryKey::from_account(odd), None, "{odd}");
        }
    }
}
