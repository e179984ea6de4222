//! The person's side of the Secret Service: finding our items without tripping over a locked
//! collection, asking the service to unlock one (its dialog appears on the desktop, and we say
//! on stderr that we wait and for how long), following the prompts a service answers a change
//! with, and saying afterwards what was locked, by whom, and what to do.
//!
//! Locked collections are asked about before any search: KeePassXC holds a `SearchItems` while
//! its unlock dialog is up, where the `Locked` property answers at once; KWallet answers a
//! locked item with an empty secret. A collection that stays locked is never searched, so a
//! listing never says "no tokens" of a keychain it could not read.

use std::time::Duration;

use super::Unlock;
use super::dbus::Value;
use super::proxy::{self, CollectionPath, ItemPath, PromptEnd, PromptPath, Prompted, Proxy, ServiceError};
use crate::store::{Backend, StoreError};

/// Why a collection stayed locked, or a prompt was not completed.
#[derive(Debug, Clone, Copy)]
pub(super) enum Why {
    /// Waiting for a person is switched off (`GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT=0`).
    NotAsked,
    /// Dismissed by the person, or at once because no dialog can be shown (no prompter, as over
    /// SSH).
    Dismissed,
    /// Nobody answered within this long; the prompt was dismissed.
    TimedOut(Duration),
}

