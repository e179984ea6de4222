//! `secret-tool` (libsecret), the positive control: a correct client of every provider.
//!
//! Why retries on KWallet: kwalletd5 5.103 fails about one libsecret session in a hundred
//! (measured: 8 of 600 calls). Its `OpenSession` refuses a client public key shorter than 128
//! bytes ("Client public key size is invalid"; libsecret drops leading zero bytes, so 1 key in
//! 256), and in other sessions the two sides disagree on the AES key: a store fails ("Can't find
//! session", its name for a secret it cannot decrypt) and a lookup finds nothing. A fresh
//! `secret-tool` negotiates a fresh session, so on KWallet a failed call is tried again (at most
//! [`KWALLET_ATTEMPTS`] times): a result that stays a failure is real. docs/testing.md has the
//! details.

use std::time::Duration;

use super::deadline::CLIENT_DEADLINE;
use super::{Provider, SecretServiceSession};
use crate::support::output::Output;

/// Calls per `secret-tool` run on KWallet; 4 failures in a row by chance is about 1 in 10^8.
const KWALLET_ATTEMPTS: usize = 4;

impl SecretServiceSession {
    /// Runs `secret-tool ARGS` on this session with `stdin` (where `store` reads the secret).
    /// Panics if it does not answer within [`CLIENT_DEADLINE`].
    #[track_caller]
    pub fn secret_tool(&self, args: &[&str], stdin: &str) -> Output {
        self.run_secret_tool(args, stdin, CLIENT_DEADLINE)
            .unwrap_or_else(|| {
                panic!(
                    "secret-tool {args:?}: no answer within {}s (killed)\n{}",
                    CLIENT_DEADLINE.as_secs(),
                    self.diagnostics()
                )
            })
    }

    /// [`secret_tool`](Self::secret_tool) for a call that may hang: `None` if it had not
    /// finished after `limit` (it is then killed).
    pub fn secret_tool_within(
        &self,
        args: &[&str],
        stdin: &str,
        limit: Duration,
    ) -> Option<Output> {
        self.run_secret_tool(args, stdin, limit)
    }

    /// `secret-tool ARGS` with a deadline per call; on KWallet, tried again while it fails.
    pub(super) fn run_secret_tool(
        &self,
        args: &[&str],
        stdin: &str,
        limit: Duration,
    ) -> Option<Output> {
        let attempts = match self.provider {
            Provider::KWallet => KWALLET_ATTEMPTS,
            _ => 1,
        };
        let mut last = None;
        for _ in 0..attempts {
            let out = Output::run_within(
                self.command("secret-tool").args(args),
                stdin.as_bytes(),
                limit,
            )?;
            // KWallet's failed session shows as an "invalid secret" even where secret-tool
            // exits 0 (a search that prints the item without it).
            if out.success() && !out.stderr.contains("invalid secret") {
                return Some(out);
            }
            last = Some(out);
        }
        last
    }
}
