//! A Bitbucket-like git server on 127.0.0.1, serving bare repositories through the real
//! `git http-backend` CGI, with Bitbucket Cloud's authentication answers.
//!
//! Why: the helper's job is decided by what Bitbucket answers (see docs/facts.md): `401` with
//! `WWW-Authenticate: Basic realm="Bitbucket.org HTTP"` for missing or bad credentials, `410` for
//! a legacy app password, `403` for a token that lacks the write scope. Tests must drive real git
//! against those answers, offline and fast, so this server reproduces them in front of git's own
//! smart-HTTP implementation. It logs every request (never a password) so tests can check
//! what git sent and what it was told.

use std::collections::HashMap;
use std::io::BufReader;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::backend;
use super::gate::{Gate, Held};
use super::http::{self, Request, Response};
use super::output::Output;

mod projects;

/// The username Bitbucket Cloud expects with an API token over git HTTPS.
pub const TOKEN_USERNAME: &str = "x-bitbucket-api-token-auth";
/// What Bitbucket answers to a legacy app password (status 410).
pub const APP_PASSWORD_BODY: &str =
    "App passwords are deprecated and must be replaced with API tokens.";
/// What Bitbucket answers to a token lacking a scope (status 403).
pub const MISSING_SCOPE_BODY: &str = "Your credentials lack one or more required privilege scopes.";
/// The challenge sent with every 401.
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"Bitbucket.org HTTP\"";

/// What a granted API token may do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `read:repository:bitbucket`: clone, fetch, pull.
    Read,
    /// `read:repository:bitbucket` + `write:repository:bitbucket`: also push.
    ReadWrite,
    /// A valid token with neither repository scope (e.g. made for another product): 403.
    NoRepository,
}

/// One request as the server saw and answered it. Never holds a password.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RequestLog {
    pub method: String,
    /// Percent-decoded path, without the query.
    pub path: String,
    /// The raw query string (e.g. `service=git-upload-pack`), empty if none.
    pub query: String,
    /// The username from HTTP Basic auth, `None` if no (decodable) credentials came.
    pub username: Option<String>,
    /// The status the server answered.
    pub status: u16,
}

#[derive(Default)]
struct State {
    tokens: Mutex<HashMap<String, Scope>>,
    /// Tokens whose account sees only these workspaces or repositories (`ws` or `ws/repo`;
    /// others get 401, as on Bitbucket).
    workspaces: Mutex<HashMap<String, Vec<String>>>,
    /// Public repositories (`ws/repo`): read without credentials.
    public: Mutex<Vec<String>>,
    log: Mutex<Vec<RequestLog>>,
    gate: Gate,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A running server; dropping it stops the accept loop and deletes its repositories.
pub struct BitbucketServer {
    dir: tempfile::TempDir,
    addr: SocketAddr,
    state: Arc<State>,
    stop: Arc<AtomicBool>,
    accept: Option<JoinHandle<()>>,
}

impl BitbucketServer {
    /// Starts a server on an ephemeral port of 127.0.0.1 with no repositories and no tokens.
    pub fn start() -> BitbucketServer {
        let dir = tempfile::Builder::new()
            .prefix("gcb-bitbucket-")
            .tempdir()
            .expect("create server tempdir");
        std::fs::create_dir(dir.path().join("repos")).expect("create repos dir");
        std::fs::create_dir(dir.path().join("home")).expect("create server home");
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let addr = listener.local_addr().expect("local_addr");
        keep_port_reserved(&listener);
        let state = Arc::new(State::default());
        let stop = Arc::new(AtomicBool::new(false));
        let ctx = Arc::new(Context {
            root: dir.path().to_owned(),
            state: Arc::clone(&state),
        });
        let stop2 = Arc::clone(&stop);
        let accept = thread::Builder::new()
            .name(format!("bitbucket-{}", addr.port()))
            .spawn(move || accept_loop(&listener, &stop2, &ctx))
            .expect("spawn accept thread");
        BitbucketServer {
            dir,
            addr,
            state,
            stop,
            accept: Some(accept),
        }
    }

    /// `127.0.0.1:PORT`, as git puts it in the credential `host` attribute.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT/` followed by `path` (e.g. `ws/repo.git`).
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// The GIT_PROJECT_ROOT: repositories live at `<root>/<workspace>/<repo>.git`.
    pub fn repos_root(&self) -> PathBuf {
        self.dir.path().join("repos")
    }

