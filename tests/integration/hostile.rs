//! Hostile requests, as a table: each case is the bytes an attacker (or a confused git) could
//! feed the real binary, and the exact answer expected — with a token stored for bitbucket.org
//! and for a test host, on every Linux store. Positive controls sit in the same table, so a
//! helper that answered nothing would fail as surely as one that answered too much.
//!
//! Every run is also checked for what no answer may show: a panic, a hang (a time limit), a
//! peak memory above [`MAX_RSS_KIB`] (even for a 10 MiB line), and a token outside its own
//! `password=` line. The stores are private to each test — a Secret Service of its own, and a
//! keyutils session in a user namespace, whose persistent keyring nobody else sees — so the
//! token can be stored under the real name `bitbucket.org`.

use crate::rig::StoreUnderTest;
use crate::support::{PrivateStore, fake_api_token, gnu_time_or_skip, run_watched};

/// The second host the helper serves (`--host`), a loopback one so plain http is allowed.
const TEST_HOST: &str = "127.0.0.1:7999";
/// A 10 MiB request must stay far below this (the helper reads at most 64 KiB of a line).
const MAX_RSS_KIB: u64 = 64 * 1024;
const USERNAME_LINE: &str = "username=x-bitbucket-api-token-auth\n";
const REQUEST: &str = "protocol=https\nhost=bitbucket.org\n";

/// What must come out on stdout, exactly.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Answer {
    Nothing,
    /// The username and the bitbucket.org token.
    Bitbucket,
    /// The username and the test host's token.
    TestHost,
    /// The username alone: git will prompt.
    UsernameOnly,
    /// `quit=1`: git stops without prompting.
    Quit,
}

