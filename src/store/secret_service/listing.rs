//! Listing every item of ours in one go, for `status` and `logout --all`: one search (in the
//! unlocked collections), the `username` attributes read together, one `GetSecrets` for all
//! the secrets, so listing thousands of items costs a few round trips, not one per item.

use zeroize::Zeroizing;

use super::proxy::Proxy;
use super::unlocking::{self, Failure};
use super::{OUR_SERVICE, Unlock};

/// Our items: each one's `username` attribute and secret.
pub(super) type Ours = Vec<(String, Zeroizing<Vec<u8>>)>;

/// Every item filed under our service. A collection that stays locked fails the listing: what
/// it holds is unknown, and "nothing stored" would be false.
pub(super) fn ours(proxy: &mut Proxy, unlock: &Unlock) -> Result<Ours, Failure> {
    let found = unlocking::find(proxy, &[("service", OUR_SERVICE)], unlock)?;
    if let Some(locked) = found.locked {
        return Err(locked);
    }
    if found.items.is_empty() {
        return Ok(Vec::new());
    }
    let mut users = proxy.attribute(&found.items, "username")?;
    let secrets = proxy.get_secrets(&found.items)?;
    Ok(secrets
        .into_iter()
        .filter(|(_, secret)| !secret.is_empty()) // never a token: a locked KWallet item
        .filter_map(|(item, secret)| Some((users.remove(&item)?, secret)))
        .collect())
}
