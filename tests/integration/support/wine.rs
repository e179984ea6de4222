//! The Windows build of the helper, run under Wine with Wine's Credential Manager
//! (`CredWriteW`/`CredReadW`), so the `wincred` store is exercised for real.
//!
//! Once per suite run: build the `.exe` (`scripts/build-windows.sh`, the tier-3
//! `x86_64-win7-windows-gnu` target Wine 8 can start) and boot one template `WINEPREFIX` in a
//! temporary directory (never `~/.wine`). Every test then gets a prefix of its own inside its
//! temporary HOME: a hard-linked copy of the template (the DLLs are shared, read-only) with
//! its own registry files, where Wine keeps the credentials. Booting takes seconds; copying
//! takes milliseconds. Part of the slow tiers ([`tier`]): a plain `cargo test` says these tests
//! did not run. Where Wine cannot start, tests are skipped loudly (or fail in CI, see
//! [`skip_or_panic`]), never silently.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::keyrings::skip_or_panic;
use super::run_dirs::RunDir;
use super::tier::{self, SlowTier};

/// Debian's `wine64` package puts the loader here, off PATH.
const WINE64: &str = "/usr/lib/wine/wine64";
/// Set to a built `.exe` to skip the build (e.g. a release build).
pub const WINDOWS_EXE_VAR: &str = "GCB_TEST_WINDOWS_EXE";
/// Set to a directory the caller removes afterwards (scripts/test.sh does) to boot the template
/// there; otherwise it is a [`RunDir`] `gcb-wine-run-*` in the temp dir, removed by a later run.
pub const TEMPLATE_DIR_VAR: &str = "GCB_TEST_WINE_TEMPLATE_DIR";
/// The server itself, not Debian's wrapper script (which forces `-p0`).
const WINESERVER: &str = "/usr/lib/wine/wineserver64";
/// The most a first Wine start may take (it creates the whole prefix).
const BOOT_DEADLINE_SECS: &str = "300";
/// Files Wine rewrites; the rest of a prefix is shared between copies.
const PRIVATE_FILES: [&str; 4] = ["system.reg", "user.reg", "userdef.reg", ".update-timestamp"];

/// The Windows helper and a booted template prefix, shared by every Wine test of a run.
pub struct Wine {
    exe: PathBuf,
    template: PathBuf,
    /// The directory holding `template`, unless the caller gave one ([`TEMPLATE_DIR_VAR`]).
    _run_dir: Option<RunDir>,
}

/// A prefix of one test's own, inside its HOME.
pub struct WinePrefix {
    pub path: PathBuf,
}

impl Wine {
    /// The shared setup, or `None` (after saying why) when the Wine tier was not asked for
    /// (see [`tier`]) or, per [`skip_or_panic`], Wine cannot start here.
    pub fn shared_or_skip() -> Option<&'static Wine> {
        if !tier::asked_for(SlowTier::Wine) {
            return None;
        }
        static WINE: OnceLock<Result<Wine, String>> = OnceLock::new();
        match WINE.get_or_init(Wine::set_up) {
            Ok(wine) => Some(wine),
            Err(why) => {
                skip_or_panic("Wine (for the Windows build)", why);
                None
            }
        }
    }

    fn set_up() -> Result<Wine, String> {
        if !Path::new(WINE64).is_file() || !Path::new(WINESERVER).is_file() {
            return Err(format!(
                "{WINE64} is missing (apt-get install wine64; scripts/test.sh does)"
            ));
        }
        let exe = match std::env::var_os(WINDOWS_EXE_VAR) {
            Some(exe) => PathBuf::from(exe),
            None => build_exe()?,
        };
        let (template, run_dir) = match std::env::var_os(TEMPLATE_DIR_VAR) {
            Some(dir) => (PathBuf::from(dir).join("prefix"), None),
            None => {
                let run_dir = RunDir::new(&std::env::temp_dir(), "gcb-wine-run")?;
                (run_dir.path().join("prefix"), Some(run_dir))
            }
        };
        // A first boot on a loaded machine was seen to fail once (exit 53) and pass when run
        // again: one more try from an empty prefix before calling Wine unusable here.
        let mut last_failure = String::new();
        for _attempt in 0..2 {
            match boot_template(&template) {
                Ok(()) => {
                    return Ok(Wine {
                        exe,
                        template,
                        _run_dir: run_dir,
                    });
                }
                Err(why) => last_failure = why,
            }
        }
        Err(last_failure)
    }

    /// A fresh prefix for one test, under `home`.
    pub fn prefix_in(&self, home: &Path) -> WinePrefix {
        let path = home.join("wineprefix");
        let copied = Command::new("cp")
            .arg("-al")
            .arg(&self.template)
            .arg(&path)
            .status()
            .expect("run cp");
        assert!(copied.success(), "cannot copy the Wine prefix");
        for name in PRIVATE_FILES {
            let file = path.join(name);
            let _ = std::fs::remove_file(&file);
            std::fs::copy(self.template.join(name), &file).expect("copy a registry file");
        }
        let _ = std::fs::remove_file(path.join("wineserver"));
        // One wineserver for the whole test: Debian's wrapper starts it with `-p0`, so without
        // this every helper call would boot Wine's services again (seconds each).
        let started = wine_command("timeout", &path)
            .args(["60", WINESERVER, "-p"])
            .status()
            .expect("run wineserver");
        assert!(started.success(), "cannot start a wineserver: {started}");
        // Start Wine's services now, on null stdio: started by a helper call, they would hold
        // that call's stdout open and its reader would wait for them.
        let booted = wine_command("timeout", &path)
            .args([BOOT_DEADLINE_SECS, WINE64, "wineboot"])
            .status()
            .expect("run wineboot");
        assert!(booted.success(), "cannot start Wine's services: {booted}");
        WinePrefix { path }
    }

    /// How git and the tests run the helper: `wine64 helper.exe`.
    pub fn helper_command(&self) -> Vec<OsString> {
        vec![WINE64.into(), self.exe.clone().into()]
    }
}

