//! Which stored token answers a request: one function, [`TokenStore::choose`], for `get`,
//! `status --check` and every command that asks "what would git be given for this URL".
//!
//! A request names a host and, with `credential.useHttpPath`, a path. The entries it may use
//! are the workspace's (the path's first segment) and then the host's; the place it is for is
//! its repository (`workspace/repo`), [`NO_PATH`] without a path, or unclear when the path is
//! anything else (a `.` or `..` segment, odd characters, more segments). A path with dot
//! segments names no workspace at all: `bob/%2e%2e/alice/repo.git` reaches alice's repository,
//! so bob's token is not the one to send.
//!
//! An entry is passed over when its secret is a kind Bitbucket refuses (an app password: the
//! next entry is tried) or when Bitbucket refused this very token at this place before (the
//! next entry is tried: a host token may open a repository a workspace token cannot). An
//! expired token ends the search: git prompts, and the token typed there replaces it.

use super::{EntryKey, NO_PATH, StoreError, Stored, TokenStore};
use crate::policy::{HostKey, path_has_dot_segments, refusal, repository_of, workspace_of};
use crate::token::{Token, TokenKind};

/// What a request's path says about where the token is used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// No path: git sends none without `credential.useHttpPath`.
    NoPath,
    /// `workspace/repo`, in lower case, without `.git`.
    Repository(String),
    /// A path that names no repository this helper can tell apart.
    Unclear,
}

impl Place {
    /// The mark kept in the facts: the repository, [`NO_PATH`], or `None` for an unclear path.
    pub fn mark(&self) -> Option<&str> {
        match self {
            Place::NoPath => Some(NO_PATH),
            Place::Repository(repo) => Some(repo),
            Place::Unclear => None,
        }
    }
}

/// The entries a request may use, most specific first, and the place it is for.
#[derive(Debug, Clone)]
pub struct Target {
    pub workspace: Option<EntryKey>,
    pub host: EntryKey,
    pub place: Place,
    /// The request is plain http (a loopback test server): how to ask that host again.
    pub plain_http: bool,
}

impl Target {
    /// The target of a request git (or a URL) made to `host`, which serves it: its path and
    /// whether it came over plain http.
    pub fn of_request(host: HostKey, request: &crate::protocol::Request) -> Target {
        let plain_http = request
            .protocol
            .as_deref()
            .is_some_and(|p| p.eq_ignore_ascii_case("http"));
        Target::new(host, request.path.as_deref(), plain_http)
    }

    pub fn new(host: HostKey, path: Option<&str>, plain_http: bool) -> Target {
        let path = path.filter(|p| !p.is_empty());
        let dotted = path.is_some_and(path_has_dot_segments);
        let workspace = workspace_of(path).filter(|_| !dotted);
        let place = match path {
            None => Place::NoPath,
            Some(_) if dotted => Place::Unclear,
            Some(path) => repository_of(path).map_or(Place::Unclear, Place::Repository),
        };
        Target {
            workspace: workspace.map(|ws| EntryKey::workspace(host.clone(), ws)),
            host: EntryKey::host(host),
            place,
            plain_http,
        }
    }

    /// The workspace entry (if any), then the host entry.
    pub fn lookup_order(&self) -> impl Iterator<Item = &EntryKey> {
        self.workspace.iter().chain([&self.host])
    }

    /// The entry the request uses first: its workspace's, else its host's.
    pub fn first(&self) -> &EntryKey {
        self.workspace.as_ref().unwrap_or(&self.host)
    }

    /// The URL of `repository` on this request's host, for asking Bitbucket again.
    pub fn url_of(&self, repository: &str, plain_http: bool) -> String {
        let scheme = if plain_http { "http" } else { "https" };
        format!("{scheme}://{}/{repository}.git", self.host.host.as_str())
    }

