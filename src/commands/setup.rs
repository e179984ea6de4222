//! `setup` / `teardown`: the host-scoped git configuration this helper needs.
//!
//! For `https://bitbucket.org` (and each `--host`), `credential.<url>.helper` is first reset to
//! empty — so helpers configured earlier, which may still hold an app password, are not asked
//! for Bitbucket — then set to this helper; `useHttpPath=true` lets workspace tokens work.
//! Other hosts are untouched. Both commands are idempotent and say what they changed.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;

use super::Context;
use super::shell::shell_quote;
use crate::git;
use crate::scan::helpers::{is_helper_for, scope_url};
use crate::store::StoreChoice;

/// Which git configuration file to change.
#[derive(Debug, Clone, clap::Args)]
#[group(multiple = false)]
pub struct ConfigScope {
    /// The user's configuration (~/.gitconfig); the default.
    #[arg(long)]
    pub global: bool,
    /// The system configuration (/etc/gitconfig); needs root.
    #[arg(long)]
    pub system: bool,
    /// A configuration file of your choice.
    #[arg(long, value_name = "FILE")]
    pub file: Option<PathBuf>,
}

impl ConfigScope {
    fn git_args(&self) -> Vec<String> {
        match (&self.file, self.system) {
            (Some(file), _) => vec!["--file".into(), file.to_string_lossy().into_owned()],
            (None, true) => vec!["--system".into()],
            (None, false) => vec!["--global".into()],
        }
    }
}

/// How git should run this helper: the absolute path of this very binary, then the options
/// chosen now. Never the bare name, whatever PATH says: a name is looked up on PATH at every git
/// call, and cron, systemd units and CI runners start git with a PATH (`/usr/bin:/bin`) that
/// lacks `~/.local/bin`, where git then says the helper "is not a git command"
/// (docs/servers-and-ci.md). `gh auth setup-git` writes its full path for the same reason.
pub fn helper_command(
    store: StoreChoice,
    extra_hosts: &[String],
    unlock_timeout: Option<u64>,
) -> anyhow::Result<String> {
    let exe = this_program()?;
    let path = exe
        .to_str()
        .context("the path of this program is not UTF-8: move it to a plain directory")?;
    let quoted = shell_quote(path);
    // git runs a value that is an absolute path through the shell as it stands; a path that
    // needs quoting (a space) would no longer start with `/`, so it takes the `!` form.
    let mut command = if quoted == path {
        quoted
    } else {
        format!("!{quoted}")
    };
    if store != StoreChoice::Auto {
        command.push_str(&format!(" --store {}", super::store_flag(store)));
    }
    for host in extra_hosts {
        command.push_str(&format!(" --host {}", shell_quote(host)));
    }
    if let Some(seconds) = unlock_timeout {
        command.push_str(&format!(" --unlock-timeout {seconds}"));
    }
    Ok(command)
}

/// This binary's absolute path, chosen as `gh auth setup-git` chooses its own: the PATH entry
/// that leads to this very file, if one does (a package manager's link, such as Homebrew's
/// `/opt/homebrew/bin/…` into a versioned Cellar directory, outlives upgrades; the file behind it
/// does not), else the file itself with every link resolved. Windows keeps the path as found:
/// canonicalizing there yields a `\\?\` path that git's shell cannot run.
fn this_program() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe().context("cannot find this program")?;
    if cfg!(windows) {
        return Ok(exe);
    }
    let exe = exe.canonicalize().unwrap_or(exe);
    let Some(file_name) = exe.file_name() else {
        return Ok(exe);
    };
    let on_path = std::env::var_os("PATH").and_then(|path| {
        std::env::split_paths(&path)
            .filter(|dir| dir.is_absolute())
            .map(|dir| dir.join(file_name))
            .find(|candidate| candidate.canonicalize().is_ok_and(|found| found == exe))
    });
    Ok(on_path.unwrap_or(exe))
}

pub fn run_setup(ctx: &mut Context, scope: &ConfigScope) -> anyhow::Result<ExitCode> {
    let scope_args = scope.git_args();
    // The store of the helper git runs now, if it is this one: its tokens move along.
    if let Some(previous) = super::configured_helper()?.and_then(|c| c.store) {
        super::store_switch::move_tokens(ctx, previous)?;
    }
    let helper = helper_command(ctx.store, &ctx.extra_hosts, ctx.unlock_timeout)?;
    for host in ctx.served_hosts() {
        let url = scope_url(&host);
        if move_section_last_if_followed(&scope_args, &url)? {
            ctx.say(format!(
                "moved [credential \"{url}\"] to the end of the file: a helper configured after \
                 it there would have received the token"
            ));
        }
        let helper_key = format!("credential.{url}.helper");
        let wanted = vec![String::new(), helper.clone()];
        let current = git::config_get_all(&scope_args, &helper_key)?;
        if current == wanted {
            ctx.say(format!("unchanged: {helper_key} = \"\", \"{helper}\""));
        } else {
            config(&scope_args, &["--unset-all", &helper_key], true)?;
            config(&scope_args, &["--add", &helper_key, ""], false)?;
            config(&scope_args, &["--add", &helper_key, &helper], false)?;
            // Earlier values are not printed: helper strings sometimes embed a secret.
            ctx.say(format!(
                "set {helper_key} = \"\", \"{helper}\" (replacing {} earlier value(s))",
                current.len()
            ));
        }
        let path_key = format!("credential.{url}.useHttpPath");
        if git::config_get_all(&scope_args, &path_key)? == ["true"] {
            ctx.say(format!("unchanged: {path_key} = true"));
        } else {
            config(&scope_args, &["--unset-all", &path_key], true)?;
            config(&scope_args, &[&path_key, "true"], false)?;
            ctx.say(format!("set {path_key} = true"));
        }
        warn_about_helpers_after_ours(ctx, &url)?;
    }
    Ok(ExitCode::SUCCESS)
}