    /// Creates `<workspace>/<repo>.git`: bare, one commit on `main` with a README.md, pushes allowed.
    pub fn create_repo(&self, workspace: &str, repo: &str) {
        let path = self
            .repos_root()
            .join(workspace)
            .join(format!("{repo}.git"));
        let p = path.to_str().expect("UTF-8 temp path");
        let home = self.dir.path().join("home");
        self.plumbing(&home, &["init", "-q", "--bare", "-b", "main", p], "");
        self.plumbing(&path, &["config", "http.receivepack", "true"], "");
        let readme = format!("# {workspace}/{repo}\n\nA test repository.\n");
        let blob = self.plumbing(&path, &["hash-object", "-w", "--stdin"], &readme);
        let tree = self.plumbing(
            &path,
            &["mktree"],
            &format!("100644 blob {blob}\tREADME.md\n"),
        );
        let commit = self.plumbing(&path, &["commit-tree", &tree, "-m", "Initial commit"], "");
        self.plumbing(&path, &["update-ref", "refs/heads/main", &commit], "");
    }

    /// Runs a git plumbing command hermetically; returns trimmed stdout; panics on failure.
    fn plumbing(&self, dir: &Path, args: &[&str], stdin: &str) -> String {
        let mut cmd = Command::new("git");
        cmd.args(args)
            .current_dir(dir)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("HOME", self.dir.path().join("home"))
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .env("LANG", "C")
            .envs(["AUTHOR", "COMMITTER"].iter().flat_map(|who| {
                [
                    (format!("GIT_{who}_NAME"), "Test Server"),
                    (format!("GIT_{who}_EMAIL"), "server@example.invalid"),
                    (format!("GIT_{who}_DATE"), "1700000000 +0000"),
                ]
            }));
        let out = Output::run(&mut cmd, stdin);
        assert!(out.success(), "git {args:?} failed: {out:?}");
        out.stdout.trim().to_owned()
    }

    /// Makes `token` a valid API token (with username `x-bitbucket-api-token-auth`) with `scope`.
    pub fn grant(&self, token: &str, scope: Scope) {
        lock(&self.state.tokens).insert(token.to_owned(), scope);
    }

    /// Makes `token` valid with `scope` for an account that can see only `workspaces` (each a
    /// workspace, or one repository as `ws/repo`: Bitbucket grants per repository too): any
    /// other answers `401`, exactly as for a bad token (docs/facts.md).
    pub fn grant_in(&self, token: &str, scope: Scope, workspaces: &[&str]) {
        self.grant(token, scope);
        let seen = workspaces.iter().map(|w| (*w).to_owned()).collect();
        lock(&self.state.workspaces).insert(token.to_owned(), seen);
    }

    /// Makes `token` unknown again: it now gets `401`.
    pub fn revoke(&self, token: &str) {
        lock(&self.state.tokens).remove(token);
    }

    /// Every request answered so far, oldest first.
    pub fn requests(&self) -> Vec<RequestLog> {
        lock(&self.state.log).clone()
    }

    /// The requests that presented credentials. git always tries without any first (and gets
    /// 401), even with credentials in the URL; those anonymous probes are left out here.
    pub fn authenticated(&self) -> Vec<RequestLog> {
        let mut log = self.requests();
        log.retain(|r| r.username.is_some());
        log
    }

    /// The statuses answered so far, oldest first (handy in assertions).
    pub fn statuses(&self) -> Vec<u16> {
        self.requests().iter().map(|r| r.status).collect()
    }

    /// The statuses answered to requests that presented credentials, oldest first.
    pub fn authenticated_statuses(&self) -> Vec<u16> {
        self.authenticated().iter().map(|r| r.status).collect()
    }

    /// Holds every later request presenting `password` (a slow remote, on cue) until the
    /// guard is released or dropped.
    pub fn hold_requests_presenting(&self, password: &str) -> Held<'_> {
        self.state.gate.hold(password)
    }

    /// Forgets the request log (e.g. between the set-up clone and the step under test).
    pub fn clear_requests(&self) {
        lock(&self.state.log).clear();
    }
}

/// Keeps a copy of `listener` open until the test process ends, so that no later server of
/// this process gets the same port. Tokens are filed under `127.0.0.1:PORT`, and the Secret
/// Service session is shared by the whole process: a test whose server reused a finished
/// test's port read that test's token (seen once in `revocation`, as a 401 on the first clone).
fn keep_port_reserved(listener: &TcpListener) {
    static RESERVED: std::sync::Mutex<Vec<TcpListener>> = std::sync::Mutex::new(Vec::new());
    let copy = listener.try_clone().expect("dup the listener");
    RESERVED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .push(copy);
}

impl Drop for BitbucketServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the blocking accept() so the loop sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
    }
}

/// What the connection threads share.
struct Context {
    root: PathBuf,
    state: Arc<State>,
}

