//! doctor's checks of git's configuration: which helpers git asks for `https://bitbucket.org`
//! and in which files they stand, whether git still runs ours with cron's PATH, and one FAIL
//! for every place a Bitbucket secret sits in plain text (from the scan `migrate` shares),
//! each with its fix.

use super::{Check, FIX_MIGRATE, FIX_SETUP, Level, check};
use crate::commands::shell::shell_quote;
use crate::policy::refusal;
use crate::scan::helpers::Helper;
use crate::scan::secrets::shown_key;
use crate::scan::{Finding, Origin, Scan, Spot};
use crate::token::TokenKind;

/// The helpers git asks for `scope` (`https://bitbucket.org`), in order: ours must be there,
/// first, and last.
pub(super) fn helper_order(scan: &Scan, scope: &str) -> Vec<Check> {
    let order = scan.helper_order(scope);
    let Some(ours) = order.ours() else {
        if let Some(reset) = &order.reset_after_ours {
            return vec![check(
                Level::Fail,
                format!(
                    "an empty {} in {} switches git-credential-bitbucket off for \
                     {scope}",
                    reset.key, reset.origin
                ),
                Some(&remove_from(reset, "the empty value")),
            )];
        }
        return vec![check(
            Level::Fail,
            format!("git does not use git-credential-bitbucket for {scope}"),
            Some(FIX_SETUP),
        )];
    };
    let mut checks = Vec::new();
    if ours > 0 {
        let before: Vec<String> = order.helpers[..ours]
            .iter()
            .map(|h| format!("{} (in {})", h.name(), h.origin))
            .collect();
        checks.push(check(
            Level::Fail,
            format!(
                "git asks {} before git-credential-bitbucket for {scope}; it \
                 can answer with a stale app password",
                before.join(", ")
            ),
            Some(FIX_SETUP),
        ));
    }
    let our_origin = &order.helpers[ours].origin;
    for after in order.after_ours() {
        let fix = if &after.origin == our_origin {
            setup_in(our_origin)
        } else {
            remove_from(after, "it")
        };
        checks.push(check(
            Level::Fail,
            format!(
                "{} ({} in {}) comes after git-credential-bitbucket (in {our_origin}): git hands \
                 it the token on every `store`, and a storing helper writes it down",
                after.name(),
                shown_key(&after.key),
                after.origin
            ),
            Some(&fix),
        ));
    }
    if checks.is_empty() {
        checks.push(check(
            Level::Pass,
            format!(
                "git asks git-credential-bitbucket first and only for {scope} \
                 ({our_origin})"
            ),
            None,
        ));
    }
    #[cfg(unix)]
    checks.push(super::cron_path::git_finds_helper(
        &order.helpers[ours],
        &setup_in(our_origin),
    ));
    checks
}

/// `setup` for the file our section is in.
fn setup_in(origin: &Origin) -> String {
    let home_config = std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".gitconfig"));
    match origin {
        Origin::File(path) if Some(path) == home_config.as_ref() => FIX_SETUP.to_owned(),
        Origin::File(path) => format!(
            "git-credential-bitbucket setup --file {}   (moves its section to the end)",
            shell_quote(&path.to_string_lossy())
        ),
        Origin::Elsewhere(_) => FIX_SETUP.to_owned(),
    }
}

/// How to take a helper entry out of the file it is in.
fn remove_from(helper: &Helper, what: &str) -> String {
    match &helper.origin {
        Origin::File(path) => format!(
            "remove {what} from {}: git config --file {} --unset-all {} {}",
            path.display(),
            shell_quote(&path.to_string_lossy()),
            shown_key(&helper.key),
            if helper.value.is_empty() { "'^$'" } else { "" }
        )
        .trim_end()
        .to_owned(),
        Origin::Elsewhere(what_config) => format!(
            "remove {what} from git's {what_config} configuration (-c, GIT_CONFIG_PARAMETERS, \
             GIT_CONFIG_COUNT)"
        ),
    }
}

/// One FAIL per secret found, or one PASS.
pub(super) fn leaks(scan: &Scan) -> Vec<Check> {
    let mut checks: Vec<Check> = scan
        .findings
        .iter()
        .map(|finding| {
            check(
                Level::Fail,
                format!(
                    "{finding} holds a Bitbucket {} ({}): {}",
                    finding.secret.kind.label(),
                    finding.secret.fingerprint,
                    why(finding)
                ),
                Some(&fix_for(finding)),
            )
        })
        .collect();
    if checks.is_empty() {
        let place = if scan.repository.is_some() {
            "git's configuration (this repository, its submodules, global, system), \
             git-credentials files"
        } else {
            "git's configuration (global, system; not in a repository), git-credentials files"
        };
        checks.push(check(
            Level::Pass,
            format!("no Bitbucket secret in {place}"),
            None,
        ));
    }
    checks
}

fn why(finding: &Finding) -> &'static str {
    if finding.secret.kind == TokenKind::AppPassword {
        return "app passwords no longer work, and it sits in plain text";
    }
    match finding.spot {
        Spot::UrlValue { .. } => "it leaks through `git remote -v`, config files and logs",
        Spot::RewriteBase { .. } => "git puts it into every URL it rewrites, in plain text",
        Spot::Header { .. } => "git sends it on every request, and it sits in plain text",
        Spot::CredentialLine { .. } => "it sits in plain text",
    }
}

/// `migrate` where it can act; otherwise exactly what to change.
fn fix_for(finding: &Finding) -> String {
    let movable =
        refusal(finding.secret.kind).is_none() || finding.secret.kind == TokenKind::AppPassword;
    match &finding.origin {
        Origin::Elsewhere(what) => format!(
            "remove it from git's {what} configuration (-c, GIT_CONFIG_PARAMETERS, \
             GIT_CONFIG_COUNT) and use git-credential-bitbucket login"
        ),
        Origin::File(_) if movable => FIX_MIGRATE.to_owned(),
        Origin::File(path) => format!(
            "this helper does not serve a {}: remove it from {} and keep it in your CI's secret \
             store",
            finding.secret.kind.label(),
            path.display()
        ),
    }
}
