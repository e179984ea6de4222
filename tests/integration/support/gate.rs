//! A remote that is slow to answer, on cue: the test server holds the requests that present a
//! chosen password until the test releases them.
//!
//! Why: "while git waits on the network, nothing else waits for it" is a claim about an
//! interleaving. Holding the request makes that interleaving certain instead of likely: the
//! test waits (with a deadline) until the request is held, does what it wants meanwhile, and
//! releases it. No timing decides anything; the hold itself ends after [`HOLD_LIMIT`] so a
//! broken test cannot hang the suite.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// The longest any request is held, and the longest a test waits for one to arrive.
pub const HOLD_LIMIT: Duration = Duration::from_secs(60);

#[derive(Default)]
struct Holding {
    /// Requests presenting this password wait.
    password: Option<String>,
    /// How many are waiting now.
    held: usize,
}

/// Shared by the server's connection threads and the test.
#[derive(Default)]
pub struct Gate {
    holding: Mutex<Holding>,
    changed: Condvar,
}

impl Gate {
    fn lock(&self) -> MutexGuard<'_, Holding> {
        self.holding.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Called by the server for every request: waits while requests presenting `password`
    /// are held (at most [`HOLD_LIMIT`]).
    pub fn pass(&self, password: Option<&str>) {
        let mut holding = self.lock();
        if password.is_none() || holding.password.as_deref() != password {
            return;
        }
        holding.held += 1;
        self.changed.notify_all();
        let (mut holding, _) = self
            .changed
            .wait_timeout_while(holding, HOLD_LIMIT, |h| {
                h.password.is_some() && h.password.as_deref() == password
            })
            .unwrap_or_else(PoisonError::into_inner);
        holding.held -= 1;
    }

    /// Holds every later request presenting `password` until the returned guard is released
    /// or dropped.
    pub fn hold(&self, password: &str) -> Held<'_> {
        self.lock().password = Some(password.to_owned());
        Held { gate: self }
    }
}

/// Requests are held while this lives.
pub struct Held<'a> {
    gate: &'a Gate,
}

impl Held<'_> {
    /// Waits until a request is being held; panics after [`HOLD_LIMIT`].
    #[track_caller]
    pub fn wait_until_holding(&self) {
        let holding = self.gate.lock();
        let (holding, _) = self
            .gate
            .changed
            .wait_timeout_while(holding, HOLD_LIMIT, |h| h.held == 0)
            .unwrap_or_else(PoisonError::into_inner);
        assert!(
            holding.held > 0,
            "no request presenting the held password came within {HOLD_LIMIT:?}"
        );
    }

    /// Lets the held requests (and every later one) through.
    pub fn release(self) {}
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.gate.lock().password = None;
        self.gate.changed.notify_all();
    }
}