/// What kept an operation from completing.
#[derive(Debug)]
pub(super) enum Failure {
    Service(ServiceError),
    /// These collections are locked and were not unlocked.
    Locked {
        collections: Vec<CollectionPath>,
        why: Why,
    },
    /// The service asked (a prompt) before it would `wanted`, and that was not completed.
    Prompt { wanted: &'static str, why: Why },
    /// There is no default collection and none could be made (`why`: its prompt was not
    /// completed; `None`: the service made none).
    NoDefaultCollection { why: Option<Why> },
}

impl From<ServiceError> for Failure {
    fn from(error: ServiceError) -> Self {
        Failure::Service(error)
    }
}

/// Our items found in the unlocked collections, and what stayed locked.
pub(super) struct Found {
    pub items: Vec<ItemPath>,
    /// Collections that may hide an item of ours, and why they stayed locked.
    pub locked: Option<Failure>,
}

impl Found {
    /// The answer for finding nothing: none, or the lock that may hide it.
    pub fn nothing<T>(self) -> Result<Option<T>, Failure> {
        match self.locked {
            Some(failure) => Err(failure),
            None => Ok(None),
        }
    }
}

/// The items with `attributes`: the locked collections are unlocked first if a person may be
/// asked; those that stay locked are left out of the search (and named in [`Found::locked`]).
pub(super) fn find(
    proxy: &mut Proxy,
    attributes: &[(&str, &str)],
    unlock_policy: &Unlock,
) -> Result<Found, Failure> {
    let collections = proxy.collections().to_vec();
    let locked = proxy.locked(&collections)?;
    let (shut, open): (Vec<_>, Vec<_>) = collections
        .into_iter()
        .zip(locked)
        .partition(|(_, locked)| *locked);
    let shut: Vec<CollectionPath> = shut.into_iter().map(|(c, _)| c).collect();
    let open: Vec<CollectionPath> = open.into_iter().map(|(c, _)| c).collect();
    let still_locked = match shut.is_empty() {
        true => None,
        false => unlock(proxy, &shut, unlock_policy).err(),
    };
    let items = match still_locked {
        // Every collection is unlocked now: one search over the service.
        None => proxy.search(attributes)?,
        Some(_) if open.is_empty() => Vec::new(),
        Some(_) => proxy.search_in(&open, attributes)?,
    };
    Ok(Found {
        items,
        locked: still_locked,
    })
}


/// Asks the service to unlock `collections`, and waits for the person as long as `policy`
/// allows, telling them so.
pub(super) fn unlock(
    proxy: &mut Proxy,
    collections: &[CollectionPath],
    policy: &Unlock,
) -> Result<(), Failure> {
    let locked = |why| Failure::Locked {
        collections: collections.to_vec(),
        why,
    };
    if policy.patience.is_zero() {
        return Err(locked(Why::NotAsked));
    }
    let prompt = match proxy.unlock(collections)? {
        Prompted::Done(unlocked) if collections.iter().all(|c| unlocked.contains(&c.0)) => {
            return Ok(());
        }
        Prompted::Done(_) => return Err(locked(Why::Dismissed)),
        Prompted::Prompt(prompt) => prompt,
    };
    let what = describe(proxy, collections);
    let seconds = policy.patience.as_secs();
    let message = format!(
        "{what} is locked: unlock it in the dialog on your desktop. Waiting up to {seconds} s \
         (GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT sets how long; 0 never asks)."
    );
    match proxy.prompt(&prompt, policy.patience, &mut |_| policy.say(&message))? {
        PromptEnd::Completed(_) => Ok(()),
        PromptEnd::Dismissed => Err(locked(Why::Dismissed)),
        PromptEnd::TimedOut => Err(locked(Why::TimedOut(policy.patience))),
        // Ended before it was shown (another client's unlock opened it): as it is now.
        PromptEnd::Gone => match proxy.locked(collections)?.contains(&true) {
            false => Ok(()),
            true => Err(locked(Why::Dismissed)),
        },
    }
}

/// Follows a prompt the service answered a change with (KeePassXC does for every one, and it
/// completes at once when nothing needs confirming): the prompt's result, or why not.
pub(super) fn follow(
    proxy: &mut Proxy,
    prompt: &PromptPath,
    wanted: &'static str,
    policy: &Unlock,
) -> Result<Value, Failure> {
    // With nobody to wait for, a prompt may still complete on its own, within the bound of
    // any call.
    let patience = match policy.patience.is_zero() {
        true => proxy::OPERATION,
        false => policy.patience,
    };
    // The provider is asked only when there is something to say: a prompt that completes on
    // its own (KeePassXC's, on every change) costs no more calls.
    let mut announce = |provider: &str| {
        if !policy.patience.is_zero() {
            policy.say(&format!(
                "{provider} asks you to confirm before it will {wanted}: answer its dialog on \
                 your desktop. Waiting up to {} s.",
                patience.as_secs()
            ));
        }
    };
    match proxy.prompt(prompt, patience, &mut announce)? {
        PromptEnd::Completed(result) => Ok(result),
        PromptEnd::Dismissed => Err(Failure::Prompt {
            wanted,
            why: Why::Dismissed,
        }),
        PromptEnd::Gone => Err(Failure::Service(ServiceError::Failed(format!(
            "{} ended its prompt to {wanted} before it could be followed; try again",
            provider_or_service(proxy)
        )))),
        PromptEnd::TimedOut if policy.patience.is_zero() => Err(Failure::Prompt {
            wanted,
            why: Why::NotAsked,
        }),
        PromptEnd::TimedOut => Err(Failure::Prompt {
            wanted,
            why: Why::TimedOut(patience),
        }),
    }
}

/// `GNOME Keyring's collection "Login"` (or several), as precisely as the service will say.
fn describe(proxy: &mut Proxy, collections: &[CollectionPath]) -> String {
    let provider = provider_or_service(proxy);
    let labels: Vec<String> = collections
        .iter()
        .map(|c| match proxy.label(c) {
            Ok(label) if !label.is_empty() => format!("\"{label}\""),
            _ => c.0.rsplit('/').next().unwrap_or(&c.0).to_owned(),
        })
        .collect();
    match labels.as_slice() {
        [one] => format!("{provider}'s collection {one}"),
        many => format!("{provider}'s collections {}", many.join(", ")),
    }
}

fn provider_or_service(proxy: &mut Proxy) -> String {
    proxy
        .provider()
        .unwrap_or_else(|| "the Secret Service".to_owned())
}

impl Failure {
    /// The error to show, naming the provider and what is locked (asked of the service only
    /// now, when there is something to say).
    pub fn into_store_error(self, proxy: Option<&mut Proxy>) -> StoreError {
        let backend = Backend::SecretService;
        let failed = |reason: String| StoreError::Failed { backend, reason };
        match (self, proxy) {
            (Failure::Service(ServiceError::Unavailable(reason)), _) => {
                StoreError::Unavailable { backend, reason }
            }
            (Failure::Service(ServiceError::Failed(reason)), _) => failed(reason),
            (Failure::Service(ServiceError::NoSuchObject), _) => {
                failed("an object the Secret Service named is gone".into())
            }
            (Failure::Service(ServiceError::Locked), proxy) => StoreError::Locked {
                backend,
                what: proxy.map_or_else(|| "its collection".into(), |p| {
                    format!("{}'s collection", provider_or_service(p))
                }),
                how: "unlock it on your desktop and try again, or choose another store with \
                      --store"
                    .into(),
            },
            (Failure::Locked { collections, why }, proxy) => StoreError::Locked {
                backend,
                what: match proxy {
                    Some(proxy) => describe(proxy, &collections),
                    None => "its collection".into(),
                },
                how: match why {
                    Why::NotAsked => "GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT=0 says not to ask; \
                        unlock it on your desktop, or choose another store with --store"
                        .into(),
                    Why::Dismissed => "the unlock was dismissed, or no unlock dialog can be \
                        shown here (as over SSH); unlock it on your desktop and try again, or \
                        choose another store with --store"
                        .into(),
                    Why::TimedOut(waited) => format!(
                        "nobody answered its unlock dialog within {} s; unlock it and try \
                         again (GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT sets how long)",
                        waited.as_secs()
                    ),
                },
            },
            (Failure::Prompt { wanted, why }, proxy) => {
                let provider = proxy.map_or_else(|| "the Secret Service".into(), provider_or_service);
                failed(match why {
                    Why::Dismissed => format!("{provider} asked before it would {wanted}, and the dialog was dismissed"),
                    Why::NotAsked => format!(
                        "{provider} wants a person to confirm before it will {wanted}, and \
                         GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT=0 says nobody is waited for"
                    ),
                    Why::TimedOut(waited) => format!(
                        "{provider} asked before it would {wanted}, and nobody answered within {} s",
                        waited.as_secs()
                    ),
                })
            }
            (Failure::NoDefaultCollection { why }, proxy) => {
                let provider = proxy.map_or_else(|| "the Secret Service".into(), provider_or_service);
                let making = match why {
                    None => "none could be made".to_owned(),
                    Some(Why::Dismissed) => "its dialog to make one was dismissed".to_owned(),
                    Some(Why::NotAsked) => "making one needs a person, and \
                        GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT=0 says nobody is waited for"
                        .to_owned(),
                    Some(Why::TimedOut(waited)) => format!(
                        "nobody answered its dialog to make one within {} s",
                        waited.as_secs()
                    ),
                };
                failed(format!(
                    "{provider} has no default collection, and {making}: create one (e.g. in \
                     Seahorse, or in KeePassXC's Secret Service settings) and try again"
                ))
            }
        }
    }
}
