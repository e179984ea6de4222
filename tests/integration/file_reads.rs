//! How often each file-store operation opens the token and metadata files, and how far it
//! reads them, watched with `strace`. git runs `get` on every fetch and push and `store` after
//! every success, and each read is an open and a parse that grows with what is stored
//! (docs/performance.md). Counting opens is exact where timings are noise.
//!
//! - `get` reads the token file only as far as its entry, and opens each file once.
//! - `store` of a token already stored reads each entry and each metadata record it needs once,
//!   and writes nothing.
//! - `erase` reads each entry and record once to decide; what it changes is read once more,
//!   inside that change's locked read-modify-write (src/store/lock.rs, docs/security.md): that
//!   re-read is the rule that no writer loses another's change, so it stays.

use std::io::Write as _;

use crate::support::{Output, TestEnv, fake_api_token, skip_or_panic};

const GET_BITBUCKET: &str = "protocol=https\nhost=bitbucket.org\n\n";
const FILE_STORE: &[&str] = &["--store", "file"];

/// A request for bitbucket.org, with `path` (as with `credential.useHttpPath`) and `token`.
fn request(path: Option<&str>, token: &str) -> String {
    let path = path.map(|p| format!("path={p}\n")).unwrap_or_default();
    format!(
        "protocol=https\nhost=bitbucket.org\n{path}username=x-bitbucket-api-token-auth\n\
         password={token}\n\n"
    )
}

/// The request for bitbucket.org without a path, as git sends it before a password is known.
const BITBUCKET: &str = "protocol=https\nhost=bitbucket.org\n";

/// Saves `token` for bitbucket.org as typed at git's prompt (get, then store).
fn typed(env: &TestEnv, token: &str) {
    env.typed(FILE_STORE, BITBUCKET, token);
}

fn tokens_file(env: &TestEnv) -> std::path::PathBuf {
    env.home()
        .join(".local/share/git-credential-bitbucket/tokens")
}

/// The helper's `operation` on the file store, traced.
fn traced(env: &TestEnv, operation: &str, input: &str) -> (Output, Trace) {
    traced_with(env, &[operation], input)
}

/// The helper with `args` after `--store file`, under `strace`.
fn traced_with(env: &TestEnv, args: &[&str], input: &str) -> (Output, Trace) {
    let log = env.home().join("strace.log");
    let out = Output::run(
        env.command("strace")
            .args([
                "-qq",
                "-e",
                "trace=openat,read,close,rename,renameat,renameat2",
            ])
            .arg("-o")
            .arg(&log)
            .arg(crate::support::helper_bin())
            .args(FILE_STORE)
            .args(args),
        input,
    );
    if out.stderr.contains("strace") && !out.success() {
        skip_or_panic("strace", &out.stderr);
    }
    let log = std::fs::read_to_string(&log).unwrap_or_default();
    (out, Trace { log })
}

/// What one traced run did to the files of the data directory.
struct Trace {
    log: String,
}

impl Trace {
    /// How often the file `name` was opened.
    fn opens(&self, name: &str) -> usize {
        self.reads_of(name).0
    }

    /// How often the file `name` was replaced (every write renames a new file over it).
    fn writes(&self, name: &str) -> usize {
        let target = format!("/{name}\"");
        self.log
            .lines()
            .filter(|l| l.starts_with("rename") && l.contains(&target))
            .count()
    }

    /// How often the file `name` was opened, and how many bytes were read from it.
    fn reads_of(&self, name: &str) -> (usize, usize) {
        let (mut opens, mut bytes, mut fd) = (0, 0, None::<String>);
        for line in self.log.lines() {
            if line.starts_with("openat(") && line.contains(&format!("/{name}\"")) {
                opens += 1;
                fd = line.rsplit("= ").next().map(str::to_owned);
            } else if let Some(open) = &fd {
                if line.starts_with(&format!("read({open},")) {
                    bytes += line
                        .rsplit("= ")
                        .next()
                        .and_then(|n| n.parse().ok())
                        .unwrap_or(0);
                } else if line.starts_with(&format!("close({open})")) {
                    fd = None;
                }
            }
        }
        (opens, bytes)
    }
}

/// With 2,000 other entries after it, a file-store `get` reads the token file only as far as
/// its entry, and opens the token and metadata files once each; a `get` for the last entry
/// (the control) reads it all.
#[test]
fn a_file_store_get_reads_only_as_far_as_its_entry() {
    let env = TestEnv::new();
    let token = fake_api_token();
    typed(&env, &token);
    let tokens = tokens_file(&env);
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&tokens)
        .expect("tokens");
    for n in 0..2000 {
        writeln!(
            file,
            "git-credential-bitbucket\tz{n:04}.test\t{}",
            fake_api_token()
        )
        .unwrap();
    }
    drop(file);
    let size = std::fs::metadata(&tokens).expect("tokens").len() as usize;

    let (out, trace) = traced(&env, "get", GET_BITBUCKET);
    assert_eq!(out.password().as_deref(), Some(token.as_str()), "{out:?}");
    let (opens, bytes) = trace.reads_of("tokens");
    assert_eq!(opens, 1, "{}", trace.log);
    assert!(bytes < size / 4, "read {bytes} of {size} bytes");
    assert_eq!(
        trace.opens("metadata"),
        1,
        "one metadata read: {}",
        trace.log
    );

    let last = "protocol=https\nhost=z1999.test\n\n";
    let (out, trace) = traced_with(&env, &["--host", "z1999.test", "get"], last);
    assert!(out.password().is_some(), "{out:?}");
    assert_eq!(trace.reads_of("tokens"), (1, size), "{}", trace.log);
}

