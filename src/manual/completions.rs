//! Shell completions from clap_complete, with what its generators get wrong for this program
//! put right, so that every subcommand and option completes in bash, zsh, fish and PowerShell
//! (tests/integration/completion.rs completes them in each shell that runs here).
//!
//! Each repair is a text edit of the generated script that matches the generator's output
//! exactly; where a later clap_complete no longer has the bug, the edit finds nothing to change
//! and the tests still hold the behaviour.

use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use clap::{Arg, ValueHint};
use clap_complete::Shell;

/// The shells we ship completions for: bash, zsh and fish for Unix packages, PowerShell for
/// the Windows zip.
const SHELLS: [Shell; 4] = [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::PowerShell];

/// Writes one completion script per shell into `dir`; returns their paths.
pub fn generate(command: &clap::Command, dir: &Path) -> io::Result<Vec<PathBuf>> {
    let name = command.get_name().to_owned();
    let mut command = for_completion(command);
    command.build();
    let mut written = Vec::new();
    for shell in SHELLS {
        let path = clap_complete::generate_to(shell, &mut command, &name, dir)?;
        let script = fs::read_to_string(&path)?;
        let repaired = match shell {
            Shell::Bash => bash_names_matched(&script, &name),
            Shell::Fish => fish_repaired(&script, &name),
            Shell::PowerShell => powershell_with_values(&script, &command),
            _ => script,
        };
        fs::write(&path, repaired)?;
        written.push(path);
    }
    Ok(written)
}

/// clap_complete's bash script for a name with hyphens builds the state
/// `git__credential__bitbucket__subcmd__login` while its case labels read
/// `git__subcmd__credential__subcmd__bitbucket__subcmd__login` (clap's issue 6421), so nothing
/// below the top level completed. The labels are renamed to the state the script builds.
fn bash_names_matched(script: &str, name: &str) -> String {
    let wrong = name.replace('-', "__subcmd__");
    let built = name.replace('-', "__");
    script.replace(&wrong, &built)
}

/// Three repairs of the fish script:
/// - its "no command yet" test parses the words before the cursor with `argparse`, which fails
///   while a global option still waits for its value (`--store <TAB>`), and a failure meant "a
///   command was given", so no store was offered: a failure now means no command yet;
/// - the `help` subcommand's list of commands counts `help` itself as a command already seen,
///   so `help <TAB>` offered nothing;
/// - fish offers file names wherever nothing says otherwise (`status <TAB>`): no value of this
///   program is a file but `--file`'s, which forces files itself (`-F`).
fn fish_repaired(script: &str, name: &str) -> String {
    let function = name.replace('-', "_");
    let parse_failed = format!(
        "argparse -s (__fish_{function}_global_optspecs) -- $cmd 2>/dev/null\n    or return\n"
    );
    let no_command_yet = parse_failed.replace("or return\n", "or return 0\n");
    let mut repaired = script.replace(&parse_failed, &no_command_yet);
    let help_lists = "using_subcommand help; and not __fish_seen_subcommand_from ";
    repaired = repaired
        .lines()
        .map(|line| {
            if line.contains(help_lists) {
                line.replacen(" help\" -f -a", "\" -f -a", 1)
            } else {
                line.to_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("\n");
    repaired.push_str(&format!(
        "\n# No value of {name} is a file name but --file's.\ncomplete -c {name} -f\n"
    ));
    repaired
}

/// clap_complete's PowerShell script offers no option values: after `--store ` it listed the
/// commands again. A block put before its `switch` answers the values of every option that has
/// a list (`--store`) when the word before the cursor is that option.
fn powershell_with_values(script: &str, command: &clap::Command) -> String {
    let mut options: Vec<(String, Vec<(String, String)>)> = Vec::new();
    collect_listed_values(command, &mut options);
    if options.is_empty() {
        return script.to_owned();
    }
    let quote = |text: &str| format!("'{}'", text.replace('\'', "''"));
    let mut block = String::from(
        "    # The values of the option before the cursor (added by src/manual/completions.rs).\n\
         \x20   $before = $commandElements.Where{ $_.Extent.EndOffset -lt $cursorPosition } | \
         Select-Object -Last 1\n\
         \x20   $values = switch (\"$before\") {\n",
    );
    for (option, values) in &options {
        block.push_str(&format!("        {} {{\n", quote(option)));
        for (value, help) in values {
            block.push_str(&format!(
                "            [CompletionResult]::new({v}, {v}, [CompletionResultType]::ParameterValue, {h})\n",
                v = quote(value),
                h = quote(help)
            ));
        }
        block.push_str("            break\n        }\n");
    }
    block.push_str(
        "    }\n\
         \x20   if ($values) {\n\
         \x20       return $values.Where{ $_.CompletionText -like \"$wordToComplete*\" }\n\
         \x20   }\n\n",
    );
    let anchor = "    $completions = @(switch ($command) {";
    script.replacen(anchor, &format!("{block}{anchor}"), 1)
}

/// `--long` options with a list of values, and the values with their help, once each.
fn collect_listed_values(
    command: &clap::Command,
    found: &mut Vec<(String, Vec<(String, String)>)>,
) {
    for arg in command.get_arguments() {
        let (Some(long), values) = (arg.get_long(), arg.get_possible_values()) else {
            continue;
        };
        let option = format!("--{long}");
        if values.is_empty() || found.iter().any(|(seen, _)| *seen == option) {
            continue;
        }
        let values = values
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| {
                let help = v
                    .get_help()
                    .map_or_else(|| v.get_name().to_owned(), ToString::to_string);
                (v.get_name().to_owned(), help)
            })
            .collect();
        found.push((option, values));
    }
    for sub in command.get_subcommands() {
        collect_listed_values(sub, found);
    }
}

/// `command` as people see it: without hidden commands and options (the bash and PowerShell
/// generators would otherwise offer internal ones, `generate-docs`, `--token-fd`), and with
/// free-text values marked as such.
fn for_completion(command: &clap::Command) -> clap::Command {
    let mut visible = clap::Command::new(command.get_name().to_owned())
        .args(
            command
                .get_arguments()
                .filter(|a| !a.is_hide_set())
                .cloned()
                .map(free_text_offers_no_files),
        )
        .subcommands(
            command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(for_completion),
        );
    if let Some(about) = command.get_about() {
        visible = visible.about(about.clone());
    }
    if let Some(version) = command.get_version() {
        visible = visible.version(version.to_owned());
    }
    visible
}

/// A value that is free text (a date, a workspace, a host, a URL) gets [`ValueHint::Other`]:
/// with clap's default hint, bash, zsh and fish offer file names after `--expires`. Values with
/// a list (`--store`) and paths (`--file`) keep theirs.
fn free_text_offers_no_files(arg: Arg) -> Arg {
    let free_text = arg.get_action().takes_values()
        && arg.get_value_hint() == ValueHint::Unknown
        && arg.get_possible_values().is_empty();
    if free_text {
        arg.value_hint(ValueHint::Other)
    } else {
        arg
    }
}