/// What stderr must show.
#[derive(Clone, Copy, Debug)]
enum Says {
    Nothing,
    /// One or more `git-credential-bitbucket: ` lines, one of them containing this.
    Mentions(&'static str),
}

struct Case {
    name: &'static str,
    operation: &'static str,
    input: Vec<u8>,
    close_stdout: bool,
    answer: Answer,
    says: Says,
    exit: i32,
}

fn case(name: &'static str, input: impl Into<Vec<u8>>, answer: Answer, says: Says) -> Case {
    Case {
        name,
        operation: "get",
        input: input.into(),
        close_stdout: false,
        answer,
        says,
        exit: 0,
    }
}

fn on(operation: &'static str, mut case: Case) -> Case {
    case.operation = operation;
    case
}

fn https(host: &str) -> String {
    format!("protocol=https\nhost={host}\n")
}

/// Deterministic noise (xorshift), so a failure reproduces.
fn noise(len: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

fn cat(parts: &[&[u8]]) -> Vec<u8> {
    parts.concat()
}

/// The table. `token` is the stored bitbucket.org token, used where an attacker would echo it.
fn cases(token: &str) -> Vec<Case> {
    use Answer::*;
    let quiet = Says::Nothing;
    let says = Says::Mentions;
    let ten_mib = 10 << 20;
    // Noise with no line feed at all: one endless line.
    let mut endless = noise(ten_mib, 1);
    endless
        .iter_mut()
        .for_each(|b| *b = if *b == b'\n' { 0 } else { *b });
    // Noise cut into 200-byte lines with no `=`: lines git ignores, until the size limit.
    let mut ignored_lines = noise(ten_mib, 2);
    for (i, b) in ignored_lines.iter_mut().enumerate() {
        *b = match (i % 200, *b) {
            (199, _) => b'\n',
            (_, b'\n' | b'=') => b'x',
            (_, b) => b,
        };
    }
    let max_line = format!("path={}\n", "a".repeat(65535 - 5));
    let long_line = format!("path={}\n", "a".repeat(65536 - 5));
    vec![
        // --- positive controls: the token IS handed out ---
        case(
            "git's own request",
            format!(
                "capability[]=authtype\ncapability[]=state\n{REQUEST}\
                 wwwauth[]=Basic realm=\"Bitbucket.org HTTP\"\n\n"
            ),
            Bitbucket,
            quiet,
        ),
        case(
            "host in upper case",
            https("BITBUCKET.ORG"),
            Bitbucket,
            quiet,
        ),
        case(
            "protocol in upper case",
            "protocol=HTTPS\nhost=bitbucket.org\n",
            Bitbucket,
            quiet,
        ),
        case(
            "the https port 443",
            https("bitbucket.org:443"),
            Bitbucket,
            quiet,
        ),
        case(
            "url= with a path",
            "url=https://bitbucket.org/ws/repo.git\n",
            Bitbucket,
            quiet,
        ),
        case(
            "url= with a user name",
            "url=https://anhtran@bitbucket.org/ws/repo.git\n",
            Bitbucket,
            quiet,
        ),
        case(
            "no final newline",
            "protocol=https\nhost=bitbucket.org",
            Bitbucket,
            quiet,
        ),
        case(
            "unknown keys, junk lines, NUL and non-UTF-8 in what is ignored",
            cat(&[
                b"future=1\nnonsense\n\xff\xfe=x\nho\0st=evil.example\nstate[]=a\0b\xff\n",
                REQUEST.as_bytes(),
            ]),
            Bitbucket,
            quiet,
        ),
        case(
            "200 000 ignored lines before the request",
            cat(&["x=y\n".repeat(200_000).as_bytes(), REQUEST.as_bytes()]),
            Bitbucket,
            quiet,
        ),
        case(
            "60 000 list entries (kept to a few)",
            cat(&[
                "wwwauth[]=Basic\n".repeat(60_000).as_bytes(),
                REQUEST.as_bytes(),
            ]),
            Bitbucket,
            quiet,
        ),
        case(
            "a line of exactly 65535 bytes",
            format!("{max_line}{REQUEST}"),
            Bitbucket,
            quiet,
        ),
        case(
            "url= for another host, then host and protocol for bitbucket.org",
            "url=https://evil.example/\nprotocol=https\nhost=bitbucket.org\n",
            Bitbucket,
            quiet,
        ),
        case(
            "another host, then url= for bitbucket.org",
            "protocol=http\nhost=evil.example\nurl=https://bitbucket.org/\n",
            Bitbucket,
            quiet,
        ),
        case(
            "url= with a percent-encoded host, decoded as git decodes it",
            "url=https://bitbucket%2Eorg/ws/repo.git\n",
            Bitbucket,
            quiet,
        ),
        case(
            "the test host over loopback http",
            format!("protocol=http\nhost={TEST_HOST}\n"),
            TestHost,
            quiet,
        ),
        case(
            "the test host over https",
            https(TEST_HOST),
            TestHost,
            quiet,
        ),
        // --- host confusion: nothing, and not a word ---
        case("a longer name", https("evilbitbucket.org"), Nothing, quiet),
        case(
            "bitbucket.org as a subdomain",
            https("bitbucket.org.evil.example"),
            Nothing,
            quiet,
        ),
        case(
            "user-info look-alike in host=",
            https("bitbucket.org@evil.example"),
            Nothing,
            quiet,
        ),
        case(
            "user-info look-alike in url=",
            "url=https://bitbucket.org@evil.example/ws/repo.git\n",
            Nothing,
            quiet,
        ),
        case(
            "user and password look-alike in url=",
            "url=https://bitbucket.org:x@evil.example/\n",
            Nothing,
            quiet,
        ),
        case(
            "bitbucket.org after ? in url=",
            "url=https://evil.example?@bitbucket.org/\n",
            Nothing,
            quiet,
        ),
        case(
            "bitbucket.org after # in url=",
            "url=https://evil.example#@bitbucket.org/\n",
            Nothing,
            quiet,
        ),
        case(
            "bitbucket.org in the path of url=",
            "url=https://evil.example/@bitbucket.org\n",
            Nothing,
            quiet,
        ),
        case("another port", https("bitbucket.org:8443"), Nothing, quiet),
        case(
            "port 80 over https",
            https("bitbucket.org:80"),
            Nothing,
            quiet,
        ),
        case(
            "port 443 with a zero",
            https("bitbucket.org:0443"),
            Nothing,
            quiet,
        ),
        case(
            "port 443 twice",
            https("bitbucket.org:443:443"),
            Nothing,
            quiet,
        ),
        case("an empty port", https("bitbucket.org:"), Nothing, quiet),
        case("a trailing dot", https("bitbucket.org."), Nothing, quiet),
        case("a subdomain", https("api.bitbucket.org"), Nothing, quiet),
        case("Cyrillic o", https("bitbucket.оrg"), Nothing, quiet),
        case("Cyrillic i", https("bіtbucket.org"), Nothing, quiet),
        case(
            "punycode look-alike",
            https("xn--btbucket-thh.org"),
            Nothing,
            quiet,
        ),
        case(
            "punycode top-level look-alike",
            https("bitbucket.xn--rg-emc"),
            Nothing,
            quiet,
        ),
        case(
            "full-width letters",
            https("ｂｉｔｂｕｃｋｅｔ.org"),
            Nothing,
            quiet,
        ),
        case("a leading space", https(" bitbucket.org"), Nothing, quiet),
        case("a trailing space", https("bitbucket.org "), Nothing, quiet),
        case(
            "percent-encoding in host=",
            https("bitbucket%2eorg"),
            Nothing,
            quiet,
        ),
        // --- the request rewritten after the host was given ---
        case(
            "a second host= line",
            format!("{REQUEST}host=evil.example\n"),
            Nothing,
            quiet,
        ),
        case(
            "url= for bitbucket.org, then another host",
            "url=https://bitbucket.org/ws/repo.git\nhost=evil.example\n",
            Nothing,
            quiet,
        ),
        case(
            "host for bitbucket.org, then url= for another host",
            format!("{REQUEST}url=https://evil.example/\n"),
            Nothing,
            quiet,
        ),
        case(
            "host emptied by a later line",
            format!("{REQUEST}host=\n"),
            Nothing,
            quiet,
        ),
        case(
            "a blank line before the request",
            format!("\n{REQUEST}"),
            Nothing,
            quiet,
        ),
        case(
            "a blank line between protocol and host",
            "protocol=https\n\nhost=bitbucket.org\n",
            Nothing,
            quiet,
        ),
        // --- protocols ---
        case("no protocol", "host=bitbucket.org\n", Nothing, quiet),
        case("no host", "protocol=https\n", Nothing, quiet),
        case("ssh", "protocol=ssh\nhost=bitbucket.org\n", Nothing, quiet),
        case(
            "plain http",
            "protocol=http\nhost=bitbucket.org\n",
            Quit,
            says("plain http"),
        ),
        case(
            "plain http in url=",
            "url=http://bitbucket.org/ws/repo.git\n",
            Quit,
            says("plain http"),
        ),
        // --- look-alikes of the test host ---
        case(
            "test host, another port",
            https("127.0.0.1:7998"),
            Nothing,
            quiet,
        ),
        case("test host, no port", https("127.0.0.1"), Nothing, quiet),
        case(
            "test host, longer port",
            https("127.0.0.1:79990"),
            Nothing,
            quiet,
        ),
        case(
            "test host by another name",
            https("localhost:7999"),
            Nothing,
            quiet,
        ),
        case(
            "test host over IPv6 loopback",
            https("[::1]:7999"),
            Nothing,
            quiet,
        ),
        case(
            "test host, zero-padded address",
            https("127.000.000.001:7999"),
            Nothing,
            quiet,
        ),
        // --- bytes git never sends ---
        case("empty input", "", Nothing, quiet),
        case("only a blank line", "\n", Nothing, quiet),
        case(
            "NUL in the host",
            "protocol=https\nhost=bitbucket.org\0\n",
            Nothing,
            says("NUL"),
        ),
        case(
            "CR in the host (CRLF line end)",
            "protocol=https\r\nhost=bitbucket.org\r\n",
            Nothing,
            says("carriage return"),
        ),
        case(
            "CR after an echoed token",
            format!("{REQUEST}password={token}\r\n"),
            Nothing,
            says("carriage return"),
        ),
        case(
            "non-UTF-8 in the host",
            cat(&[b"protocol=https\nhost=bitbucket.org\xff\n"]),
            Nothing,
            says("not UTF-8"),
        ),
        case(
            "Latin-1 in the host",
            cat(&[b"protocol=https\nhost=bitbucket.\xf6rg\n"]),
            Nothing,
            says("not UTF-8"),
        ),
        case(
            "percent-encoded NUL in url=",
            "url=https://bitbucket.org%00.evil.example/\n",
            Nothing,
            says("not a URL git would send"),
        ),
        case(
            "percent-encoded line feed in url=",
            "url=https://bitbucket.org%0ahost=evil.example/\n",
            Nothing,
            says("not a URL git would send"),
        ),
        case(
            "url= that is no URL",
            "url=bitbucket.org\n",
            Nothing,
            says("not a URL git would send"),
        ),
        case(
            "a line of 65536 bytes",
            format!("{long_line}{REQUEST}"),
            Nothing,
            says("longer than 65535 bytes"),
        ),
        case(
            "a 10 MiB line",
            format!("{REQUEST}path={}\n", "a".repeat(ten_mib)),
            Nothing,
            says("longer than 65535 bytes"),
        ),
        case(
            "200 000 request lines (over 1 MiB)",
            REQUEST.repeat(100_000),
            Nothing,
            says("larger than"),
        ),
        case(
            "10 MiB of binary noise without a line feed",
            endless,
            Nothing,
            says("longer than 65535 bytes"),
        ),
        case(
            "10 MiB of binary noise in short lines",
            ignored_lines,
            Nothing,
            says("larger than"),
        ),
        case(
            "binary noise ending in a blank line, then a request",
            cat(&[
                &noise(4096, 3).replace_all(b'\n', b' '),
                b"\n\n",
                REQUEST.as_bytes(),
            ]),
            Nothing,
            quiet,
        ),
        // --- stdout closed before the helper writes ---
        Case {
            close_stdout: true,
            exit: 1,
            ..case(
                "stdout closed, an answer due",
                REQUEST,
                Nothing,
                says("could not answer git"),
            )
        },
        Case {
            close_stdout: true,
            ..case(
                "stdout closed, nothing to answer",
                https("evil.example"),
                Nothing,
                quiet,
            )
        },
        // --- store and erase that must not touch the stored tokens ---
        on(
            "erase",
            case(
                "erase for a longer name",
                https("evilbitbucket.org"),
                Nothing,
                quiet,
            ),
        ),
        on(
            "erase",
            case(
                "erase through a user-info look-alike",
                "url=https://bitbucket.org@evil.example/\n",
                Nothing,
                quiet,
            ),
        ),
        on(
            "erase",
            case(
                "erase of the right token on the wrong host",
                format!("{}password={token}\n", https("bitbucket.org.evil.example")),
                Nothing,
                quiet,
            ),
        ),
        on(
            "erase",
            case(
                "erase over plain http",
                format!("protocol=http\nhost=bitbucket.org\npassword={token}\n"),
                Nothing,
                quiet,
            ),
        ),
        on(
            "erase",
            case(
                "erase after a blank line",
                format!("\n{REQUEST}"),
                Nothing,
                quiet,
            ),
        ),
        on(
            "erase",
            case(
                "erase whose host changes after the password",
                format!("{REQUEST}password={token}\nhost=evil.example\n"),
                Nothing,
                quiet,
            ),
        ),
        on(
            "erase",
            case(
                "erase with a NUL after the token",
                format!("{REQUEST}password={token}\0\n"),
                Nothing,
                says("NUL"),
            ),
        ),
        on(
            "erase",
            case(
                "erase of another token",
                format!("{REQUEST}password={}\n", fake_api_token()),
                Nothing,
                quiet,
            ),
        ),
        on(
            "store",
            case(
                "store for a look-alike host",
                format!(
                    "{}password=ATATT3xFfGF0evil=00000000\n",
                    https("evilbitbucket.org")
                ),
                Nothing,
                quiet,
            ),
        ),
        on(
            "store",
            case(
                "store whose url= moves it to another host",
                format!("{REQUEST}password=ATATT3xFfGF0evil=00000000\nurl=https://evil.example/\n"),
                Nothing,
                quiet,
            ),
        ),
        on(
            "store",
            case(
                "store with a CR in the password",
                format!("{REQUEST}password=ATATT3xFfGF0evil=00000000\r\n"),
                Nothing,
                says("carriage return"),
            ),
        ),
        on(
            "store",
            case(
                "store of a 10 MiB password",
                format!("{REQUEST}password={}\n", "A".repeat(ten_mib)),
                Nothing,
                says("longer than 65535 bytes"),
            ),
        ),
        // --- and the tokens are still there: the erases above could have removed them ---
        case("still stored after all that", REQUEST, Bitbucket, quiet),
        case("the test host's too", https(TEST_HOST), TestHost, quiet),
        on(
            "erase",
            case(
                "erase of the stored token (control: erase works)",
                format!("{REQUEST}password={token}\n"),
                Nothing,
                says("removed from the"),
            ),
        ),
        case("gone after the real erase", REQUEST, UsernameOnly, quiet),
    ]
}

trait ReplaceAll {
    fn replace_all(self, from: u8, to: u8) -> Vec<u8>;
}

impl ReplaceAll for Vec<u8> {
    fn replace_all(mut self, from: u8, to: u8) -> Vec<u8> {
        self.iter_mut()
            .filter(|b| **b == from)
            .for_each(|b| *b = to);
        self
    }
}

/// A test HOME with its own store holding a token for bitbucket.org and one for [`TEST_HOST`].
struct Fixture {
    store: PrivateStore,
    args: Vec<String>,
    bitbucket: String,
    test_host: String,
}

impl Fixture {
    fn new(store: StoreUnderTest) -> Option<Fixture> {
        if !gnu_time_or_skip() {
            return None;
        }
        let fixture = Fixture {
            store: PrivateStore::new(store)?,
            args: vec![
                "--store".into(),
                store.flag().into(),
                "--host".into(),
                TEST_HOST.into(),
            ],
            bitbucket: fake_api_token(),
            test_host: fake_api_token(),
        };
        for (host, token) in [
            ("bitbucket.org", &fixture.bitbucket),
            (TEST_HOST, &fixture.test_host),
        ] {
            let args: Vec<&str> = fixture.args.iter().map(String::as_str).collect();
            fixture.store.env.typed(&args, &https(host), token);
        }
        Some(fixture)
    }

    fn expected(&self, answer: Answer) -> String {
        match answer {
            Answer::Nothing => String::new(),
            Answer::Bitbucket => format!("{USERNAME_LINE}password={}\n", self.bitbucket),
            Answer::TestHost => format!("{USERNAME_LINE}password={}\n", self.test_host),
            Answer::UsernameOnly => USERNAME_LINE.to_owned(),
            Answer::Quit => "quit=1\n".to_owned(),
        }
    }
}

fn hostile_requests_get_exactly_the_expected_answer(store: StoreUnderTest) {
    let Some(fixture) = Fixture::new(store) else {
        return;
    };
    let table = cases(&fixture.bitbucket);
    assert!(table.len() >= 40, "the table has {} cases", table.len());
    let mut failures = Vec::new();
    let mut peak = 0;
    for case in &table {
        let mut args: Vec<&str> = fixture.args.iter().map(String::as_str).collect();
        args.push(case.operation);
        let run = run_watched(&fixture.store.env, &args, &case.input, case.close_stdout);
        let what = format!("{store:?}: {} ({})", case.name, case.operation);
        run.assert_no_crash(&what);
        peak = peak.max(run.max_rss_kib);
        let stdout = String::from_utf8_lossy(&run.stdout);
        let mut wrong = Vec::new();
        if run.code() != case.exit {
            wrong.push(format!("exit {} instead of {}", run.code(), case.exit));
        }
        if stdout != fixture.expected(case.answer) {
            wrong.push(format!("stdout {stdout:?}, expected {:?}", case.answer));
        }
        match case.says {
            Says::Nothing if !run.stderr.is_empty() => {
                wrong.push(format!("stderr should be empty: {:?}", run.stderr));
            }
            Says::Mentions(text) if !run.stderr.contains(text) => {
                wrong.push(format!("stderr should mention {text:?}: {:?}", run.stderr));
            }
            _ => {}
        }
        if !run.stderr.is_empty()
            && !run
                .stderr
                .lines()
                .all(|l| l.starts_with("git-credential-bitbucket: "))
        {
            wrong.push(format!("stderr lines without the prefix: {:?}", run.stderr));
        }
        for token in [&fixture.bitbucket, &fixture.test_host] {
            if run.stderr.contains(token.as_str()) {
                wrong.push("a token in stderr".to_owned());
            }
        }
        if run.max_rss_kib > MAX_RSS_KIB {
            wrong.push(format!("peak memory {} KiB", run.max_rss_kib));
        }
        if !wrong.is_empty() {
            // Never print stdout when it holds a token the case did not expect: say so only.
            let wrong: Vec<String> = wrong
                .into_iter()
                .map(|w| {
                    if w.contains(fixture.bitbucket.as_str())
                        || w.contains(fixture.test_host.as_str())
                    {
                        "stdout holds a token it should not".to_owned()
                    } else {
                        w
                    }
                })
                .collect();
            failures.push(format!("{what}: {}", wrong.join("; ")));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        table.len(),
        failures.join("\n")
    );
    assert!(peak > 0, "GNU time measured nothing");
}

on_every_store!(hostile_requests_get_exactly_the_expected_answer);