/// git stores after every success. A `store` of the token a workspace entry already holds
/// opens the token file and the metadata file once each and writes neither (it read the
/// workspace's record twice before); one that falls back to the host entry reads the two
/// entries once each and only the host's record. Control: a new token is written, and the trace sees
/// the writes.
#[test]
fn a_store_of_the_token_already_stored_reads_each_entry_and_record_once() {
    let env = TestEnv::new();
    let token = fake_api_token();
    typed(&env, &token);
    // The workspace entry `login --workspace acme` writes, beside the host's.
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(tokens_file(&env))
        .expect("tokens");
    writeln!(
        file,
        "git-credential-bitbucket\tbitbucket.org/acme\t{token}"
    )
    .unwrap();
    drop(file);
    let in_acme = request(Some("acme/repo.git"), &token);
    let in_other = request(Some("other/repo.git"), &token);
    for input in [&in_acme, &in_other] {
        // The first success in each workspace is noted: a metadata write.
        let (out, trace) = traced(&env, "store", input);
        out.assert_success();
        assert_eq!(trace.writes("metadata"), 1, "{}", trace.log);
    }

    let (out, trace) = traced(&env, "store", &in_acme);
    out.assert_success();
    let counts = (trace.opens("tokens"), trace.opens("metadata"));
    assert_eq!(counts, (1, 1), "workspace entry, its record: {}", trace.log);
    assert_eq!((trace.writes("tokens"), trace.writes("metadata")), (0, 0));

    let (out, trace) = traced(&env, "store", &in_other);
    out.assert_success();
    let counts = (trace.opens("tokens"), trace.opens("metadata"));
    // The workspace's record is not asked for once the host entry holds the password.
    assert_eq!(
        counts,
        (2, 1),
        "both entries, the host's record: {}",
        trace.log
    );
    assert_eq!((trace.writes("tokens"), trace.writes("metadata")), (0, 0));

    // The workspace's token expires: its `get` gives none, git prompts, a new one is typed.
    expire(&env, "bitbucket.org/acme");
    let get = env.run_helper(
        FILE_STORE_GET,
        "protocol=https\nhost=bitbucket.org\npath=acme/repo.git\n\n",
    );
    assert_eq!(get.password(), None, "{get:?}");
    let rotated = fake_api_token();
    let (out, trace) = traced(&env, "store", &request(Some("acme/repo.git"), &rotated));
    out.assert_success();
    assert_eq!(
        (trace.writes("tokens"), trace.writes("metadata")),
        (1, 1),
        "{out:?}"
    );
    // The two entries read (the host's may hold the token git used), then the workspace's
    // re-read inside the locked write; the record only inside its own.
    let counts = (trace.opens("tokens"), trace.opens("metadata"));
    assert_eq!(counts, (3, 1), "{}", trace.log);
}

const FILE_STORE_GET: &[&str] = &["--store", "file", "get"];

/// Marks the token recorded for `account` as expired (1970), in the metadata file.
fn expire(env: &TestEnv, account: &str) {
    let path = tokens_file(env).with_file_name("metadata");
    let text = std::fs::read_to_string(&path).expect("metadata");
    let marker = format!("\t{account}\t");
    let text: String = text
        .lines()
        .map(|line| match line.contains(&marker) {
            true => format!("{line} expires=1\n"),
            false => format!("{line}\n"),
        })
        .collect();
    assert!(text.contains("expires=1"), "{account} has a record");
    std::fs::write(&path, text).expect("metadata");
}

/// An `erase` reads each entry and record once to decide, and re-reads only what it changes,
/// inside the change's locked read-modify-write (it read the entries twice, and the removed
/// record three times, before). A token refused where it never worked is kept and still
/// answered elsewhere (the control); refused where it worked, it is removed.
#[test]
fn an_erase_reads_each_entry_and_record_once_and_rereads_only_what_it_changes() {
    let env = TestEnv::new();
    let token = fake_api_token();
    typed(&env, &token); // it worked for a request without a path
    let get_acme = "protocol=https\nhost=bitbucket.org\npath=acme/repo.git\n\n";

    let (out, trace) = traced(&env, "erase", &request(Some("other/repo.git"), &token));
    assert!(out.stderr.contains("so it was kept"), "{out:?}");
    // The workspace entry (none) and the host's; the host's record; the refusal's write.
    let counts = (trace.opens("tokens"), trace.opens("metadata"));
    assert_eq!(counts, (2, 2), "{}", trace.log);
    assert_eq!((trace.writes("tokens"), trace.writes("metadata")), (0, 1));
    let answer = env.run_helper(&["--store", "file", "get"], get_acme);
    assert_eq!(
        answer.password().as_deref(),
        Some(token.as_str()),
        "{answer:?}"
    );

    let (out, trace) = traced(&env, "erase", &request(None, &token));
    assert!(out.stderr.contains("so it was removed"), "{out:?}");
    // The host's entry and record, then the delete's and the record removal's locked re-reads.
    let counts = (trace.opens("tokens"), trace.opens("metadata"));
    assert_eq!(counts, (2, 2), "{}", trace.log);
    assert_eq!((trace.writes("tokens"), trace.writes("metadata")), (1, 1));
    let answer = env.run_helper(&["--store", "file", "get"], get_acme);
    assert_eq!(answer.password(), None, "{answer:?}");
}