impl WinePrefix {
    /// The environment every child needs to run the `.exe` in this prefix.
    pub fn vars(&self) -> Vec<(OsString, OsString)> {
        wine_vars(&self.path)
    }
}

impl Drop for WinePrefix {
    /// Stops this prefix's wineserver (it would linger a few seconds) before HOME goes.
    fn drop(&mut self) {
        let _ = wine_command("timeout", &self.path)
            .args(["30", WINESERVER, "-k"])
            .status();
    }
}

/// No debug chatter, no Mono or Gecko installer, no menu entries or file associations
/// (`winemenubuilder`, which writes under `~/.local/share` and `~/.config`); and one `TMPDIR` for
/// every Wine command of a prefix, whatever environment it otherwise gets: Debian's Wine keeps
/// the wineserver's socket under `TMPDIR`, so a command that saw another one (a test's cleared
/// environment has none) would start a second server instead of finding the first.
fn wine_vars(prefix: &Path) -> Vec<(OsString, OsString)> {
    vec![
        ("WINEPREFIX".into(), prefix.into()),
        ("TMPDIR".into(), std::env::temp_dir().into()),
        ("WINEDEBUG".into(), "-all".into()),
        (
            "WINEDLLOVERRIDES".into(),
            "mscoree,mshtml=;winemenubuilder.exe=d".into(),
        ),
    ]
}

/// `program` for Wine's own set-up in `prefix`, with nothing of the developer's environment
/// but PATH: HOME is the prefix and there is no DISPLAY, so Wine neither writes to the
/// developer's home nor opens a window on their desktop. Null stdio.
fn wine_command(program: &str, prefix: &Path) -> Command {
    let mut cmd = Command::new(program);
    cmd.env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("HOME", prefix)
        .envs(wine_vars(prefix))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    cmd
}

/// Boots a new prefix in `template` (emptied first) and waits for its wineserver to save it.
fn boot_template(template: &Path) -> Result<(), String> {
    let _ = wine_command("timeout", template)
        .args(["60", WINESERVER, "-k"])
        .status();
    let _ = std::fs::remove_dir_all(template);
    std::fs::create_dir_all(template).map_err(|e| format!("cannot create a prefix: {e}"))?;
    let status = wine_command("timeout", template)
        .args([BOOT_DEADLINE_SECS, WINE64, "wineboot", "--init"])
        .status()
        .map_err(|e| format!("cannot run {WINE64}: {e}"))?;
    // Let the boot's wineserver save the registry and exit before it is copied.
    let _ = wine_command("timeout", template)
        .args(["60", WINESERVER, "-w"])
        .status();
    if !status.success() || !template.join("system.reg").is_file() {
        return Err(format!(
            "wineboot failed ({status}); Wine cannot start here"
        ));
    }
    Ok(())
}

fn build_exe() -> Result<PathBuf, String> {
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/build-windows.sh");
    let out = Command::new(&script)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
    let exe = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    if !out.status.success() || !exe.is_file() {
        return Err(format!(
            "scripts/build-windows.sh could not build the Windows helper:\n{}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(exe)
}
