//! The GitHub Actions workflows cannot run here, so actionlint checks them: syntax, expression
//! types, action inputs, runner labels, and script injection. scripts/test.sh installs it into
//! target/tools/actionlint; a broken workflow beside the real ones shows the linter does fail.
//! The workflow tier ([`crate::support::tier`]): a plain `cargo test` says it did not run.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::tier::{self, SlowTier};
use crate::support::{Output, skip_or_panic};

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
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(".github/workflows");
    let workflows = ["ci.yml", "release.yml"].map(|name| dir.join(name));
    let Some(out) = lint(&workflows) else { return };
    out.assert_success();

    let scratch = tempfile::tempdir().expect("tempdir");
    let broken = scratch.path().join("broken.yml");
    let ci = std::fs::read_to_string(&workflows[0]).expect("read ci.yml");
    // An input actions/checkout does not have, and an injectable expression in a script.
    let ci = ci.replacen(
        "      - uses: actions/checkout@v6\n",
        "      - uses: actions/checkout@v6\n        with:\n          no-such-input: true\n      \
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
