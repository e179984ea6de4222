//! Taking a secret out of a git configuration file without ever putting it on a command line:
//! git's own `git config` edits each value, addressed by a pattern that pins everything
//! around the secret and only the secret's length, never its characters; a `[url "BASE"]`
//! section header, which `git config` can only address by its full name, is rewritten here
//! under git's lock.

use std::path::Path;

use anyhow::Context as _;
use zeroize::Zeroizing;

use crate::lockfile::Lock;
use crate::scan::{Finding, Origin, Spot, secrets};

/// Rewrites the place of `finding`, saying what it did.
pub fn take_out(finding: &Finding) -> anyhow::Result<String> {
    let Origin::File(path) = &finding.origin else {
        anyhow::bail!(
            "git reads it from {} (-c, GIT_CONFIG_PARAMETERS or GIT_CONFIG_COUNT): remove it \
             there",
            finding.origin
        );
    };
    if let Spot::UrlValue { key, .. } | Spot::Header { key, .. } = &finding.spot {
        // `git config` can address a value only by its full key: one whose section name
        // holds a password (`[http "https://u:PW@…"]`) would put it on a command line.
        if secrets::shown_key(key) != *key {
            anyhow::bail!(
                "{} sits in a section whose name holds a password, which cannot be taken out without \
                 putting it on a command line: edit {} by hand (remove this line and the \
                 password in the section's name)",
                secrets::shown_key(key),
                path.display()
            );
        }
    }
    let mut done = match &finding.spot {
        Spot::UrlValue { key, value, clean } => {
            let span = secrets::password_span(value).context("cannot find the password")?;
            let pattern = pinned_pattern(
                &value[..span.start],
                &value[span.clone()],
                &value[span.end..],
            );
            if git_config(path, &["--get-all", key, &pattern])?.is_empty() {
                return Ok("already changed".to_owned());
            }
            git_config(path, &["--replace-all", key, clean, &pattern])?;
            format!("now {clean}")
        }
        Spot::Header { key, value } => {
            let start = header_secret_start(value).context("not an Authorization header")?;
            let pattern = pinned_pattern(&value[..start], &value[start..], "");
            git_config(path, &["--unset-all", key, &pattern])?;
            "header removed".to_owned()
        }
        Spot::RewriteBase { base, clean } => {
            rename_url_section(path, base, clean)?;
            format!("section renamed to [url \"{clean}\"]")
        }
        Spot::CredentialLine { .. } => anyhow::bail!("credential lines are removed per file"),
    };
    if path.file_name().is_some_and(|n| n == ".gitmodules") {
        done.push_str(
            "; .gitmodules is committed: commit this change, and revoke the token, since it \
             stays in the repository's history",
        );
    }
    Ok(done)
}

/// `git config --file PATH ARGS`, its stdout (zeroized); exit 5 ("nothing matched") is fine.
fn git_config(path: &Path, args: &[&str]) -> anyhow::Result<Zeroizing<String>> {
    let path_text = path.to_string_lossy();
    let mut all = vec!["config", "--file", &path_text];
    all.extend_from_slice(args);
    let out = crate::git::git(&all)?;
    let stdout = Zeroizing::new(out.stdout);
    let stderr = out.stderr;
    if !out.success && !stderr.trim().is_empty() {
        anyhow::bail!("git config {} failed: {}", args[0], stderr.trim());
    }
    Ok(stdout)
}

/// An extended regular expression matching `before SECRET after` exactly, where the secret
/// is matched by its length only.
fn pinned_pattern(before: &str, secret: &str, after: &str) -> String {
    // POSIX allows repetition counts up to 255.
    let mut length = secret.chars().count();
    let mut pattern = format!("^{}", ere_escape(before));
    while length > 0 {
        let step = length.min(255);
        pattern.push_str(&format!(".{{{step}}}"));
        length -= step;
    }
    pattern.push_str(&ere_escape(after));
    pattern.push('$');
    pattern
}

fn ere_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if ".[]()*+?{}|^$\\".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Where the credential of `Authorization: SCHEME CREDENTIAL` starts.
fn header_secret_start(value: &str) -> Option<usize> {
    let colon = value.find(':')? + 1;
    let scheme_start = colon + value[colon..].find(|c: char| !c.is_whitespace())?;
    let scheme_end = scheme_start + value[scheme_start..].find(char::is_whitespace)?;
    Some(scheme_end + value[scheme_end..].find(|c: char| !c.is_whitespace())?)
}

/// Rewrites every `[url "BASE"]` header of the file (the symlink's target) to `[url "CLEAN"]`.
fn rename_url_section(path: &Path, base: &str, clean: &str) -> anyhow::Result<()> {
    let target = std::fs::canonicalize(path)
        .with_context(|| format!("cannot resolve {}", path.display()))?;
    let lock = Lock::take(&target, crate::lockfile::DEADLINE)?;
    let text = Zeroizing::new(
        std::fs::read_to_string(&target)
            .with_context(|| format!("cannot read {}", target.display()))?,
    );
    let mut out = Zeroizing::new(String::with_capacity(text.len()));
    let mut renamed = 0;
    for line in text.split_inclusive('\n') {
        match url_section_header(line) {
            Some((subsection, rest)) if subsection.as_str() == base => {
                let indent = &line[..line.len() - line.trim_start().len()];
                out.push_str(&format!("{indent}[url \"{}\"]{rest}", config_quote(clean)));
                renamed += 1;
            }
            _ => out.push_str(line),
        }
    }
    if renamed == 0 {
        anyhow::bail!("found no [url \"…\"] header to rewrite");
    }
    lock.commit(out.as_bytes())
}

/// `[url "SUBSECTION"] rest` → the subsection unescaped, and what follows `]`.
fn url_section_header(line: &str) -> Option<(Zeroizing<String>, &str)> {
    let inner = line.trim_start().strip_prefix('[')?;
    let name_end = inner.find(|c: char| c.is_whitespace())?;
    if !inner[..name_end].eq_ignore_ascii_case("url") {
        return None;
    }
    let quoted = inner[name_end..].trim_start().strip_prefix('"')?;
    let mut subsection = Zeroizing::new(String::new());
    let mut chars = quoted.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '\\' => subsection.push(chars.next()?.1),
            '"' => {
                let rest = quoted[i + 1..].strip_prefix(']')?;
                return Some((subsection, rest));
            }
            c => subsection.push(c),
        }
    }
    None
}

fn config_quote(text: &str) -> String {
    text.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns_pin_everything_but_the_secret() {
        assert_eq!(
            pinned_pattern("https://u:", "abc", "@h.org/x"),
            r"^https://u:.{3}@h\.org/x$"
        );
        let long = "x".repeat(300);
        assert_eq!(pinned_pattern("a", &long, ""), "^a.{255}.{45}$");
        assert_eq!(header_secret_start("Authorization: Basic  QUJD"), Some(22));
    }

    #[test]
    fn url_section_headers_are_read_with_their_escapes() {
        let (sub, rest) =
            url_section_header("\t[URL \"https://u:p\\\"q@h/\"] insteadOf = x\n").unwrap();
        assert_eq!(sub.as_str(), "https://u:p\"q@h/");
        assert_eq!(rest, " insteadOf = x\n");
        assert!(url_section_header("[remote \"o\"]\n").is_none());
    }
}
