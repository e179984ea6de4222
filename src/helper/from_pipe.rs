//! `login --verify`'s helper: git, run by `login` to try a token before it is saved, asks us
//! for credentials, and we answer with the token `login` wrote into a pipe this process
//! inherited — for a served host and `get` only, never from a store.

use super::Operation;
use crate::policy::{API_TOKEN_USERNAME, Scope, ServedHosts};
use crate::protocol::{Request, Response};

/// The answer to `request` with the token read from the inherited pipe `fd` (a handle value
/// on Windows), or `None` (nothing to answer).
pub fn answer_from_pipe(
    fd: u64,
    operation: Operation,
    request: &Request,
    hosts: &ServedHosts,
) -> Option<Response> {
    if operation != Operation::Get {
        return None;
    }
    let Scope::Served(_) = hosts.scope(request.protocol.as_deref(), request.host.as_deref()) else {
        return None;
    };
    let mut file = crate::inherited_pipe::open_inherited(fd).ok()?;
    let token = crate::terminal::read_secret_from(&mut file).ok()??;
    Some(Response {
        username: Some(API_TOKEN_USERNAME.to_owned()),
        password: Some(token),
        ..Response::default()
    })
}
