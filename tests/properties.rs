//! Properties of the wire format and of the host policy, over inputs proptest generates, plus a
//! stable-Rust run of the fuzz target (fuzz/src/target.rs) over its seed corpus and mutations.
//!
//! - what git would send decodes to exactly what it says (a request encoded here from its
//!   fields, or from raw `key=value` lines against a model of git's rules);
//! - an answer the helper encodes decodes back to itself, and a value with a line break is
//!   never written;
//! - any bytes at all decode or fail cleanly, never panic, and decode to values without LF, CR
//!   or NUL;
//! - `Helper::run` hands a token only for bitbucket.org over https, whatever the request says
//!   about other hosts (and does hand it for every spelling of bitbucket.org it accepts).

use std::cell::Cell;

use git_credential_bitbucket::environment::EnvironmentToken;
use git_credential_bitbucket::helper::{Helper, Operation, Recheck};
use git_credential_bitbucket::policy::{HostKey, ServedHosts};
use git_credential_bitbucket::protocol::{Request, Response, decode};
use git_credential_bitbucket::store::memory::MemoryStore;
use git_credential_bitbucket::store::{EntryKey, Keychain};
use git_credential_bitbucket::token::Token;
use proptest::prelude::*;

#[path = "../fuzz/src/target.rs"]
mod fuzz_target;

/// Text git could put in a value: anything but LF, CR and NUL.
fn value() -> impl Strategy<Value = String> {
    "[^\n\r\x00]{0,40}"
}

fn non_empty_value() -> impl Strategy<Value = String> {
    "[^\n\r\x00]{1,40}"
}

/// A request with only what the helper keeps, each field possibly absent.
#[derive(Debug, Clone, PartialEq)]
struct Fields {
    protocol: Option<String>,
    host: Option<String>,
    path: Option<String>,
    username: Option<String>,
    password: Option<String>,
    capabilities: Vec<String>,
    wwwauth: Vec<String>,
    authtype: Option<String>,
    credential: Option<String>,
}

fn fields() -> impl Strategy<Value = Fields> {
    (
        proptest::option::of(value()),
        proptest::option::of(value()),
        proptest::option::of(value()),
        proptest::option::of(value()),
        proptest::option::of(value()),
        proptest::collection::vec(non_empty_value(), 0..8),
        proptest::collection::vec(non_empty_value(), 0..8),
        proptest::option::of(value()),
        proptest::option::of(value()),
    )
        .prop_map(
            |(
                protocol,
                host,
                path,
                username,
                password,
                capabilities,
                wwwauth,
                authtype,
                credential,
            )| Fields {
                protocol,
                host,
                path,
                username,
                password,
                capabilities,
                wwwauth,
                authtype,
                credential,
            },
        )
}

/// The lines git would write for these fields (git-credential(1)), ending in a blank line.
fn encode_request(fields: &Fields) -> Vec<u8> {
    let Fields {
        protocol,
        host,
        path,
        username,
        password,
        capabilities,
        wwwauth,
        authtype,
        credential,
    } = fields;
    let mut out = String::new();
    for c in capabilities {
        out.push_str(&format!("capability[]={c}\n"));
    }
    for (key, value) in [
        ("protocol", protocol),
        ("host", host),
        ("path", path),
        ("username", username),
        ("password", password),
        ("authtype", authtype),
        ("credential", credential),
    ] {
        if let Some(value) = value {
            out.push_str(&format!("{key}={value}\n"));
        }
    }
    for w in wwwauth {
        out.push_str(&format!("wwwauth[]={w}\n"));
    }
    out.push('\n');
    out.into_bytes()
}

fn fields_of(request: Request) -> Fields {
    let Request {
        protocol,
        host,
        path,
        username,
        password,
        capabilities,
        wwwauth,
        authtype,
        credential,
    } = request;
    Fields {
        protocol,
        host,
        path,
        username,
        password: password.map(|p| p.expose().to_owned()),
        capabilities,
        wwwauth,
        authtype,
        credential: credential.map(|c| c.expose().to_owned()),
    }
}

/// A `key=value` line from a small set of keys, so that keys repeat and lists reset.
fn line() -> impl Strategy<Value = (String, String)> {
    let key = prop_oneof![
        Just("protocol"),
        Just("host"),
        Just("path"),
        Just("username"),
        Just("password"),
        Just("authtype"),
        Just("credential"),
        Just("capability[]"),
        Just("wwwauth[]"),
        Just("state[]"),
        Just("future"),
    ];
    (key, prop_oneof![Just(String::new()), value()]).prop_map(|(k, v)| (k.to_owned(), v))
}

