//! `login`'s hidden prompt on a real terminal (a pseudo-terminal driven by python3's `pty`):
//! echo is off while the token is typed, and back on afterwards, whether the person pressed
//! Enter or Ctrl-C. A Ctrl-C that killed the helper mid-prompt used to leave the person's
//! terminal without echo.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::{Output, helper_bin, skip_or_panic};

/// Runs the helper's `login` on a new pty; waits (10 s at most) for the prompt, reports whether
/// echo is on then, types the keys it reads on stdin, waits (10 s at most) for the helper to exit and reports the
/// exit and whether echo is on at the end. The pty is the helper's controlling terminal, so
/// its `/dev/tty` and the Ctrl-C the line discipline turns into SIGINT are real.
const DRIVER: &str = r#"
import os, pty, select, sys, termios, time
helper, keys = sys.argv[1], sys.stdin.buffer.read()
pid, fd = pty.fork()
if pid == 0:
    os.execv(helper, [helper] + sys.argv[2:])
def read_until(needle, seconds):
    seen, end = b'', time.monotonic() + seconds
    while needle not in seen:
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return seen
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            return seen
        if not chunk:
            return seen
        seen += chunk
    return seen
said = read_until(b'(input hidden): ', 10)
print('prompted' if b'(input hidden): ' in said else 'no prompt: %r' % said)
print('echo while asking:', bool(termios.tcgetattr(fd)[3] & termios.ECHO))
os.write(fd, keys)
end, status = time.monotonic() + 10, None
while status is None and time.monotonic() < end:
    read_until(b'\0', 0.05)
    done, status = os.waitpid(pid, os.WNOHANG)
    status = status if done else None
if status is None:
    os.kill(pid, 9)
    print('exit: still running')
elif os.WIFSIGNALED(status):
    print('exit: signal', os.WTERMSIG(status))
else:
    print('exit: code', os.WEXITSTATUS(status))
print('echo after:', bool(termios.tcgetattr(fd)[3] & termios.ECHO))
"#;

fn login_on_a_pty(rig: &Rig, keys: &str) -> Option<Output> {
    if !crate::support::keyrings::on_path("python3") {
        skip_or_panic("python3 (to drive a pseudo-terminal)", "not on PATH");
        return None;
    }
    let mut cmd = rig.env.command("python3");
    cmd.args(["-c", DRIVER])
        .arg(helper_bin())
        .args(rig.helper_args())
        .arg("login");
    let out = Output::run(&mut cmd, keys);
    rig.assert_no_leak(&out, false);
    assert!(out.stdout.starts_with("prompted\n"), "{out:?}");
    assert!(out.stdout.contains("echo while asking: False"), "{out:?}");
    Some(out)
}

#[test]
fn ctrl_c_at_the_hidden_prompt_leaves_echo_on_and_changes_nothing() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let Some(out) = login_on_a_pty(&rig, "ATATT\x03") else {
        return;
    };
    assert!(out.stdout.contains("echo after: True"), "{out:?}");
    assert!(!out.stdout.contains("exit: code 0"), "{out:?}");
    assert!(!out.stdout.contains("still running"), "{out:?}");
    assert_eq!(rig.stored(), None, "nothing was stored");
}

#[test]
fn a_token_typed_at_the_hidden_prompt_is_stored_and_echo_comes_back() {
    let Some(rig) = Rig::new(StoreUnderTest::File) else {
        return;
    };
    let typed = format!("{}\r", rig.token);
    let Some(out) = login_on_a_pty(&rig, &typed) else {
        return;
    };
    assert!(out.stdout.contains("exit: code 0"), "{out:?}");
    assert!(out.stdout.contains("echo after: True"), "{out:?}");
    assert_eq!(rig.stored().as_deref(), Some(rig.token.as_str()));
}
