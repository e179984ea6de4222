//! git's configuration as git itself reads it: every value with the file it came from.
//!
//! One `git config --list --show-origin` in the repository covers what git really uses —
//! system, global, local and `config.worktree`, `include.path` and `includeIf` files, the
//! command line. Files git does not merge (`.gitmodules`, the submodules' own repositories
//! under `.git/modules`) are read one by one. Values may hold secrets: they are zeroized.
//!
//! git missing or failing reads as no configuration; git stopped at its deadline is an error
//! (`git::timed_out`), so a command never goes on as if a wedged git had said nothing.

use std::path::{Path, PathBuf};

use zeroize::Zeroizing;

/// Where a value came from.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Origin {
    /// A file (absolute, or relative to where git ran: made absolute here).
    File(PathBuf),
    /// The command line, the environment (`GIT_CONFIG_*`) or a blob: nothing to rewrite.
    Elsewhere(String),
}

impl std::fmt::Display for Origin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Origin::File(path) => write!(f, "{}", path.display()),
            Origin::Elsewhere(what) => write!(f, "git's {what} configuration"),
        }
    }
}

/// One `key = value` as git lists it: section and variable names lower-cased, the
/// subsection as written.
#[derive(Debug)]
pub struct Entry {
    pub origin: Origin,
    pub key: String,
    pub value: Option<Zeroizing<String>>,
}

impl Entry {
    /// `(section, subsection, variable)`: `remote.my.fork.url` → `("remote", Some("my.fork"),
    /// "url")`.
    pub fn parts(&self) -> (&str, Option<&str>, &str) {
        let (section, rest) = self.key.split_once('.').unwrap_or((&self.key, ""));
        match rest.rsplit_once('.') {
            Some((subsection, variable)) => (section, Some(subsection), variable),
            None => (section, None, rest),
        }
    }

    pub fn value(&self) -> &str {
        self.value.as_deref().map_or("", String::as_str)
    }
}

/// The repository git sees from the current directory.
#[derive(Debug)]
pub struct Repository {
    /// Where git runs for this repository: the top of the work tree, or the git directory
    /// of a bare repository.
    pub top: PathBuf,
    /// The work tree's top, if there is one.
    pub work_tree: Option<PathBuf>,
    /// `.git` (shared by all worktrees): where `modules/` lives.
    pub common_dir: PathBuf,
}

impl Repository {
    /// The repository around the current directory, if any.
    pub fn here() -> std::io::Result<Option<Repository>> {
        let out = match crate::git::git([
            "rev-parse",
            "--path-format=absolute",
            "--git-common-dir",
            "--show-toplevel",
        ]) {
            Ok(out) if out.success => out,
            Err(e) if crate::git::timed_out(&e) => return Err(e),
            _ => return Ok(None),
        };
        let mut lines = out.stdout.lines();
        let Some(common_dir) = lines.next().map(PathBuf::from) else {
            return Ok(None);
        };
        let work_tree = lines.next().filter(|l| !l.is_empty()).map(PathBuf::from);
        let top = work_tree.clone().unwrap_or_else(|| common_dir.clone());
        Ok(Some(Repository {
            top,
            work_tree,
            common_dir,
        }))
    }

    /// `.gitmodules` in the work tree, if present.
    pub fn gitmodules(&self) -> Option<PathBuf> {
        let path = self.work_tree.as_ref()?.join(".gitmodules");
        path.is_file().then_some(path)
    }

    /// The `config` of every submodule repository under `modules/`, nested ones too.
    pub fn submodule_configs(&self) -> Vec<PathBuf> {
        let mut found = Vec::new();
        collect_module_configs(&self.common_dir.join("modules"), 0, &mut found);
        found.sort();
        found
    }
}

/// Submodule names may contain `/`, and submodules nest: walk, a few levels deep at most.
fn collect_module_configs(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) {
    const DEEPEST: usize = 12;
    let Ok(children) = std::fs::read_dir(dir) else {
        return;
    };
    for child in children.flatten() {
        let path = child.path();
        if depth >= DEEPEST || !child.file_type().is_ok_and(|t| t.is_dir()) {
            continue;
        }
        if path.join("HEAD").is_file() && path.join("config").is_file() {
            found.push(path.join("config"));
            collect_module_configs(&path.join("modules"), depth + 1, found);
        } else {
            collect_module_configs(&path, depth + 1, found);
        }
    }
}

/// Everything git reads in `dir` (its repository's configuration, or only system and global
/// outside one), in the order git applies it.
pub fn effective(dir: Option<&Path>) -> std::io::Result<Vec<Entry>> {
    list(dir, &[])
}

/// One scope of `git config` (`--global`, `--system`, `--file F`), includes not followed.
pub fn scope(scope_args: &[String]) -> std::io::Result<Vec<Entry>> {
    let mut args: Vec<&str> = vec!["--no-includes"];
    args.extend(scope_args.iter().map(String::as_str));
    list(None, &args)
}

/// One file on its own, includes not followed.
pub fn file(path: &Path) -> std::io::Result<Vec<Entry>> {
    let path_text = path.to_string_lossy().into_owned();
    list(None, &["--no-includes", "--file", &path_text])
}

fn list(dir: Option<&Path>, scope: &[&str]) -> std::io::Result<Vec<Entry>> {
    let mut args = vec!["config"];
    args.extend_from_slice(scope);
    args.extend(["--list", "--show-origin", "--null"]);
    let out = match crate::git::run(
        &mut crate::git::command(dir, &args),
        crate::git::Bound::Local,
    ) {
        Ok(out) => out,
        Err(e) if crate::git::timed_out(&e) => return Err(e),
        Err(_) => return Ok(Vec::new()),
    };
    let stdout = Zeroizing::new(out.stdout);
    let base = dir
        .map(Path::to_path_buf)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let mut fields = stdout.split('\0');
    let mut entries = Vec::new();
    while let (Some(origin), Some(entry)) = (fields.next(), fields.next()) {
        let (key, value) = match entry.split_once('\n') {
            Some((key, value)) => (key, Some(Zeroizing::new(value.to_owned()))),
            None => (entry, None),
        };
        entries.push(Entry {
            origin: parse_origin(origin, &base),
            key: key.to_owned(),
            value,
        });
    }
    Ok(entries)
}

fn parse_origin(origin: &str, base: &Path) -> Origin {
    match origin.split_once(':') {
        Some(("file", path)) => Origin::File(base.join(path)),
        Some((what, _)) => Origin::Elsewhere(what.to_owned()),
        None => Origin::Elsewhere(origin.to_owned()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_split_into_section_subsection_and_variable() {
        let entry = |key: &str| Entry {
            origin: Origin::Elsewhere("command line".into()),
            key: key.into(),
            value: None,
        };
        assert_eq!(
            entry("remote.my.fork.pushurl").parts(),
            ("remote", Some("my.fork"), "pushurl")
        );
        assert_eq!(
            entry("http.extraheader").parts(),
            ("http", None, "extraheader")
        );
        assert_eq!(
            entry("url.https://bitbucket.org/.insteadof").parts(),
            ("url", Some("https://bitbucket.org/"), "insteadof")
        );
    }

    #[test]
    fn origins_are_files_made_absolute_or_elsewhere() {
        let base = Path::new("/repo");
        assert_eq!(
            parse_origin("file:.git/config", base),
            Origin::File("/repo/.git/config".into())
        );
        assert_eq!(
            parse_origin("file:/etc/gitconfig", base),
            Origin::File("/etc/gitconfig".into())
        );
        assert_eq!(
            parse_origin("command line:", base),
            Origin::Elsewhere("command line".into())
        );
    }
}
