//! The git side of the test server: each request that passed Bitbucket's authentication is
//! handed to git's own smart-HTTP implementation, `git http-backend`, as a CGI program.

use std::io::Write;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread;

use super::http::{self, Request, Response};

/// Bitbucket also serves `ws/repo` without `.git`; map it onto the bare repository on disk.
fn path_info(req_path: &str, root: &Path) -> String {
    for suffix in [
        "/info/refs",
        "/git-upload-pack",
        "/git-receive-pack",
        "/HEAD",
    ] {
        if let Some(repo) = req_path.strip_suffix(suffix)
            && !repo.ends_with(".git")
            && root
                .join(format!("{}.git", repo.trim_start_matches('/')))
                .is_dir()
        {
            return format!("{repo}.git{suffix}");
        }
    }
    req_path.to_owned()
}

/// Hands the request to `git http-backend` and turns its CGI output into a response.
pub fn run(req: &Request, username: &str, root: &Path) -> Response {
    let repos = root.join("repos");
    let mut cmd = Command::new("git");
    cmd.arg("http-backend")
        .current_dir(&repos)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        // Not in the CGI spec, but keeps the backend from reading this machine's git config.
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("HOME", root.join("home"))
        .env("GIT_PROJECT_ROOT", &repos)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("REQUEST_METHOD", &req.method)
        .env("PATH_INFO", path_info(&req.path, &repos))
        .env("QUERY_STRING", &req.query)
        .env("CONTENT_TYPE", req.header("Content-Type").unwrap_or(""))
        .env("CONTENT_LENGTH", req.body.len().to_string())
        .env("REMOTE_USER", username)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    if let Some(enc) = req.header("Content-Encoding") {
        cmd.env("HTTP_CONTENT_ENCODING", enc);
    }
    if let Some(proto) = req.header("Git-Protocol") {
        cmd.env("GIT_PROTOCOL", proto);
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return Response::text(500, &format!("cannot run git http-backend: {e}\n")),
    };
    // Feed the body from another thread: the backend may answer before reading it all.
    let stdin = child.stdin.take();
    let body = req.body.clone();
    let feeder = thread::spawn(move || {
        if let Some(mut stdin) = stdin {
            let _ = stdin.write_all(&body);
        }
    });
    let out = child.wait_with_output();
    let _ = feeder.join();
    let out = match out {
        Ok(o) => o,
        Err(e) => return Response::text(500, &format!("git http-backend failed: {e}\n")),
    };
    if !out.stderr.is_empty() {
        eprintln!(
            "test server: git http-backend ({} {}): {}",
            req.method,
            req.path,
            String::from_utf8_lossy(&out.stderr).trim_end()
        );
    }
    http::parse_cgi_output(&out.stdout)
        .unwrap_or_else(|e| Response::text(500, &format!("bad CGI output: {e}\n")))
}
