//! The Windows build, run under Wine with Wine's Credential Manager (`support::wine`): the
//! protocol on the `wincred` store as git speaks it, and `login` on a console. The real-git
//! flows and the commands run on it too, as the `wincred` modules of `flows` and `commands`.
//! What Wine cannot show (Git for Windows passing the `--verify` pipe on, a real console's
//! echo) is covered by unit tests behind `cfg(windows)` and described in docs/windows.md.

use std::io::{Read, Write};
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{TOKEN_USERNAME, fake_api_token, fake_app_password, shell_quote};

fn wincred_rig() -> Option<Rig> {
    Rig::new(StoreUnderTest::Wincred)
}

#[test]
fn store_get_and_erase_on_wincred_hand_out_the_token_and_erase_only_a_match() {
    let Some(mut rig) = wincred_rig() else { return };
    let token = rig.token.clone();
    assert_eq!(rig.stored(), None, "a fresh prefix holds nothing");
    rig.helper(
        "store",
        &rig.request(&format!("username=someone\npassword={token}")),
    )
    .assert_success();
    let get = rig.helper("get", &rig.request("username=someone"));
    get.assert_success();
    assert!(
        get.stdout
            .starts_with(&format!("username={TOKEN_USERNAME}\npassword={token}\n")),
        "always the API token username: {get:?}"
    );

    let other = rig.secret(fake_api_token());
    rig.helper("erase", &rig.request(&format!("password={other}")))
        .assert_success();
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()), "kept");
    let erase = rig.helper("erase", &rig.request(&format!("password={token}")));
    erase.assert_success();
    assert!(
        erase.stderr.contains("removed from the wincred store"),
        "{erase:?}"
    );
    assert_eq!(rig.stored(), None, "the matching token is gone");
}

#[test]
fn unserved_hosts_and_app_passwords_leave_wincred_untouched() {
    let Some(mut rig) = wincred_rig() else { return };
    let token = rig.token.clone();
    rig.typed("", &token);
    let intruder = rig.secret(fake_api_token());
    let port = rig
        .server
        .host()
        .rsplit_once(':')
        .expect("host:port")
        .1
        .to_owned();
    for host in [
        format!("evil.example:{port}"),
        format!("127.0.0.2:{port}"),
        "bitbucket.org.evil.example".to_owned(),
        "github.com".to_owned(),
    ] {
        for protocol in ["http", "https"] {
            let request = format!("protocol={protocol}\nhost={host}\n");
            let get = rig.helper("get", &format!("{request}\n"));
            get.assert_success();
            assert_eq!(get.stdout, "", "no answer for {host}: {get:?}");
            rig.helper("store", &format!("{request}password={intruder}\n\n"))
                .assert_success();
            rig.helper("erase", &format!("{request}password={token}\n\n"))
                .assert_success();
        }
    }
    let legacy = rig.secret(fake_app_password());
    let refused = rig.helper("store", &rig.request(&format!("password={legacy}")));
    assert!(refused.stderr.contains("app password"), "{refused:?}");
    assert_eq!(
        rig.stored().as_deref(),
        Some(token.as_str()),
        "positive control: the served host still gets its token"
    );
}

#[test]
fn workspace_tokens_on_wincred_answer_their_workspace_only() {
    let Some(mut rig) = wincred_rig() else { return };
    let host_token = rig.token.clone();
    let acme = rig.secret(fake_api_token());
    rig.cli(&["login", "--stdin"], &host_token).assert_success();
    rig.cli(&["login", "--stdin", "--workspace", "acme"], &acme)
        .assert_success();
    let get = |path: &str| {
        rig.helper("get", &rig.request(&format!("path={path}")))
            .password()
    };
    assert_eq!(get("acme/app.git").as_deref(), Some(acme.as_str()));
    assert_eq!(get("other/app.git").as_deref(), Some(host_token.as_str()));
    let status = rig.cli(&["status"], "");
    status.assert_success();
    assert!(
        status.stdout.contains("store: wincred") && status.stdout.contains("acme"),
        "{status:?}"
    );
}

/// Types the token on a pseudo-terminal (`script` gives Wine a console on it): the prompt
/// shows, the typed token does not, and it is saved.
#[test]
fn login_on_a_console_hides_what_is_typed_and_saves_it() {
    let Some(rig) = wincred_rig() else { return };
    let token = rig.token.clone();
    let mut line: Vec<String> = rig
        .env
        .helper_command()
        .get_args()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    line.insert(
        0,
        rig.env
            .helper_command()
            .get_program()
            .to_string_lossy()
            .into_owned(),
    );
    line.extend(rig.helper_args());
    line.push("login".into());
    let line: Vec<String> = line.iter().map(|w| shell_quote(w)).collect();
    let mut script = rig.env.command("script");
    script
        // Kernel echo off: Wine switches the pty to raw mode only at the first console read, so
        // what is typed before would be echoed by the pty itself, not by the Windows console.
        .args([
            "-qfec",
            &format!("stty -echo; exec timeout 120 {}", line.join(" ")),
            "/dev/null",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = script.spawn().expect("run script(1)");
    let mut input = child.stdin.take().expect("stdin");
    let mut output = child.stdout.take().expect("stdout");
    let (seen, screen) = mpsc::channel();
    std::thread::spawn(move || {
        let mut all = Vec::new();
        let mut chunk = [0u8; 256];
        while let Ok(n) = output.read(&mut chunk) {
            if n == 0 {
                break;
            }
            all.extend_from_slice(&chunk[..n]);
            let _ = seen.send(String::from_utf8_lossy(&all).into_owned());
        }
    });
    let deadline = Duration::from_secs(60);
    let mut shown = String::new();
    while !shown.contains("(input hidden):") {
        shown = screen
            .recv_timeout(deadline)
            .unwrap_or_else(|_| panic!("no prompt within {deadline:?}: {shown:?}"));
    }
    input
        .write_all(format!("{token}\r").as_bytes())
        .expect("type");
    drop(input);
    while let Ok(more) = screen.recv_timeout(deadline) {
        shown = more;
    }
    let status = child.wait().expect("wait for script");
    assert!(status.success(), "{shown:?}");
    assert!(shown.contains("Saved"), "{shown:?}");
    assert!(!shown.contains(&token), "the typed token was echoed");
    assert!(
        !shown.contains(&token[..20]),
        "part of the typed token was echoed"
    );
    assert_eq!(rig.stored().as_deref(), Some(token.as_str()));
}

#[test]
fn login_without_a_console_asks_for_stdin_instead_of_failing_obscurely() {
    let Some(rig) = wincred_rig() else { return };
    let mut cmd = rig.env.helper_command();
    cmd.args(rig.helper_args())
        .arg("login")
        .stdin(Stdio::null());
    let out = cmd.output().expect("run the helper");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--stdin"), "{stderr}");
    assert!(!stderr.contains("not available"), "{stderr}");
}