/// When a helper for `url` comes after our section in the same file, git would run it after
/// ours (and hand it the token on `store`): move the section, with every key in it, to the end.
fn move_section_last_if_followed(scope_args: &[String], url: &str) -> anyhow::Result<bool> {
    let entries = crate::scan::config::scope(scope_args)?;
    let section = format!("credential.{url}.");
    let in_ours = |e: &crate::scan::Entry| {
        e.key.len() > section.len() && e.key[..section.len()].eq_ignore_ascii_case(&section)
    };
    let Some(last_ours) = entries.iter().rposition(in_ours) else {
        return Ok(false);
    };
    if !entries[last_ours + 1..]
        .iter()
        .any(|e| is_helper_for(e, url))
    {
        return Ok(false);
    }
    let kept: Vec<(String, String)> = entries
        .iter()
        .filter(|e| in_ours(e))
        .map(|e| (e.key.clone(), e.value().to_owned()))
        .collect();
    config(
        scope_args,
        &["--remove-section", &format!("credential.{url}")],
        false,
    )?;
    for (key, value) in &kept {
        config(scope_args, &["--add", key, value], false)?;
    }
    Ok(true)
}

/// Helpers in other files that git runs after ours receive the token: say so.
fn warn_about_helpers_after_ours(ctx: &mut Context, url: &str) -> anyhow::Result<()> {
    let order = crate::scan::helper_order_here(url)?;
    for helper in order.after_ours() {
        ctx.warn(format!(
            "warning: {} ({} in {}) comes after git-credential-bitbucket for {url}: git hands it \
             the token on every `store`; remove it there or scope it to other hosts",
            helper.name(),
            crate::scan::secrets::shown_key(&helper.key),
            helper.origin
        ));
    }
    Ok(())
}

/// Removes what `setup` wrote for every served host and for every other host whose section in
/// this file runs this helper (a `--host` given to an earlier `setup` and not now): left behind,
/// such a section makes every fetch from that host fail once the binary is gone (git drops a
/// section header when its last key goes). The data directory stays (it may hold the file store's tokens); the last
/// line says where it is and how to remove it.
pub fn run_teardown(ctx: &mut Context, scope: &ConfigScope) -> anyhow::Result<ExitCode> {
    let scope_args = scope.git_args();
    let mut urls: Vec<String> = ctx.served_hosts().iter().map(scope_url).collect();
    for url in sections_running_this_helper(&scope_args)? {
        if !urls.iter().any(|u| u.eq_ignore_ascii_case(&url)) {
            urls.push(url);
        }
    }
    let mut changed = false;
    for url in &urls {
        for key in [
            format!("credential.{url}.helper"),
            format!("credential.{url}.useHttpPath"),
        ] {
            if !git::config_get_all(&scope_args, &key)?.is_empty() {
                config(&scope_args, &["--unset-all", &key], false)?;
                ctx.say(format!("removed {key}"));
                changed = true;
            }
        }
    }
    if !changed {
        ctx.say("nothing to remove: git was not configured for this helper there");
    }
    if let Some(dir) = ctx.data_dir.as_ref().filter(|dir| dir.0.is_dir()) {
        let path = dir.0.to_string_lossy();
        ctx.say(format!(
            "kept {path} (token expiry dates, the writer lock, Secret Service hints, and the \
             file store's tokens if you used it): after `git-credential-bitbucket logout --all`, \
             remove it with: rm -r {}",
            shell_quote(&path)
        ));
    }
    Ok(ExitCode::SUCCESS)
}

/// The URLs of `credential.<url>` sections in this file whose helper runs this program.
fn sections_running_this_helper(scope_args: &[String]) -> anyhow::Result<Vec<String>> {
    let mut urls: Vec<String> = Vec::new();
    for entry in crate::scan::config::scope(scope_args)? {
        if let ("credential", Some(url), "helper") = entry.parts()
            && crate::scan::helpers::is_this_helper(entry.value())
            && !urls.iter().any(|u| u == url)
        {
            urls.push(url.to_owned());
        }
    }
    Ok(urls)
}

/// `git config SCOPE ARGS`; `missing_ok` for an `--unset-all` of a key that may not exist.
fn config(scope: &[String], args: &[&str], missing_ok: bool) -> anyhow::Result<()> {
    let mut all: Vec<String> = vec!["config".into()];
    all.extend_from_slice(scope);
    all.extend(args.iter().map(|a| (*a).to_owned()));
    let out = git::git(&all)?;
    // git config exits 5 when --unset-all finds nothing.
    if !out.success && !missing_ok {
        anyhow::bail!(
            "git config {} failed: {}",
            args.join(" "),
            out.stderr.trim()
        );
    }
    Ok(())
}
