//! The fuzz target, shared by the libFuzzer binary (`fuzz/fuzz_targets/decode.rs`, run by
//! `scripts/fuzz.sh`) and the stable-Rust replay in `tests/properties.rs`, which runs it over
//! the seed corpus and mutations of it on every `cargo test`.
//!
//! Any bytes go through `decode`; whatever decodes goes through `get`, `store` and `erase` over
//! an in-memory store that already holds a token for bitbucket.org (and one for a workspace).
//! Panics are the findings: besides the helper's own, the assertions below — decoded values
//! are clean, a token is handed out only for exactly bitbucket.org over https, other requests
//! never open the store nor change it, a `store` that no prompt preceded (no `get` ran on this
//! store) never changes the keychain, an answer round-trips through the codec, and no note
//! repeats a secret.

use std::cell::Cell;

use git_credential_bitbucket::environment::EnvironmentToken;
use git_credential_bitbucket::helper::{Helper, Operation, Recheck};
use git_credential_bitbucket::policy::{HostKey, ServedHosts};
use git_credential_bitbucket::protocol::{Request, decode};
use git_credential_bitbucket::store::memory::MemoryStore;
use git_credential_bitbucket::store::{EntryKey, Keychain};
use git_credential_bitbucket::token::Token;

/// Stored for `bitbucket.org` before each operation.
pub const HOST_TOKEN: &str = "ATATT3xFfGF0fuzz-host-entry-token=0123ABCD";
/// Stored for `bitbucket.org/ws` before each operation.
pub const WORKSPACE_TOKEN: &str = "ATATT3xFfGF0fuzz-workspace-entry-token=4567CDEF";

/// Is this request for bitbucket.org over https, as the policy must decide? Written from the
/// documentation (reference.md, "Which requests are answered"), not from the code.
pub fn is_bitbucket_over_https(request: &Request) -> bool {
    let (Some(protocol), Some(host)) = (&request.protocol, &request.host) else {
        return false;
    };
    let host = host.to_ascii_lowercase();
    let host = host.strip_suffix(":443").unwrap_or(&host);
    protocol.eq_ignore_ascii_case("https") && host == "bitbucket.org"
}

fn clean(value: &str) -> bool {
    !value.bytes().any(|b| matches!(b, b'\n' | b'\r' | 0))
}

/// One fuzz input.
pub fn run(data: &[u8]) {
    let Ok(request) = decode(data) else {
        return;
    };
    let Request {
        protocol,
        host,
        path,
        username,
        password,
        capabilities,
        wwwauth,
        authtype,
        credential,
    } = &request;
    for value in [protocol, host, path, username, authtype]
        .into_iter()
        .flatten()
    {
        assert!(clean(value), "a decoded value holds LF, CR or NUL");
    }
    for secret in [password, credential].into_iter().flatten() {
        assert!(
            clean(secret.expose()),
            "a decoded secret holds LF, CR or NUL"
        );
    }
    assert!(
        capabilities
            .iter()
            .chain(wwwauth)
            .all(|v| clean(v) && !v.is_empty())
    );
    assert!(
        capabilities.len() <= 64 && wwwauth.len() <= 64,
        "lists are capped"
    );

    let ours = is_bitbucket_over_https(&request);
    for operation in [Operation::Get, Operation::Store, Operation::Erase] {
        run_operation(operation, &request, ours);
    }
}

fn run_operation(operation: Operation, request: &Request, ours: bool) {
    let store = MemoryStore::default();
    let host = HostKey::parse("bitbucket.org").expect("a host");
    let host_key = EntryKey::host(host.clone());
    let workspace_key = EntryKey::workspace(host, "ws".to_owned());
    for (key, token) in [(&host_key, HOST_TOKEN), (&workspace_key, WORKSPACE_TOKEN)] {
        store
            .keychain()
            .set(key, &Token::new(token.to_owned()))
            .expect("seed the store");
    }
    let writes_before = store.keychain().writes();
    let opened = Cell::new(0);
    let open = || {
        opened.set(opened.get() + 1);
        Ok(store.open())
    };
    let hosts = ServedHosts::new(&[]).expect("no extra hosts");
    let recheck = |_: &str, _: &Token| {
        assert!(ours, "Bitbucket was asked about a request not ours");
        Recheck::Unknown("the fuzz target asks no one".to_owned())
    };
    let helper = Helper {
        hosts: &hosts,
        env_token: EnvironmentToken::default(),
        open_store: &open,
        recheck: &recheck,
        now: 0,
        ci: false,
    };
    let outcome = helper.run(operation, request);

    if !ours {
        assert_eq!(
            opened.get(),
            0,
            "the store was opened for a request not ours"
        );
        assert_eq!(
            store.keychain().writes(),
            writes_before,
            "changed for a request not ours"
        );
    }
    if operation == Operation::Store {
        assert_eq!(
            store.keychain().writes(),
            writes_before,
            "a store that no prompt preceded changed the keychain"
        );
    }
    if let Some(response) = &outcome.response {
        assert_eq!(operation, Operation::Get, "only get answers");
        if response.password.is_some() {
            assert!(
                ours,
                "a token was handed out for a request not for bitbucket.org"
            );
        }
        let mut bytes = Vec::new();
        response
            .encode(&mut bytes)
            .expect("an answer we give encodes");
        let back = decode(bytes.as_slice()).expect("our own answer decodes");
        assert_eq!(back.username, response.username);
        assert_eq!(
            back.password.as_ref().map(Token::expose),
            response.password.as_ref().map(Token::expose)
        );
    }
    let mut secrets = vec![HOST_TOKEN, WORKSPACE_TOKEN];
    // A short password could match any word of a message by chance; a long one cannot.
    if let Some(p) = request.password.as_ref().filter(|p| p.expose().len() >= 12) {
        secrets.push(p.expose());
    }
    for note in &outcome.notes {
        assert!(
            secrets.iter().all(|s| !note.contains(s)),
            "a note repeats a secret"
        );
    }
    // Whatever happened, the entries left are ones that were there or the request's password.
    for key in [&host_key, &workspace_key] {
        if let Some(token) = store.keychain().get(key).expect("read back") {
            let known = [
                Some(HOST_TOKEN),
                Some(WORKSPACE_TOKEN),
                request.password.as_ref().map(Token::expose),
            ];
            assert!(
                known.contains(&Some(token.expose())),
                "a store holds a value nobody gave"
            );
        }
    }
}
