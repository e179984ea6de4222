//! What every man page and the top-level `--help` say beyond the options: exit status,
//! environment, files, the stores. Kept as data so the page and the help text share one copy
//! (docs/reference.md says the same at length).

use crate::store::StoreChoice;

/// Exit status, by code.
pub const EXIT_STATUS: [(&str, &str); 3] = [
    (
        "0",
        "Success; and every protocol operation (get, store, erase), answered or not: git's \
         own operation must go on.",
    ),
    (
        "1",
        "A command failed or found a problem: login refused or could not save the token, \
         status found no usable token, doctor found a FAIL, migrate left something as it was.",
    ),
    (
        "2",
        "The command line could not be parsed (an unknown option, a bad --store value).",
    ),
];

/// The environment variables the program reads.
pub const ENVIRONMENT: [(&str, &str); 7] = [
    (
        "BITBUCKET_API_TOKEN",
        "A token for CI: get answers with it before any store. Never saved.",
    ),
    (
        "BITBUCKET_API_TOKEN_FILE",
        "The full path of a file holding the token (a Docker or Kubernetes secret), read at \
         every get. Setting it and BITBUCKET_API_TOKEN is an error. Never saved; refused if \
         others may write it or it is not a regular file.",
    ),
    (
        "CREDENTIALS_DIRECTORY",
        "Set by systemd: its file bitbucket-api-token (LoadCredential=bitbucket-api-token:FILE) \
         is used like BITBUCKET_API_TOKEN_FILE when neither variable is set.",
    ),
    (
        "GIT_CREDENTIAL_BITBUCKET_STORE",
        "The store when --store is not given.",
    ),
    (
        "GIT_CREDENTIAL_BITBUCKET_UNLOCK_TIMEOUT",
        "Seconds to wait for a locked keychain to be unlocked when --unlock-timeout is not \
         given (default 60; 0 never asks).",
    ),
    (
        "XDG_DATA_HOME",
        "Where the data directory is on Linux (default ~/.local/share).",
    ),
    (
        "DBUS_SESSION_BUS_ADDRESS",
        "The bus the Secret Service is looked for on (unix: addresses only).",
    ),
];

/// The files the program reads and writes.
pub const FILES: [(&str, &str); 6] = [
    (
        "~/.gitconfig",
        "Where setup writes the helper's configuration (--system: /etc/gitconfig; --file FILE).",
    ),
    (
        "~/.local/share/git-credential-bitbucket/",
        "The data directory, DATA below ($XDG_DATA_HOME/git-credential-bitbucket; on macOS \
         ~/Library/Application Support/git-credential-bitbucket). Uninstalling keeps it.",
    ),
    (
        "DATA/tokens",
        "The file store (--store file): one plaintext file, mode 0600.",
    ),
    (
        "DATA/metadata",
        "Expiry dates and where each token worked; no secret.",
    ),
    (
        "DATA/operations.lock",
        "The lock writers take before changing a store.",
    ),
    (
        "DATA/secret-service-items/",
        "Where each Secret Service item is, so get need not search.",
    ),
];

/// The stores `--store` takes, with what each is: `(name, description)`.
pub fn stores() -> Vec<(String, String)> {
    <StoreChoice as clap::ValueEnum>::value_variants()
        .iter()
        .filter_map(clap::ValueEnum::to_possible_value)
        .map(|value| {
            let help = value
                .get_help()
                .map(ToString::to_string)
                .unwrap_or_default();
            (value.get_name().to_owned(), help)
        })
        .collect()
}

/// The end of the top-level `--help`: the stores and the environment, listed once there (each
/// command's `--store` points here rather than repeating them).
pub fn help_notes() -> String {
    let mut text =
        String::from("Stores (--store STORE, or GIT_CREDENTIAL_BITBUCKET_STORE=STORE):\n");
    for (name, help) in stores() {
        text.push_str(&format!("  {name}: {help}\n"));
    }
    text.push_str("\nEnvironment:\n");
    for (name, what) in ENVIRONMENT {
        text.push_str(&format!("  {name}: {what}\n"));
    }
    text.trim_end().to_owned()
}