    /// This request's place in words, for a sentence that has named the host already:
    /// `repository acme/app`.
    pub fn place_words(&self) -> String {
        match &self.place {
            Place::Repository(repo) => format!("repository {repo}"),
            Place::NoPath => "a request that named no repository".to_owned(),
            Place::Unclear => "a path that names no repository".to_owned(),
        }
    }

    /// This request's place in words: `repository acme/app on bitbucket.org`.
    pub fn describe_place(&self) -> String {
        let host = self.host.host.as_str();
        match &self.place {
            Place::Repository(repo) => format!("repository {repo} on {host}"),
            Place::NoPath => format!("{host} (git named no repository)"),
            Place::Unclear => format!("a path on {host} that names no repository"),
        }
    }
}

/// Why an entry was passed over.
#[derive(Debug)]
pub enum Passed {
    /// Its secret is of a kind Bitbucket refuses (`why`).
    Refused { key: EntryKey, why: &'static str },
    /// Bitbucket refused this token at this place before.
    RefusedHere { key: EntryKey },
    /// It expired at this time (Unix seconds); the search stops there.
    Expired { key: EntryKey, at: u64 },
    /// The keychain could not be read; the search stops there.
    Unreadable(StoreError),
}

/// What [`TokenStore::choose`] found.
#[derive(Debug, Default)]
pub struct Choice {
    /// The token to hand out, with its entry.
    pub chosen: Option<(Stored, Token)>,
    /// The entries passed over on the way, in lookup order.
    pub passed: Vec<Passed>,
}

impl TokenStore {
    /// The token `get` hands git for `target` at time `now`, and what was passed over.
    pub fn choose(&self, target: &Target, now: u64) -> Choice {
        let mut choice = Choice::default();
        for key in target.lookup_order() {
            let stored = match self.read(key) {
                Ok(Some(stored)) => stored,
                Ok(None) => continue,
                Err(e) => {
                    choice.passed.push(Passed::Unreadable(e));
                    return choice;
                }
            };
            let Some(token) = stored.token.clone() else {
                continue;
            };
            if let Some(why) = refusal(TokenKind::of_token(&token)) {
                choice.passed.push(Passed::Refused {
                    key: key.clone(),
                    why,
                });
                continue;
            }
            let facts = stored.facts();
            if let Some(at) = facts.and_then(|f| f.expires_at).filter(|at| now >= *at) {
                choice.passed.push(Passed::Expired {
                    key: key.clone(),
                    at,
                });
                return choice;
            }
            let refused_here = target
                .place
                .mark()
                .is_some_and(|place| facts.is_some_and(|f| f.refused_at(place)));
            if refused_here {
                choice.passed.push(Passed::RefusedHere { key: key.clone() });
                continue;
            }
            choice.chosen = Some((stored, token));
            return choice;
        }
        choice
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(path: Option<&str>) -> Target {
        Target::new(HostKey::parse("bitbucket.org").unwrap(), path, false)
    }

    #[test]
    fn a_path_names_its_workspace_and_repository_only_when_it_is_plain() {
        let t = target(Some("Acme/App.git"));
        assert_eq!(t.first().account(), "bitbucket.org/acme");
        assert_eq!(t.place, Place::Repository("acme/app".into()));
        assert_eq!(
            t.url_of("acme/app", false),
            "https://bitbucket.org/acme/app.git"
        );
        assert_eq!(target(None).place, Place::NoPath);
        assert_eq!(target(Some("")).place, Place::NoPath);
        let dotted = target(Some("bob/%2e%2e/alice/repo.git"));
        assert_eq!((dotted.workspace, dotted.place), (None, Place::Unclear));
        let odd = target(Some("a~b/c.git"));
        assert_eq!((odd.workspace, odd.place), (None, Place::Unclear));
        let deep = target(Some("acme/app/extra"));
        assert_eq!(deep.first().account(), "bitbucket.org/acme");
        assert_eq!(deep.place, Place::Unclear);
    }
}