/// git's rules for a request made of `lines` (no `url=`): the last scalar wins, lists grow and
/// an empty value resets them, unknown keys are ignored.
fn model(lines: &[(String, String)]) -> Fields {
    let mut m = Fields {
        protocol: None,
        host: None,
        path: None,
        username: None,
        password: None,
        capabilities: Vec::new(),
        wwwauth: Vec::new(),
        authtype: None,
        credential: None,
    };
    for (key, value) in lines {
        let v = Some(value.clone());
        match key.as_str() {
            "protocol" => m.protocol = v,
            "host" => m.host = v,
            "path" => m.path = v,
            "username" => m.username = v,
            "password" => m.password = v,
            "authtype" => m.authtype = v,
            "credential" => m.credential = v,
            "capability[]" | "wwwauth[]" => {
                let list = if key == "wwwauth[]" {
                    &mut m.wwwauth
                } else {
                    &mut m.capabilities
                };
                if value.is_empty() {
                    list.clear();
                } else {
                    list.push(value.clone());
                }
            }
            _ => {}
        }
    }
    m
}

/// Pieces of hosts and requests an attacker would combine.
fn hostile_host() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("bitbucket.org"),
        Just("BitBucket.ORG"),
        Just("bitbucket"),
        Just(".org"),
        Just("evil"),
        Just(".example"),
        Just("@"),
        Just(":"),
        Just(":443"),
        Just(":8443"),
        Just("%2e"),
        Just("%40"),
        Just("."),
        Just("/"),
        Just("?"),
        Just("#"),
        Just("о"),
        Just("xn--"),
        Just(" "),
        Just("api."),
    ];
    proptest::collection::vec(piece, 1..6).prop_map(|p| p.concat())
}

fn hostile_request() -> impl Strategy<Value = String> {
    let protocol = prop_oneof![
        Just("https"),
        Just("HTTPS"),
        Just("http"),
        Just("ssh"),
        Just(""),
        Just("https "),
    ];
    let line = prop_oneof![
        (protocol, hostile_host()).prop_map(|(p, h)| format!("protocol={p}\nhost={h}\n")),
        hostile_host().prop_map(|h| format!("host={h}\n")),
        (prop_oneof![Just("https"), Just("http")], hostile_host())
            .prop_map(|(p, h)| format!("url={p}://{h}/ws/repo.git\n")),
        hostile_host().prop_map(|h| format!("path={h}\n")),
        Just("\n".to_owned()),
        Just("password=ATATT3xFfGF0other=00000000\n".to_owned()),
    ];
    proptest::collection::vec(line, 1..5).prop_map(|l| l.concat())
}

const STORED: &str = "ATATT3xFfGF0property-stored=0BADC0DE";

/// `get` for `input` over an in-memory store holding [`STORED`] for bitbucket.org; the answer's
/// password, if any.
fn get_over_memory(request: &Request) -> Option<String> {
    let store = MemoryStore::default();
    let key = EntryKey::host(HostKey::parse("bitbucket.org").unwrap());
    store
        .keychain()
        .set(&key, &Token::new(STORED.to_owned()))
        .unwrap();
    let opened = Cell::new(false);
    let open = || {
        opened.set(true);
        Ok(store.open())
    };
    let hosts = ServedHosts::new(&[]).unwrap();
    let recheck = |_: &str, _: &Token| Recheck::Unknown("get asks no one".to_owned());
    let helper = Helper {
        hosts: &hosts,
        env_token: EnvironmentToken::default(),
        open_store: &open,
        recheck: &recheck,
        now: 0,
        ci: false,
    };
    let outcome = helper.run(Operation::Get, request);
    outcome
        .response
        .and_then(|r| r.password)
        .map(|p| p.expose().to_owned())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn a_request_git_would_send_decodes_to_exactly_its_fields(fields in fields()) {
        let decoded = decode(encode_request(&fields).as_slice()).expect("a valid request");
        prop_assert_eq!(fields_of(decoded), fields);
    }

    #[test]
    fn key_value_lines_decode_as_git_reads_them(lines in proptest::collection::vec(line(), 0..24)) {
        let mut input = String::new();
        for (k, v) in &lines {
            input.push_str(&format!("{k}={v}\n"));
        }
        let decoded = decode(input.as_bytes()).expect("valid lines");
        prop_assert_eq!(fields_of(decoded), model(&lines));
    }

    #[test]
    fn an_answer_decodes_back_to_itself(
        username in proptest::option::of(value()),
        password in proptest::option::of(value()),
        expiry in proptest::option::of(any::<u64>()),
        quit in any::<bool>(),
    ) {
        let response = Response {
            username: username.clone(),
            password: password.clone().map(Token::new),
            password_expiry_utc: expiry,
            quit,
        };
        let mut bytes = Vec::new();
        response.encode(&mut bytes).expect("valid values encode");
        let back = decode(bytes.as_slice()).expect("our answer decodes");
        prop_assert_eq!(back.username, username);
        prop_assert_eq!(back.password.map(|p| p.expose().to_owned()), password);
        let text = String::from_utf8(bytes).expect("UTF-8");
        prop_assert_eq!(text.contains("quit=1\n"), quit);
        prop_assert_eq!(expiry.is_some_and(|e| text.contains(&format!("password_expiry_utc={e}\n"))), expiry.is_some());
    }

    #[test]
    fn a_value_with_a_line_break_or_nul_is_never_written(
        before in value(),
        bad in prop_oneof![Just('\n'), Just('\r'), Just('\0')],
        after in value(),
        in_password in any::<bool>(),
    ) {
        let evil = format!("{before}{bad}{after}");
        let response = if in_password {
            Response { password: Some(Token::new(evil)), ..Response::default() }
        } else {
            Response { username: Some(evil), ..Response::default() }
        };
        let mut bytes = Vec::new();
        prop_assert!(response.encode(&mut bytes).is_err());
        prop_assert!(bytes.is_empty(), "nothing at all is written");
    }

    /// The fuzz target's own checks (fuzz/src/target.rs): every decoded value, secrets and
    /// `authtype` included, is free of LF, CR and NUL; lists are capped; and `get`, `store` and
    /// `erase` on what decodes keep the store's rules.
    #[test]
    fn any_bytes_decode_cleanly_or_fail_without_panicking(
        bytes in prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..2048),
            hostile_request().prop_map(String::into_bytes),
        ]
    ) {
        fuzz_target::run(&bytes);
    }

    #[test]
    fn a_token_goes_only_to_bitbucket_org_over_https(input in hostile_request()) {
        let Ok(request) = decode(input.as_bytes()) else { return Ok(()) };
        let answer = get_over_memory(&request);
        // Both ways: refused for every other host, and handed out for every spelling of
        // bitbucket.org the documentation promises to serve.
        prop_assert_eq!(
            answer.is_some(),
            fuzz_target::is_bitbucket_over_https(&request),
            "request {:?}", input
        );
        if let Some(token) = answer {
            prop_assert_eq!(token, STORED);
        }
    }
}

