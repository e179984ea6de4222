//! The man pages `generate-docs` writes, rendered by `man -l` as a reader sees them, and the
//! `--help` texts: every page has EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO (no
//! EXTRA) and the version in its footer; no URL is split at a line's end; the `--store` list
//! is said once, in the top-level help, and each command's help stays short.
//!
//! Controls: clap_mangen's own page for the same command line fails the section and footer
//! checks, and a page without `.nh` shows the hyphenated URL the check looks for.

use std::path::{Path, PathBuf};

use clap::CommandFactory;
use git_credential_bitbucket::cli::Cli;

use crate::support::{Output, TestEnv, skip_or_panic};

const NAME: &str = "git-credential-bitbucket";
const SECTIONS: [&str; 9] = [
    "NAME",
    "SYNOPSIS",
    "DESCRIPTION",
    "OPTIONS",
    "EXIT STATUS",
    "ENVIRONMENT",
    "FILES",
    "EXAMPLES",
    "SEE ALSO",
];
/// The hyphen groff puts at the end of a line where it split a word.
const SPLIT_HYPHEN: char = '\u{2010}';

/// `man -l PAGE` at `width` columns, as UTF-8 text.
fn render(env: &TestEnv, page: &Path, width: u32) -> Output {
    let mut cmd = env.command("man");
    cmd.arg("-l")
        .arg(page)
        .env("MANWIDTH", width.to_string())
        .env("LANG", "C.UTF-8");
    Output::run(&mut cmd, "")
}

/// What is wrong with a rendered page: missing sections, an EXTRA section, a footer without
/// the version.
fn problems(rendered: &str) -> Vec<String> {
    let lines: Vec<&str> = rendered.lines().collect();
    let mut found = Vec::new();
    for section in SECTIONS {
        if !lines.contains(&section) {
            found.push(format!("no {section} section"));
        }
    }
    if lines.contains(&"EXTRA") {
        found.push("an EXTRA section".to_owned());
    }
    let footer = lines
        .iter()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(&"");
    let version = format!("{NAME} {}", env!("CARGO_PKG_VERSION"));
    if !footer.starts_with(&version) {
        found.push(format!("footer {footer:?} does not start with {version:?}"));
    }
    found
}

/// The pages `generate-docs` writes into `env`'s HOME, sorted; `None` when `man` is missing
/// and skipping is allowed.
fn generated_pages(env: &TestEnv) -> Option<Vec<PathBuf>> {
    let man = Output::run(env.command("man").arg("--version"), "").success();
    if !man && skip_or_panic("man", "not installed (apt-get install man-db)") {
        return None;
    }
    let dir = env.home().join("generated");
    Output::run(env.helper_command().arg("generate-docs").arg(&dir), "").assert_success();
    let mut pages: Vec<PathBuf> = std::fs::read_dir(dir.join("man"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    pages.sort();
    assert!(pages.len() > 10, "{pages:?}");
    Some(pages)
}

#[test]
fn every_man_page_has_the_sections_and_the_version_in_its_footer() {
    let env = TestEnv::new();
    let Some(pages) = generated_pages(&env) else {
        return;
    };
    for page in &pages {
        let out = render(&env, page, 80);
        out.assert_success();
        assert_eq!(
            problems(&out.stdout),
            Vec::<String>::new(),
            "{page:?}: {out:?}"
        );
        // The program's own page also lists the stores, since no command repeats them.
        let is_program = page.file_name().unwrap() == format!("{NAME}.1").as_str();
        if is_program {
            for store in ["secret-service", "keyutils", "wincred"] {
                assert!(out.stdout.contains(&format!("       {store}\n")), "{out:?}");
            }
        }
    }

    // Control: clap_mangen's page as it comes fails these checks.
    let plain = env.home().join("plain.1");
    let mut roff = Vec::new();
    clap_mangen::Man::new(Cli::command().disable_help_subcommand(true))
        .render(&mut roff)
        .unwrap();
    std::fs::write(&plain, roff).unwrap();
    let out = render(&env, &plain, 80);
    let found = problems(&out.stdout);
    assert!(
        found.iter().any(|p| p.contains("EXIT STATUS"))
            && found.iter().any(|p| p == "an EXTRA section")
            && found.iter().any(|p| p.starts_with("footer")),
        "{found:?}"
    );
}

#[test]
fn no_url_is_split_across_lines_even_in_a_narrow_terminal() {
    let env = TestEnv::new();
    let Some(pages) = generated_pages(&env) else {
        return;
    };
    let mut urls_seen = 0;
    for page in pages {
        let source = std::fs::read_to_string(&page).unwrap().replace("\\-", "-");
        let out = render(&env, &page, 50);
        assert!(
            !out.stdout.contains(SPLIT_HYPHEN),
            "{page:?} has a word split with a hyphen: {out:?}"
        );
        for url in source
            .split_whitespace()
            .filter(|w| w.starts_with("https://"))
        {
            urls_seen += 1;
            assert!(
                out.stdout.lines().any(|l| l.contains(url)),
                "{url} is not whole on one line of {page:?}: {out:?}"
            );
        }
    }
    assert!(urls_seen > 0, "the pages quote URLs (login's examples)");

    // Control: without `.nh` groff splits a long URL with a hyphen at this width.
    let hyphenated = env.home().join("hyphenated.1");
    std::fs::write(
        &hyphenated,
        ".TH T 1\n.SH X\nsee https://id.atlassian.com/manage-profile/security/api-tokens and \
         credential.https://bitbucket.org.helper=bitbucket here\n",
    )
    .unwrap();
    let out = render(&env, &hyphenated, 40);
    assert!(out.stdout.contains(SPLIT_HYPHEN), "{out:?}");
}

/// The visible commands.
fn commands() -> Vec<String> {
    Cli::command()
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_owned())
        .collect()
}

#[test]
fn the_store_list_is_in_the_top_level_help_once_and_command_help_stays_short() {
    let env = TestEnv::new();
    let help = |args: &[&str]| {
        let out = env.run_helper(args, "");
        out.assert_success();
        out.stdout.clone()
    };
    // Each store's description, as `--store` lists it.
    let descriptions = [
        "Linux kernel key retention (persistent keyring)",
        "One plaintext file, mode 0600",
        "Windows Credential Manager",
    ];
    let top = help(&["--help"]);
    for description in descriptions {
        assert_eq!(top.matches(description).count(), 1, "{description}: {top}");
    }
    for command in commands() {
        let text = help(&[&command, "--help"]);
        for description in descriptions {
            assert!(
                !text.contains(description),
                "{command} --help repeats the stores: {text}"
            );
        }
        assert!(
            text.contains("--store <STORE>") && text.contains("a store listed in"),
            "{command} --help says where the stores are: {text}"
        );
        assert!(text.contains("Examples:\n"), "{command}: {text}");
        let lines = text.lines().count();
        assert!(lines <= 40, "{command} --help is {lines} lines: {text}");
    }
    // A bad store name still lists the stores (clap's error, exit 2).
    let out = env.run_helper(&["--store", "bogus", "status"], "");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(out.stderr.contains("secret-service"), "{out:?}");
}
