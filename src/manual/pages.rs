//! The man pages: clap_mangen's NAME, SYNOPSIS, DESCRIPTION, OPTIONS (and the program's
//! SUBCOMMANDS), then EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES and SEE ALSO written here.
//!
//! Why not clap_mangen's page as it comes: it prints a command's `after_help` as a section
//! called EXTRA, leaves the version out of every footer (an empty date argument shifts it
//! into the date's place; a subcommand has no version at all), and lets groff hyphenate, which
//! split URLs at a line's end. Every page here has the
//! version in its footer, no hyphenation (`.nh`) and a ragged right margin (`.ad l`).

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use super::reference::{ENVIRONMENT, EXIT_STATUS, FILES, stores};

/// Writes one page for the program and one per visible command into `dir`; returns their paths.
pub fn generate(command: &clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    // clap's own `help` command would add a page per command (`…-help-login.1`) saying nothing.
    let mut command = command.clone().disable_help_subcommand(true);
    command.build();
    let footer = format!(
        "{} {}",
        command.get_name(),
        command.get_version().unwrap_or_default()
    );
    let mut written = vec![page(&command, &footer, true, dir)?];
    for sub in command.get_subcommands().filter(|s| !s.is_hide_set()) {
        written.push(page(sub, &footer, false, dir)?);
    }
    Ok(written)
}

fn page(command: &clap::Command, footer: &str, program: bool, dir: &Path) -> io::Result<PathBuf> {
    let after_help = command
        .get_after_help()
        .map(ToString::to_string)
        .unwrap_or_default();
    let examples: Vec<&str> = after_help
        .split_once("Examples:\n")
        .map(|(_, lines)| lines.lines().map(str::trim).collect())
        .unwrap_or_default();
    let man = clap_mangen::Man::new(
        command
            .clone()
            .after_help(None::<&'static str>)
            .after_long_help(None::<&'static str>),
    )
    .source(footer);
    let mut rendered = Vec::new();
    man.render(&mut rendered)?;
    let rendered = String::from_utf8(rendered).map_err(io::Error::other)?;
    let mut text = String::new();
    for line in rendered.lines() {
        if line.starts_with(".TH ") {
            // clap_mangen writes an empty date as nothing at all, so groff took the footer
            // for the date and the version fell off the page: every argument quoted here.
            let title = man.get_filename();
            let title = title.strip_suffix(".1").unwrap_or(&title);
            text.push_str(&format!(
                ".TH \"{title}\" \"1\" \"\" \"{footer}\" \"General Commands Manual\"\n.nh\n.ad l\n"
            ));
        } else {
            text.push_str(line);
            text.push('\n');
        }
    }
    if program {
        definitions(
            &mut text,
            "STORES",
            stores().iter().map(|(n, h)| (n.as_str(), h.as_str())),
        );
    }
    definitions(&mut text, "EXIT STATUS", EXIT_STATUS);
    definitions(&mut text, "ENVIRONMENT", ENVIRONMENT);
    definitions(&mut text, "FILES", FILES);
    if !examples.is_empty() {
        text.push_str(".SH EXAMPLES\n.nf\n.RS 4\n");
        for example in examples {
            text.push_str(&escape(example));
            text.push('\n');
        }
        text.push_str(".RE\n.fi\n");
    }
    text.push_str(".SH \"SEE ALSO\"\n");
    let see_also: &[(&str, &str)] = if program {
        &[
            ("git-credential", "1"),
            ("gitcredentials", "7"),
            ("git-config", "1"),
        ]
    } else {
        &[("git-credential-bitbucket", "1"), ("gitcredentials", "7")]
    };
    let references: Vec<String> = see_also
        .iter()
        .map(|(name, section)| format!("\\fB{}\\fR({section})", escape(name)))
        .collect();
    text.push_str(&references.join(", "));
    text.push('\n');
    let path = dir.join(man.get_filename());
    fs::write(&path, text)?;
    Ok(path)
}

/// A section of `.TP` paragraphs: each term in bold, its description below.
fn definitions<'a>(
    text: &mut String,
    title: &str,
    items: impl IntoIterator<Item = (&'a str, &'a str)>,
) {
    text.push_str(&format!(".SH \"{title}\"\n"));
    for (term, description) in items {
        text.push_str(&format!(
            ".TP\n\\fB{}\\fR\n{}\n",
            escape(term),
            escape(description)
        ));
    }
}

/// `text` as roff reads it literally: backslashes and hyphens escaped, no leading control
/// character.
fn escape(text: &str) -> String {
    let escaped = text.replace('\\', "\\e").replace('-', "\\-");
    if escaped.starts_with(['.', '\'']) {
        format!("\\&{escaped}")
    } else {
        escaped
    }
}
