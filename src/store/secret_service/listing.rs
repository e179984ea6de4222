//! Listing every item of ours in one go, for `status` and `logout --all`.

use std::collections::HashMap;

use super::dbus::Value;
use super::{
    ITEM, OUR_SERVICE, PROPERTIES, Result, SERVICE_INTERFACE as SERVICE, SERVICE_PATH,
    SecretServiceStore, ServiceError, bad_reply, secret_value,
};

impl SecretServiceStore {
    /// Every unlocked item filed under our service: its `username` attribute and secret. One
    /// search, one `GetSecrets` for all secrets, and the `Attributes` reads sent together, so
    /// listing thousands of items costs a few round trips, not one per item.
    pub(super) fn list_ours(&self) -> Result<Vec<(String, Vec<u8>)>> {
        let mut bus = self.bus();
        let (unlocked, locked) = bus.search(Value::string_dict([("service", OUR_SERVICE)]))?;
        if unlocked.is_empty() {
            if !locked.is_empty() {
                return Err(ServiceError::Locked);
            }
            return Ok(Vec::new());
        }
        let mut reads = Vec::with_capacity(unlocked.len());
        for item in &unlocked {
            let args = [Value::str(ITEM), Value::str("Attributes")];
            reads.push(bus.send(item, PROPERTIES, "Get", &args)?);
        }
        let session = bus.session()?;
        let args = [
            Value::paths(unlocked.iter().map(String::as_str)),
            Value::ObjectPath(session),
        ];
        let secrets_request = bus.send(SERVICE_PATH, SERVICE, "GetSecrets", &args)?;
        let mut users = HashMap::new();
        for (item, serial) in unlocked.iter().zip(reads) {
            let reply = bus.wait(serial)?;
            let attributes = reply.first().map(Value::unwrap_variant);
            let entries = attributes.and_then(Value::as_array).ok_or_else(bad_reply)?;
            let user = entries
                .iter()
                .filter_map(Value::as_dict_entry)
                .find(|(k, _)| k.as_str() == Some("username"))
                .and_then(|(_, v)| v.as_str());
            if let Some(user) = user {
                users.insert(item.clone(), user.to_owned());
            }
        }
        let reply = bus.wait(secrets_request)?;
        let secrets = reply
            .first()
            .and_then(Value::as_array)
            .ok_or_else(bad_reply)?;
        let mut listed = Vec::with_capacity(secrets.len());
        for entry in secrets {
            let (item, secret) = entry.as_dict_entry().ok_or_else(bad_reply)?;
            let item = item.as_str().ok_or_else(bad_reply)?;
            if let Some(user) = users.remove(item) {
                listed.push((user, secret_value(Some(secret))?.to_vec()));
            }
        }
        Ok(listed)
    }
}
