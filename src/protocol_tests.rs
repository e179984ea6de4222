//! Exact-bytes tests of the wire format.

use super::*;

fn decode_str(input: &str) -> Result<Request, DecodeError> {
    decode(input.as_bytes())
}

fn encode_to_string(response: &Response) -> String {
    let mut out = Vec::new();
    response.encode(&mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn decodes_what_git_sends_for_get() {
    let request = decode_str(
        "capability[]=authtype\ncapability[]=state\nprotocol=https\nhost=bitbucket.org\n\
         wwwauth[]=Basic realm=\"Bitbucket.org HTTP\"\n\n",
    )
    .unwrap();
    assert_eq!(request.protocol.as_deref(), Some("https"));
    assert_eq!(request.host.as_deref(), Some("bitbucket.org"));
    assert_eq!(request.capabilities, ["authtype", "state"]);
    assert_eq!(request.wwwauth, ["Basic realm=\"Bitbucket.org HTTP\""]);
    assert!(request.username.is_none() && request.password.is_none() && request.path.is_none());
}

#[test]
fn decodes_the_other_credential_an_erase_may_name() {
    let request = decode_str(
        "capability[]=authtype\nauthtype=Bearer\ncredential=not-ours\nprotocol=https\n\
         host=bitbucket.org\n\n",
    )
    .unwrap();
    assert_eq!(request.authtype.as_deref(), Some("Bearer"));
    assert_eq!(request.credential.as_ref().unwrap().expose(), "not-ours");
    assert!(request.names_another_credential());
    let plain = decode_str("protocol=https\nhost=bitbucket.org\nauthtype=\n").unwrap();
    assert!(
        !plain.names_another_credential(),
        "control: an empty one names none"
    );
}

#[test]
fn splits_on_the_first_equals_sign_so_tokens_keep_theirs() {
    let request = decode_str("password=ATATTabc==DEADBEEF\nusername=a=b\n").unwrap();
    assert_eq!(request.password.unwrap().expose(), "ATATTabc==DEADBEEF");
    assert_eq!(request.username.as_deref(), Some("a=b"));
}

#[test]
fn stops_at_the_blank_line() {
    let request = decode_str("protocol=https\n\nhost=evil.example\n").unwrap();
    assert_eq!(request.host, None);
}

#[test]
fn accepts_a_missing_final_newline() {
    let request = decode_str("protocol=https\nhost=bitbucket.org").unwrap();
    assert_eq!(request.host.as_deref(), Some("bitbucket.org"));
}

#[test]
fn ignores_unknown_keys_and_lines_without_equals() {
    let request = decode_str("future=1\nnonsense\nstate[]=x\nhost=bitbucket.org\n").unwrap();
    assert_eq!(request.host.as_deref(), Some("bitbucket.org"));
}

#[test]
fn later_keys_override_earlier_ones_in_input_order() {
    let request = decode_str("host=bitbucket.org\nhost=evil.example\n").unwrap();
    assert_eq!(request.host.as_deref(), Some("evil.example"));
}

#[test]
fn url_replaces_earlier_fields_and_later_fields_override_it() {
    let request = decode_str(
        "protocol=http\nhost=evil.example\npath=x\nurl=https://bitbucket.org/ws/r.git\n",
    )
    .unwrap();
    assert_eq!(request.protocol.as_deref(), Some("https"));
    assert_eq!(request.host.as_deref(), Some("bitbucket.org"));
    assert_eq!(request.path.as_deref(), Some("ws/r.git"));

    let request = decode_str("url=https://bitbucket.org/ws/r.git\nhost=evil.example\n").unwrap();
    assert_eq!(request.host.as_deref(), Some("evil.example"));
    assert_eq!(request.path.as_deref(), Some("ws/r.git"));
}

#[test]
fn url_userinfo_follows_gits_first_at_and_first_colon_rules() {
    let request = decode_str("url=https://me:p%40ss@bitbucket.org/ws/\n").unwrap();
    assert_eq!(request.username.as_deref(), Some("me"));
    assert_eq!(request.password.unwrap().expose(), "p@ss");
    assert_eq!(request.path.as_deref(), Some("ws"));

    let request = decode_str("url=https://bitbucket.org@evil.example/\n").unwrap();
    assert_eq!(request.username.as_deref(), Some("bitbucket.org"));
    assert_eq!(request.host.as_deref(), Some("evil.example"));

    let request = decode_str("url=https://evil.example?@bitbucket.org/\n").unwrap();
    assert_eq!(request.host.as_deref(), Some("evil.example"));
    assert_eq!(request.username, None);
}

#[test]
fn url_without_scheme_or_with_encoded_newline_is_refused() {
    assert!(matches!(
        decode_str("url=bitbucket.org/ws\n"),
        Err(DecodeError::BadUrl { line: 1 })
    ));
    assert!(matches!(
        decode_str("protocol=https\nurl=https://bitbucket.org%0a/\n"),
        Err(DecodeError::BadUrl { line: 2 })
    ));
}

#[test]
fn an_empty_list_value_resets_the_list() {
    let request = decode_str("capability[]=authtype\ncapability[]=\ncapability[]=state\n").unwrap();
    assert_eq!(request.capabilities, ["state"]);
}

#[test]
fn nul_or_cr_in_a_known_value_makes_the_request_unanswerable_without_echoing_it() {
    let err = decode_str("protocol=https\npassword=sec\rret\n").unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains("line 2") && message.contains("`password`"),
        "{message}"
    );
    assert!(!message.contains("sec"), "{message}");
    assert!(decode_str("host=bitbucket.org\0\n").is_err());
    // An unknown key may carry anything: git would ignore it, and so do we.
    assert!(decode_str("other=\r\0\nhost=bitbucket.org\n").is_ok());
}

#[test]
fn non_utf8_in_a_known_value_is_refused_and_elsewhere_ignored() {
    assert!(matches!(
        decode(&b"host=bit\xffbucket.org\n"[..]),
        Err(DecodeError::NotUtf8 { line: 1, .. })
    ));
    assert!(decode(&b"\xff\xfe=1\nhost=bitbucket.org\n"[..]).is_ok());
}

#[test]
fn a_line_of_exactly_the_limit_is_read_and_one_byte_more_is_refused() {
    let fits = format!("path={}\n", "a".repeat(MAX_LINE - 5));
    assert_eq!(decode_str(&fits).unwrap().path.unwrap().len(), MAX_LINE - 5);
    let too_long = format!("path={}\n", "a".repeat(MAX_LINE - 4));
    assert!(matches!(
        decode_str(&too_long),
        Err(DecodeError::LineTooLong { line: 1 })
    ));
}

#[test]
fn a_request_larger_than_the_limit_is_refused_not_truncated() {
    let many = "x=y\n".repeat(MAX_REQUEST / 4 + 1) + "host=bitbucket.org\n";
    assert!(matches!(decode_str(&many), Err(DecodeError::TooLarge)));
}

#[test]
fn lists_are_capped() {
    let many = "wwwauth[]=Basic\n".repeat(1000);
    assert_eq!(decode_str(&many).unwrap().wwwauth.len(), 64);
}

#[test]
fn encodes_exact_bytes_in_a_fixed_order() {
    let response = Response {
        username: Some("x-bitbucket-api-token-auth".into()),
        password: Some(Token::new("ATATTabc=0123ABCD".into())),
        password_expiry_utc: Some(1_800_000_000),
        quit: false,
    };
    assert_eq!(
        encode_to_string(&response),
        "username=x-bitbucket-api-token-auth\npassword=ATATTabc=0123ABCD\n\
         password_expiry_utc=1800000000\n"
    );
    let quit = Response {
        quit: true,
        ..Response::default()
    };
    assert_eq!(encode_to_string(&quit), "quit=1\n");
    assert_eq!(encode_to_string(&Response::default()), "");
}

#[test]
fn encoding_refuses_values_that_would_inject_attributes() {
    for bad in ["a\nhost=evil", "a\rb", "a\0b"] {
        let response = Response {
            username: Some("x".into()),
            password: Some(Token::new(bad.into())),
            ..Response::default()
        };
        let mut out = Vec::new();
        let err = response.encode(&mut out).unwrap_err();
        assert!(err.to_string().contains("`password`"));
        assert!(out.is_empty(), "nothing is written when any value is bad");
    }
}

#[test]
fn decode_of_encoded_fields_round_trips() {
    let response = Response {
        username: Some("x-bitbucket-api-token-auth".into()),
        password: Some(Token::new("ATATT=x=y".into())),
        ..Response::default()
    };
    let request = decode_str(&encode_to_string(&response)).unwrap();
    assert_eq!(request.username, response.username);
    assert_eq!(request.password.unwrap().expose(), "ATATT=x=y");
}
