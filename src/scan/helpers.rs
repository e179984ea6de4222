//! The credential helpers git asks for a served host, in git's order and with the
//! file each comes from: who answers before us, whether a `credential.helper=` reset after
//! ours switches us off, and which helpers after ours receive our token (git calls `store` on
//! every helper after a success, so a storing helper there writes it down in plain text).

use super::config::{Entry, Origin};
use crate::policy::{BITBUCKET_HOST, HostKey};
use crate::protocol;

/// One `credential[.URL].helper` value that applies to the host.
#[derive(Debug, Clone)]
pub struct Helper {
    pub value: String,
    pub key: String,
    pub origin: Origin,
}

impl Helper {
    /// True for a helper value that runs this program.
    pub fn is_ours(&self) -> bool {
        is_this_helper(&self.value)
    }

    /// Its name for a report: the first word, or "an inline shell helper" for `!…` scripts
    /// (which sometimes embed a secret).
    pub fn name(&self) -> String {
        helper_name(&self.value)
    }
}

/// The helpers git will run, and the last reset that emptied the list before them.
#[derive(Debug, Default)]
pub struct HelperOrder {
    pub helpers: Vec<Helper>,
    /// The `credential.helper=` (empty) that cleared ours from the list, if one did and ours
    /// never came back.
    pub reset_after_ours: Option<Helper>,
}

impl HelperOrder {
    /// Applies `entries` (git's configuration, in order) as git does for URLs under
    /// `scope` ([`scope_url`]).
    pub fn from_entries(entries: &[Entry], scope: &str) -> HelperOrder {
        let mut order = HelperOrder::default();
        for entry in entries.iter().filter(|e| is_helper_for(e, scope)) {
            let helper = Helper {
                value: entry.value().to_owned(),
                key: entry.key.clone(),
                origin: entry.origin.clone(),
            };
            if helper.value.is_empty() {
                if order.ours().is_some() {
                    order.reset_after_ours = Some(helper);
                }
                order.helpers.clear();
            } else {
                if helper.is_ours() {
                    order.reset_after_ours = None;
                }
                order.helpers.push(helper);
            }
        }
        order
    }

    /// Where ours stands, if git runs it at all.
    pub fn ours(&self) -> Option<usize> {
        self.helpers.iter().position(Helper::is_ours)
    }

    /// Helpers git runs after ours: each receives our token on `store`.
    pub fn after_ours(&self) -> &[Helper] {
        match self.ours() {
            Some(n) => &self.helpers[n + 1..],
            None => &[],
        }
    }
}

/// Is `entry` a `credential[.PATTERN].helper` (or a reset of it) that git applies to `scope`?
pub fn is_helper_for(entry: &Entry, scope: &str) -> bool {
    let (section, pattern, variable) = entry.parts();
    section == "credential"
        && variable == "helper"
        && pattern.is_none_or(|p| matches_whole_host(p, scope))
}

/// The URL git matches for a served host: http for loopback test servers, else https.
pub fn scope_url(host: &HostKey) -> String {
    let scheme = if host.as_str() != BITBUCKET_HOST && host.is_loopback() {
        "http"
    } else {
        "https"
    };
    format!("{scheme}://{}", host.as_str())
}

/// Does a `credential.<pattern>` section apply to every URL under `scope` (`https://host`)?
fn matches_whole_host(pattern: &str, scope: &str) -> bool {
    let parse = |url: &str| protocol::decode(format!("url={url}\n").as_bytes()).ok();
    let (Some(request), Some(wanted)) = (parse(pattern), parse(scope)) else {
        return false;
    };
    let host = |r: &protocol::Request| r.host.as_deref().and_then(HostKey::parse);
    request
        .protocol
        .as_deref()
        .zip(wanted.protocol.as_deref())
        .is_some_and(|(a, b)| a.eq_ignore_ascii_case(b))
        && host(&request).is_some()
        && host(&request) == host(&wanted)
        && request.path.is_none()
        && request.username.is_none()
}

/// True for a helper value that runs this program.
pub fn is_this_helper(value: &str) -> bool {
    value.split_whitespace().next() == Some("bitbucket")
        || value.contains("git-credential-bitbucket")
}

fn helper_name(value: &str) -> String {
    if value.starts_with('!') && !is_this_helper(value) {
        return "an inline shell helper".to_owned();
    }
    format!("'{}'", value.split_whitespace().next().unwrap_or(value))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_whole_host_patterns_for_https_bitbucket_match() {
        let bb = "https://bitbucket.org";
        assert!(matches_whole_host("https://bitbucket.org", bb));
        assert!(matches_whole_host("https://BitBucket.org/", bb));
        assert!(!matches_whole_host("https://bitbucket.org/ws", bb));
        assert!(!matches_whole_host("https://github.com", bb));
        assert!(!matches_whole_host("bitbucket.org", bb));
        assert!(!matches_whole_host("http://bitbucket.org", bb));
    }

    #[test]
    fn helper_names_hide_inline_scripts() {
        assert_eq!(
            helper_name("!f() { echo password=x; }; f"),
            "an inline shell helper"
        );
        assert_eq!(helper_name("osxkeychain"), "'osxkeychain'");
        assert!(is_this_helper("bitbucket --store file"));
        assert!(is_this_helper(
            "!'/opt/x/git-credential-bitbucket' --host h"
        ));
        assert!(!is_this_helper("store"));
    }

    #[test]
    fn resets_clear_what_came_before_and_are_remembered() {
        let entry = |key: &str, value: &str, file: &str| Entry {
            origin: Origin::File(file.into()),
            key: key.into(),
            value: Some(zeroize::Zeroizing::new(value.into())),
        };
        let bb = "https://bitbucket.org";
        let order = HelperOrder::from_entries(
            &[
                entry("credential.helper", "cache", "/g"),
                entry("credential.https://bitbucket.org.helper", "", "/g"),
                entry("credential.https://bitbucket.org.helper", "bitbucket", "/g"),
                entry("credential.https://github.com.helper", "gh", "/g"),
                entry("credential.helper", "store", "/l"),
            ],
            bb,
        );
        assert_eq!(order.ours(), Some(0));
        assert_eq!(order.after_ours().len(), 1);
        assert_eq!(order.after_ours()[0].origin, Origin::File("/l".into()));
        assert!(order.reset_after_ours.is_none());
        let cleared = HelperOrder::from_entries(
            &[
                entry("credential.https://bitbucket.org.helper", "", "/g"),
                entry("credential.https://bitbucket.org.helper", "bitbucket", "/g"),
                entry("credential.helper", "", "/repo/.git/config"),
            ],
            bb,
        );
        assert_eq!(cleared.ours(), None);
        let reset = cleared.reset_after_ours.unwrap();
        assert_eq!(reset.origin, Origin::File("/repo/.git/config".into()));
    }
}
