//! The shell completions `generate-docs` writes, tried by completing, in each shell's own way:
//! bash calls the function its script registers with `complete -F` (COMP_WORDS, COMP_CWORD set,
//! COMPREPLY read back); zsh runs in a pseudo-terminal (zsh/zpty) with compinit, the line is
//! typed and completed (`complete-word`, Tab's widget, bound to a key that also marks its end),
//! and every candidate handed to `compadd` is written down; fish answers `complete -C LINE`.
//! PowerShell (`pwsh`) is not installable here, so its script is checked as text: one case per
//! command path offering what bash completes there, and the `--store` values block.
//!
//! Each case sits beside its control: the option lists of every command are compared with that
//! command's `--help`; after `--expires` no file of the working directory is offered while
//! `setup --file so` does complete the file `somefile`.

use std::path::PathBuf;

use crate::support::{Output, TestEnv, skip_or_panic};

const NAME: &str = "git-credential-bitbucket";
const STORES: [&str; 6] = [
    "auto",
    "secret-service",
    "keyutils",
    "file",
    "keychain",
    "wincred",
];

/// Calls the completion function bash's `complete -p` names for the program.
const BASH_DRIVER: &str = r#"source "$1"; shift
spec=$(complete -p git-credential-bitbucket) || exit 3
fn=${spec#*-F }; fn=${fn%% *}
COMP_WORDS=("$@"); COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMP_LINE="$*"; COMP_POINT=${#COMP_LINE}
# compopt only works while bash itself is completing; what it sets is display detail.
compopt() { :; }
"$fn" git-credential-bitbucket "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
printf '%s\n' "${COMPREPLY[@]}"
"#;

/// Sourced by the zsh under test: every candidate offered is printed between \x01 and \x02.
const ZSH_RC: &str = r#"PS1='' PROMPT='' RPROMPT=''
compadd() {
  if [[ ${@[1,(i)(-|--)]} == *-(O|A|D)\ * ]]; then builtin compadd "$@"; return $?; fi
  local -a hits
  builtin compadd -A hits "$@"
  local h
  for h in $hits; do printf '\001%s\002\n' "$h"; done
  builtin compadd "$@"
}
finished() { printf '\003%s\n' "$1"; }
# ^X: complete as Tab does, then say so, so the driver waits for the completion to end.
complete-then-mark() { zle complete-word; printf '\003%s\n' COMPLETED; }
zle -N complete-then-mark
bindkey '^X' complete-then-mark
"#;

/// Types the words and ^X (complete, as Tab, then print a mark) into an interactive zsh on a
/// pseudo-terminal; prints what it showed. Every read has a deadline (10 s); the line is killed (^U), never run.
const ZSH_DRIVER: &str = r#"zmodload zsh/zpty || exit 2
fdir=$1 rc=$2; shift 2
out=""
read_until() {
  local chunk
  integer tries=0
  while (( tries++ < 200 )); do
    if zpty -r -t z chunk 2>/dev/null; then
      out+=$chunk
      [[ $out == *$'\x03'$1* ]] && return 0
    else
      sleep 0.05
    fi
  done
  return 1
}
zpty -b z zsh -f -i
zpty -w z "fpath=(${(q)fdir} \$fpath); autoload -U compinit; compinit -u -D; source ${(q)rc}; finished READY"
read_until READY || exit 3
out=""
zpty -n -w z "${(j: :)@}"$'\x18'
read_until COMPLETED || exit 4
zpty -n -w z $'\x15'
zpty -w z 'finished END'
read_until END || exit 5
zpty -d z
print -r -- "$out"
"#;

/// The generated scripts, in a HOME with a file `somefile` in the working directory.
struct Completions {
    env: TestEnv,
    dir: PathBuf,
}

impl Completions {
    fn generate() -> Completions {
        let env = TestEnv::new();
        let dir = env.home().join("generated");
        Output::run(env.helper_command().arg("generate-docs").arg(&dir), "").assert_success();
        std::fs::write(env.home().join("somefile"), "").unwrap();
        for (name, text) in [
            ("driver.bash", BASH_DRIVER),
            ("rc.zsh", ZSH_RC),
            ("driver.zsh", ZSH_DRIVER),
        ] {
            std::fs::write(env.home().join(name), text).unwrap();
        }
        Completions { env, dir }
    }

    fn script(&self, file: &str) -> PathBuf {
        self.dir.join("completions").join(file)
    }

    /// `None` when the shell is missing and skipping is allowed.
    fn shell_or_skip(&self, shell: &str) -> Option<()> {
        let found = Output::run(
            self.env
                .command("sh")
                .args(["-c", &format!("command -v {shell}")]),
            "",
        );
        if found.success() {
            return Some(());
        }
        skip_or_panic(shell, "not installed (scripts/test.sh installs it)");
        None
    }

    /// What the shell offers for `NAME WORDS…` (the last word is being completed), sorted.
    fn complete(&self, shell: &str, words: &[&str]) -> Vec<String> {
        let home = self.env.home();
        let mut cmd = match shell {
            "bash" => {
                let mut cmd = self.env.command("bash");
                cmd.args(["--norc", "--noprofile"])
                    .arg(home.join("driver.bash"))
                    .arg(self.script(&format!("{NAME}.bash")))
                    .arg(NAME)
                    .args(words);
                cmd
            }
            "zsh" => {
                let mut cmd = self.env.command("timeout");
                cmd.args(["30", "zsh", "-f"])
                    .arg(home.join("driver.zsh"))
                    .arg(self.dir.join("completions"))
                    .arg(home.join("rc.zsh"))
                    .arg(NAME)
                    .args(words);
                cmd
            }
            "fish" => {
                let mut cmd = self.env.command("fish");
                cmd.args(["--no-config", "-c", "source $argv[1]; complete -C $argv[2]"])
                    .arg(self.script(&format!("{NAME}.fish")))
                    .arg(format!("{NAME} {}", words.join(" ")));
                cmd
            }
            other => panic!("no driver for {other}"),
        };
        let out = Output::run(&mut cmd, "");
        assert!(out.success(), "{shell} {words:?}: {out:?}");
        let mut offered: Vec<String> = match shell {
            "zsh" => out
                .stdout
                .split('\u{1}')
                .skip(1)
                .filter_map(|s| s.split_once('\u{2}').map(|(hit, _)| hit.to_owned()))
                .collect(),
            // fish: `candidate<TAB>description`.
            _ => out
                .stdout
                .lines()
                .map(|l| l.split('\t').next().unwrap_or("").to_owned())
                .collect(),
        };
        offered.retain(|c| !c.is_empty());
        offered.sort();
        offered.dedup();
        offered
    }
}

/// The commands `--help` lists, and clap's `help`: it completes too.
fn commands_in_help() -> Vec<String> {
    let mut commands = crate::release::subcommands_in_help();
    commands.push("help".to_owned());
    commands
}

/// The long options `NAME COMMAND --help` lists.
fn long_options_of(command: &str) -> Vec<String> {
    let help = TestEnv::new().run_helper(&[command, "--help"], "");
    let mut options: Vec<String> = help
        .assert_success()
        .stdout
        .lines()
        // An option's own line is indented 2 or 6 columns; its wrapped help, further.
        .filter(|l| l.starts_with("  -") || l.starts_with("      --"))
        .flat_map(|l| {
            l.split_whitespace()
                .take(3)
                .map(|w| w.trim_end_matches(',').to_owned())
                .collect::<Vec<_>>()
        })
        .filter(|w| w.starts_with("--") && w.len() > 2)
        .collect();
    options.sort();
    options.dedup();
    options
}

fn assert_offers_all(offered: &[String], wanted: &[String], what: &str) {
    let missing: Vec<&String> = wanted.iter().filter(|w| !offered.contains(w)).collect();
    assert!(
        missing.is_empty(),
        "{what}: {missing:?} missing from {offered:?}"
    );
}

/// The cases of every shell: each command's options, command names, `--store` values, no files
/// after a free-text option, files after `--file`.
fn completes_every_command_and_option(shell: &str) {
    let c = Completions::generate();
    if c.shell_or_skip(shell).is_none() {
        return;
    }
    let commands = commands_in_help();
    assert!(commands.len() > 10, "{commands:?}");
    let top = c.complete(shell, &[""]);
    assert_offers_all(&top, &commands, &format!("{shell}: top level"));
    for command in commands.iter().filter(|c| *c != "help") {
        let offered = c.complete(shell, &[command, "--"]);
        let wanted = long_options_of(command);
        assert!(wanted.contains(&"--store".to_owned()), "{wanted:?}");
        assert_offers_all(&offered, &wanted, &format!("{shell}: {command} --"));
    }
    let help = c.complete(shell, &["help", ""]);
    assert_offers_all(&help, &commands[..3], &format!("{shell}: help"));
    let wanted = ["--check".to_owned(), "--json".to_owned()];
    let dashes = c.complete(shell, &["status", "--"]);
    assert_offers_all(&dashes, &wanted, &format!("{shell}: status --"));
    // `status <TAB>`: bash and zsh list the options; fish shows options only once a `-` is
    // typed, and must not fall back to file names (status takes none).
    let bare = c.complete(shell, &["status", ""]);
    if shell == "fish" {
        assert_eq!(bare, Vec::<String>::new(), "fish: status");
    } else {
        assert_offers_all(&bare, &wanted, &format!("{shell}: status"));
    }
    let stores: Vec<String> = STORES.iter().map(|s| (*s).to_owned()).collect();
    let mut sorted = stores.clone();
    sorted.sort();
    assert_eq!(c.complete(shell, &["--store", ""]), sorted, "{shell}");
    assert_eq!(
        c.complete(shell, &["login", "--store", "k"]),
        ["keychain", "keyutils"],
        "{shell}"
    );
    // Control first: files do complete where a file is wanted.
    assert_eq!(
        c.complete(shell, &["setup", "--file", "so"]),
        ["somefile"],
        "{shell}"
    );
    for words in [
        &["login", "--expires", ""][..],
        &["login", "--workspace", ""],
        &["expiry", ""],
    ] {
        let offered = c.complete(shell, words);
        assert!(
            !offered.iter().any(|o| o == "somefile" || o == "generated/"),
            "{shell} offers files for {words:?}: {offered:?}"
        );
    }
}

#[test]
fn bash_completes_every_command_and_option() {
    completes_every_command_and_option("bash");
}

#[test]
fn zsh_completes_every_command_and_option() {
    if !crate::support::tier::asked_for(crate::support::SlowTier::Long) {
        return;
    }
    completes_every_command_and_option("zsh");
}

#[test]
fn fish_completes_every_command_and_option() {
    completes_every_command_and_option("fish");
}

/// The PowerShell script, read as text (no `pwsh` here): for every command path bash completes,
/// a case `'NAME;COMMAND'` offering the same options; the `--store` values answered before the
/// switch; the completer registered for the program's own name.
#[test]
fn the_powershell_script_offers_what_bash_completes_for_each_command() {
    let c = Completions::generate();
    if c.shell_or_skip("bash").is_none() {
        return;
    }
    let script = std::fs::read_to_string(c.script(&format!("_{NAME}.ps1"))).unwrap();
    assert!(
        script.contains(&format!(
            "Register-ArgumentCompleter -Native -CommandName '{NAME}'"
        )),
        "{script}"
    );
    let offered_in_case = |path: &str| -> Vec<String> {
        let start = script
            .find(&format!("        '{path}' {{\n"))
            .unwrap_or_else(|| panic!("no case for {path}"));
        let body = &script[start..];
        let body = &body[..body.find("            break\n").expect("case ends")];
        let mut names: Vec<String> = body
            .lines()
            .filter_map(|l| l.trim().strip_prefix("[CompletionResult]::new('"))
            .filter_map(|l| l.split('\'').next())
            .filter(|n| n.starts_with("--"))
            .map(str::to_owned)
            .collect();
        names.sort();
        names
    };
    for command in commands_in_help().iter().filter(|c| *c != "help") {
        let bash = c.complete("bash", &[command, "--"]);
        assert_eq!(
            offered_in_case(&format!("{NAME};{command}")),
            bash,
            "{command}"
        );
    }
    let values = &script[script
        .find("    $values = switch (\"$before\") {")
        .expect("the values block")..];
    let values = &values[..values
        .find("$completions = @(switch")
        .expect("before the switch")];
    for store in STORES {
        assert!(
            values.contains(&format!(
                "[CompletionResult]::new('{store}', '{store}', [CompletionResultType]::ParameterValue"
            )),
            "{store} in {values}"
        );
    }
    assert!(values.contains("        '--store' {\n"), "{values}");
    // Braces balance: a stray one would break the whole completer.
    assert_eq!(
        script.matches('{').count(),
        script.matches('}').count(),
        "{script}"
    );
}
