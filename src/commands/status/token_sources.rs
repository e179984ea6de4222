//! What `status` says about the token the environment gives: every source in the order `get`
//! tries them (the variable, the file, the systemd credential, then the store), what each
//! holds (kind and fingerprint, a file's mode), and which one git uses. Masked, like the rest.

use crate::environment::token_source::{
    CREDENTIAL_NAME, Found, Given, Resolved, Source, Survey, TOKEN_ENV, TOKEN_FILE_ENV,
};
use crate::token::TokenKind;

/// The token `get` would take from the environment: one it reads and Bitbucket may take.
pub(super) fn usable(survey: &Survey) -> Option<&Given> {
    match &survey.resolved {
        Resolved::Given(given) if given.refusal().is_none() => {
            // The survey's own entry, so callers see the file's mode too.
            survey
                .found
                .iter()
                .flatten()
                .find(|g| g.source == given.source)
        }
        _ => None,
    }
}

/// One line per source, in order, then which one git uses.
pub(super) fn plain(survey: &Survey) -> String {
    let mut text = String::new();
    for (label, kind) in LABELS {
        let line = match found_of(survey, kind) {
            None => "not set".to_owned(),
            Some(Err(unreadable)) => format!("not used: {}", unreadable.error),
            Some(Ok(given)) => {
                let path = given
                    .source
                    .path()
                    .map(|p| format!("{} ", p.display()))
                    .unwrap_or_default();
                format!("{path}({})", facts(given).join(", "))
            }
        };
        text.push_str(&format!("{label}: {line}\n"));
    }
    let uses = match (&survey.resolved, usable(survey)) {
        (_, Some(given)) => format!("{}, before any store", given.source.describe()),
        (Resolved::Nothing, None) => "the store".to_owned(),
        (Resolved::Unusable(why), None) => format!("the store, because {why}"),
        (Resolved::Given(given), None) => format!(
            "the store: {} holds a {}, which is never sent",
            given.source.describe(),
            TokenKind::of_token(&given.token).label()
        ),
    };
    text.push_str(&format!(
        "git uses: {uses} (order: {TOKEN_ENV}, {TOKEN_FILE_ENV}, systemd credential \
         {CREDENTIAL_NAME}, store)\n"
    ));
    text
}

/// `env_token`: what `get` takes from the environment.
pub(super) fn json_resolved(survey: &Survey) -> serde_json::Value {
    match &survey.resolved {
        Resolved::Nothing => serde_json::json!({ "set": false }),
        Resolved::Unusable(why) => serde_json::json!({
            "set": true,
            "usable": false,
            "problem": why,
        }),
        Resolved::Given(given) => {
            let mut value = json_given(given);
            value["set"] = true.into();
            value["usable"] = usable(survey).is_some().into();
            value
        }
    }
}

/// `token_sources`: every source, in the order `get` tries them.
pub(super) fn json_sources(survey: &Survey) -> serde_json::Value {
    let sources: Vec<serde_json::Value> = LABELS
        .iter()
        .map(|(_, kind)| match found_of(survey, kind) {
            None => serde_json::json!({ "source": kind, "set": false }),
            Some(Err(unreadable)) => serde_json::json!({
                "source": kind,
                "set": true,
                "path": unreadable.source.path().map(|p| p.display().to_string()),
                "problem": unreadable.error.to_string(),
            }),
            Some(Ok(given)) => {
                let mut value = json_given(given);
                value["set"] = true.into();
                value
            }
        })
        .collect();
    sources.into()
}

/// Each source's name for people, and its `kind` for scripts, in the order they count.
const LABELS: [(&str, &str); 3] = [
    (TOKEN_ENV, "variable"),
    (TOKEN_FILE_ENV, "file"),
    ("systemd credential", "systemd-credential"),
];

fn found_of<'s>(survey: &'s Survey, kind: &str) -> Option<&'s Found> {
    survey.found.iter().find(|found| {
        let source: &Source = match found {
            Ok(given) => &given.source,
            Err(unreadable) => &unreadable.source,
        };
        source.kind() == kind
    })
}

/// Kind, fingerprint and, for a file, its mode (and whether every user may read it).
fn facts(given: &Given) -> Vec<String> {
    let mut facts = vec![
        TokenKind::of_token(&given.token).label().to_owned(),
        given.token.fingerprint(),
    ];
    if let Some(mode) = given.mode {
        let readable = match mode & 0o004 {
            0 => "",
            _ => ": readable by every user",
        };
        facts.push(format!("mode {mode:o}{readable}"));
    }
    facts
}

fn json_given(given: &Given) -> serde_json::Value {
    serde_json::json!({
        "source": given.source.kind(),
        "path": given.source.path().map(|p| p.display().to_string()),
        "kind": TokenKind::of_token(&given.token).label(),
        "fingerprint": given.token.fingerprint(),
        "mode": given.mode.map(|m| format!("{m:o}")),
    })
}
