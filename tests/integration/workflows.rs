//! The GitHub Actions workflows cannot run here, so actionlint checks them: syntax, expression
//! types, runner labels, and script injection. scripts/test.sh installs it into
//! target/tools/actionlint; a broken workflow beside the real ones shows the linter does fail.
//! The workflow tier ([`crate::support::tier`]): a plain `cargo test` says it did not run.
//!
//! Every action is pinned by a full commit, so a moved tag cannot change what CI runs; a test
//! of the fast tier holds the workflows to that. (actionlint knows the inputs of an action by its
//! version tag only, so it no longer checks the inputs given to the pinned ones.)

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::tier::{self, SlowTier};
use crate::support::{Output, skip_or_panic};

const WORKFLOWS: [&str; 2] = ["ci.yml", "release.yml"];

fn workflow(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(".github/workflows")
        .join(name)
}

/// actionlint from scripts/test.sh's virtualenv, else from PATH.
fn actionlint() -> Option<PathBuf> {
    let installed =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("target/tools/actionlint/bin/actionlint");
    if installed.is_file() {
        return Some(installed);
    }
    let on_path = std::env::var_os("PATH")?;
    std::env::split_paths(&on_path)
        .map(|dir| dir.join("actionlint"))
        .find(|candidate| candidate.is_file())
}

fn lint(files: &[PathBuf]) -> Option<Output> {
    let Some(actionlint) = actionlint() else {
        skip_or_panic("actionlint", "run scripts/test.sh, which installs it");
        return None;
    };
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    // No shellcheck: its verdicts would depend on what this machine has installed.
    Some(Output::run(
        Command::new(actionlint)
            .args(["-shellcheck=", "-pyflakes="])
            .args(files)
            .current_dir(root),
        "",
    ))
}

#[test]
fn the_ci_and_release_workflows_pass_actionlint_and_a_broken_one_does_not() {
    if !tier::asked_for(SlowTier::Workflows) {
        return;
    }
    let workflows = WORKFLOWS.map(workflow);
    let Some(out) = lint(&workflows) else { return };
    out.assert_success();

    let scratch = tempfile::tempdir().expect("tempdir");
    let broken = scratch.path().join("broken.yml");
    let ci = std::fs::read_to_string(&workflows[0]).expect("read ci.yml");
    // An input actions/checkout does not have (named by its tag, so actionlint knows its
    // inputs), and an injectable expression in a script.
    let ci = ci.replacen(
        "    steps:\n",
        "    steps:\n      - uses: actions/checkout@v6\n        with:\n          no-such-input: true\n      \
         - run: echo ${{ github.event.pull_request.title }}\n",
        1,
    );
    std::fs::write(&broken, ci).expect("write broken workflow");
    let out = lint(&[broken]).expect("actionlint was found above");
    out.assert_failure();
    assert!(
        out.stdout.contains("no-such-input") && out.stdout.contains("untrusted"),
        "{out:?}"
    );
}

/// One `uses:` line: the action, the ref after its `@`, and the comment after ` # `.
struct Uses<'a> {
    line: &'a str,
    action: &'a str,
    reference: &'a str,
    comment: &'a str,
}

fn uses(text: &str) -> Vec<Uses<'_>> {
    text.lines()
        .filter_map(|line| {
            let step = line.trim_start();
            let used = step
                .strip_prefix("- ")
                .unwrap_or(step)
                .strip_prefix("uses:")?;
            let (used, comment) = used.trim().split_once(" # ").unwrap_or((used.trim(), ""));
            let (action, reference) = used.split_once('@').unwrap_or((used, ""));
            Some(Uses {
                line: line.trim(),
                action,
                reference,
                comment,
            })
        })
        .collect()
}

/// Pinned: a full commit (40 lower-case hex digits) and its version (`# v1.2.3`) beside it.
fn pinned(used: &Uses) -> bool {
    let commit = used.reference.len() == 40
        && used
            .reference
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let version = used.comment.strip_prefix('v').is_some_and(|v| {
        v.split('.').count() == 3 && v.split('.').all(|part| part.parse::<u32>().is_ok())
    });
    commit && version
}

#[test]
fn every_action_is_pinned_by_a_full_commit_with_its_version_and_one_commit_per_action() {
    let texts = WORKFLOWS.map(|name| std::fs::read_to_string(workflow(name)).expect("read"));
    let mut commits: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for (name, text) in WORKFLOWS.iter().zip(&texts) {
        let unpinned: Vec<&str> = uses(text)
            .iter()
            .filter(|used| !pinned(used))
            .map(|used| used.line)
            .collect();
        assert_eq!(unpinned, Vec::<&str>::new(), "{name}");
        for used in uses(text) {
            commits
                .entry(used.action)
                .or_default()
                .insert(used.reference);
        }
    }
    // checkout, upload-artifact, download-artifact, attest-build-provenance at least: the
    // lines were found.
    assert!(commits.len() >= 4, "{commits:?}");
    for (action, pins) in &commits {
        assert_eq!(
            pins.len(),
            1,
            "{action} is pinned to several commits: {pins:?}"
        );
    }

    // What the check refuses: a tag, a short commit, a commit without its version, a branch.
    for line in [
        "      - uses: actions/checkout@v7",
        "      - uses: actions/checkout@3d3c42e5 # v7.0.1",
        "      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1",
        "      - uses: actions/checkout@main # v7.0.1",
        "        uses: actions/checkout@3D3C42E5AAC5BA805825DA76410C181273BA90B1 # v7.0.1",
    ] {
        let found = uses(line);
        assert!(found.len() == 1 && !pinned(&found[0]), "{line}");
    }
}