/// The same target as `cargo fuzz` runs, on stable Rust: every seed in fuzz/corpus/decode, then
/// mutations of them (byte flips, insertions of interesting bytes and words, splices). By
/// default a few thousand; `GCB_FUZZ_ITERATIONS=N` or `GCB_FUZZ_SECONDS=S` (scripts/fuzz.sh
/// without nightly) run longer.
#[test]
#[allow(clippy::print_stderr, reason = "reports how much was run")]
fn the_fuzz_target_survives_its_corpus_and_mutations_of_it() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/decode");
    let mut seeds: Vec<Vec<u8>> = std::fs::read_dir(&dir)
        .expect("fuzz/corpus/decode")
        .map(|e| std::fs::read(e.expect("entry").path()).expect("seed"))
        .collect();
    seeds.sort();
    assert!(seeds.len() >= 10, "the seed corpus is there");
    for seed in &seeds {
        fuzz_target::run(seed);
    }
    let iterations: u64 = std::env::var("GCB_FUZZ_ITERATIONS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3000);
    let deadline = std::env::var("GCB_FUZZ_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map(|s| std::time::Instant::now() + std::time::Duration::from_secs(s));
    let mut rng = XorShift(0x9E37_79B9_7F4A_7C15);
    let mut runs = 0u64;
    while match deadline {
        Some(d) => std::time::Instant::now() < d,
        None => runs < iterations,
    } {
        let mut input = seeds[rng.below(seeds.len())].clone();
        for _ in 0..=rng.below(4) {
            mutate(&mut input, &seeds, &mut rng);
        }
        fuzz_target::run(&input);
        runs += 1;
    }
    eprintln!(
        "fuzz target: {} seeds and {runs} mutations ran clean",
        seeds.len()
    );
}

struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const WORDS: &[&[u8]] = &[
    b"\n",
    b"\n\n",
    b"=",
    b"\0",
    b"\r",
    b"\xff",
    b"%",
    b"%00",
    b"%0a",
    b"@",
    b":",
    b":443",
    b"/",
    b"://",
    b"url=https://",
    b"host=",
    b"protocol=https\n",
    b"password=",
    b"path=",
    b"capability[]=",
    b"wwwauth[]=",
    b"bitbucket.org",
    b"BITBUCKET.ORG",
    b"evil.example",
];

fn mutate(input: &mut Vec<u8>, seeds: &[Vec<u8>], rng: &mut XorShift) {
    let at = rng.below(input.len() + 1);
    match rng.below(5) {
        0 if !input.is_empty() => {
            let i = rng.below(input.len());
            input[i] ^= 1 << rng.below(8);
        }
        1 => {
            let word = WORDS[rng.below(WORDS.len())];
            input.splice(at..at, word.iter().copied());
        }
        2 if !input.is_empty() => {
            let end = (at + rng.below(16)).min(input.len());
            input.drain(at.min(end)..end);
        }
        3 => {
            let other = &seeds[rng.below(seeds.len())];
            let from = rng.below(other.len() + 1);
            input.splice(at..at, other[from..].iter().copied().take(256));
        }
        _ => input.insert(at.min(input.len()), (rng.next() >> 32) as u8),
    }
}