fn accept_loop(listener: &TcpListener, stop: &AtomicBool, ctx: &Arc<Context>) {
    for conn in listener.incoming() {
        if stop.load(Ordering::SeqCst) {
            break;
        }
        let stream = match conn {
            Ok(s) => s,
            Err(e) => {
                eprintln!("test server: accept failed: {e}");
                continue;
            }
        };
        let ctx = Arc::clone(ctx);
        let spawned = thread::Builder::new()
            .name("bitbucket-conn".to_owned())
            .spawn(move || {
                if let Err(e) = serve(stream, &ctx) {
                    eprintln!("test server: connection error: {e}");
                }
            });
        if let Err(e) = spawned {
            eprintln!("test server: cannot spawn a connection thread: {e}");
        }
    }
}

/// Serves one request on one connection.
fn serve(stream: TcpStream, ctx: &Context) -> std::io::Result<()> {
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    stream.set_write_timeout(Some(Duration::from_secs(30)))?;
    let mut out = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let req = match http::read_request(&mut reader, &mut out) {
        Ok(r) => r,
        Err(e) => {
            let _ = http::write_response(&mut out, &Response::text(400, "bad request\n"));
            return Err(e);
        }
    };
    let presented = basic_credentials(&req).map(|(_, password)| password);
    ctx.state.gate.pass(presented.as_deref());
    let (username, verdict) = authorize(
        &req,
        &lock(&ctx.state.tokens),
        &lock(&ctx.state.workspaces),
        &lock(&ctx.state.public),
    );
    let resp = match verdict {
        Some(resp) => resp,
        None => backend::run(&req, username.as_deref().unwrap_or(""), &ctx.root),
    };
    lock(&ctx.state.log).push(RequestLog {
        method: req.method.clone(),
        path: req.path.clone(),
        query: req.query.clone(),
        username,
        status: resp.status,
    });
    http::write_response(&mut out, &resp)?;
    let _ = out.shutdown(Shutdown::Write);
    Ok(())
}

/// Bitbucket Cloud's rules. Returns the presented username and, if refused, the answer.
fn authorize(
    req: &Request,
    tokens: &HashMap<String, Scope>,
    workspaces: &HashMap<String, Vec<String>>,
    public: &[String],
) -> (Option<String>, Option<Response>) {
    let unauthorized = || {
        let mut r = Response::text(401, "Unauthorized\n");
        r.headers
            .push(("WWW-Authenticate".to_owned(), WWW_AUTHENTICATE.to_owned()));
        Some(r)
    };
    let Some((user, password)) = basic_credentials(req) else {
        let (workspace, repo) = repository_of(&req.path);
        let open = public.iter().any(|p| *p == format!("{workspace}/{repo}"));
        return (
            None,
            if open && !is_push(req) {
                None
            } else {
                unauthorized()
            },
        );
    };
    let verdict = if password.starts_with("ATBB") {
        Some(Response::text(410, APP_PASSWORD_BODY))
    } else {
        match tokens.get(&password) {
            Some(_) if user != TOKEN_USERNAME => unauthorized(),
            None => unauthorized(),
            Some(_) if !sees(workspaces.get(&password), &req.path) => unauthorized(),
            Some(Scope::Read) if is_push(req) => Some(Response::text(403, MISSING_SCOPE_BODY)),
            Some(Scope::NoRepository) => Some(Response::text(403, MISSING_SCOPE_BODY)),
            Some(_) => None,
        }
    };
    (Some(user), verdict)
}

/// The username and password of HTTP Basic authentication, if any (decodable) came.
fn basic_credentials(req: &Request) -> Option<(String, String)> {
    req.header("Authorization")
        .and_then(|v| {
            let (scheme, rest) = v.split_once(' ')?;
            scheme.eq_ignore_ascii_case("basic").then_some(rest)
        })
        // A reference decoder, not the helper's own (src/scan/secrets.rs), so a bug there
        // cannot make this server accept what Bitbucket would not.
        .and_then(|b64| BASE64.decode(b64.trim()).ok())
        .and_then(|raw| String::from_utf8(raw).ok())
        .and_then(|s| s.split_once(':').map(|(u, p)| (u.to_owned(), p.to_owned())))
}

/// Whether an account limited to `workspaces` (none: every one) can see `path`'s repository.
fn sees(workspaces: Option<&Vec<String>>, path: &str) -> bool {
    let (workspace, repo) = repository_of(path);
    let repository = format!("{workspace}/{repo}");
    workspaces.is_none_or(|list| list.iter().any(|w| *w == workspace || *w == repository))
}

/// The workspace and repository (without `.git`) of a request's path.
fn repository_of(path: &str) -> (&str, &str) {
    let mut segments = path.trim_start_matches('/').split('/');
    let workspace = segments.next().unwrap_or("");
    let repo = segments.next().unwrap_or("");
    (workspace, repo.strip_suffix(".git").unwrap_or(repo))
}

/// The requests that `git push` makes: the receive-pack advertisement and the pack upload.
fn is_push(req: &Request) -> bool {
    req.path.ends_with("/git-receive-pack")
        || req
            .query
            .split('&')
            .any(|kv| kv == "service=git-receive-pack")
}
