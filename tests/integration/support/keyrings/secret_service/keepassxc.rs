//! KeePassXC (2.7), headless, serving its "Secret Service Integration".
//!
//! Why this way: KeePassXC is a GUI program; with `QT_QPA_PLATFORM=offscreen` it runs with no
//! display, and `--pw-stdin` opens the database without its unlock dialog. It only exposes a
//! database that names a group to expose (the custom-data item `FDO_SECRETS_EXPOSED_GROUP`,
//! which its GUI writes and `keepassxc-cli` cannot): so the database is made with `keepassxc-cli`,
//! exported to XML, given that item, and imported back. Its settings file turns the integration
//! on and every confirmation dialog off (invisible here, they would never be answered).
//! See docs/testing.md for what a client meets on it.

use std::path::Path;
use std::process::Child;
use std::sync::OnceLock;

use base64::Engine as _;

use super::SecretServiceSession;
use super::deadline::run_answered;
use super::prompts::run_client;
use super::sandbox::Sandbox;

/// Password of the test database (a fixture, not a secret).
const DATABASE_PASSWORD: &str = "test";
/// The database file; its base name names the collection (`…/collection/Passwords`).
const DATABASE: &str = "Passwords.kdbx";
/// The group whose entries are the collection's items.
const EXPOSED_GROUP: &str = "Secret Service";
/// Key derivation time at each opening, in ms: low, as nothing here guards the fixture.
const DECRYPTION_MS: &str = "100";

/// Writes the database and the settings file in `sandbox`.
pub(super) fn prepare(sandbox: &Sandbox, unlock_before_search: bool) -> Result<(), String> {
    // keepassxc-cli takes over a second for the four steps on a loaded machine: the database
    // is made once per test process and copied (its group's UUID is then the same in each).
    static TEMPLATE: OnceLock<Result<Vec<u8>, String>> = OnceLock::new();
    let database = TEMPLATE.get_or_init(|| make_database(sandbox)).clone()?;
    std::fs::write(sandbox.path(DATABASE), database).map_err(|e| format!("{DATABASE}: {e}"))?;
    let settings = format!(
        "[General]\nConfigVersion=2\n\n[FdoSecrets]\nEnabled=true\nShowNotification=false\n\
         ConfirmDeleteItem=false\nConfirmAccessItem=false\nUnlockBeforeSearch={unlock_before_search}\n"
    );
    std::fs::write(sandbox.path("keepassxc.ini"), settings)
        .map_err(|e| format!("keepassxc.ini: {e}"))
}

/// Makes a database with [`EXPOSED_GROUP`] exposed (in `sandbox`) and returns its bytes.
fn make_database(sandbox: &Sandbox) -> Result<Vec<u8>, String> {
    let blank = sandbox.path("blank.kdbx");
    let once = format!("{DATABASE_PASSWORD}\n");
    let twice = format!("{once}{once}");
    let create = ["db-create", "-q", "-p", "-t", DECRYPTION_MS];
    cli(sandbox, &create, &[&blank], &twice)?;
    let group = Path::new(EXPOSED_GROUP);
    cli(sandbox, &["mkdir", "-q"], &[&blank, group], &once)?;
    let exported = cli(sandbox, &["export", "-q", "-f", "xml"], &[&blank], &once)?;
    let uuid = group_uuid(&exported, EXPOSED_GROUP)?;
    let item = format!(
        "<CustomData><Item><Key>FDO_SECRETS_EXPOSED_GROUP</Key><Value>{uuid}</Value></Item>\
         </CustomData></Meta>"
    );
    if !exported.contains("</Meta>") {
        return Err("keepassxc-cli export wrote no <Meta>".to_owned());
    }
    let xml = sandbox.path("exposed.xml");
    std::fs::write(&xml, exported.replacen("</Meta>", &item, 1))
        .map_err(|e| format!("exposed.xml: {e}"))?;
    let made = sandbox.path("template.kdbx");
    let import = ["import", "-q", "-p", "-t", DECRYPTION_MS];
    cli(sandbox, &import, &[&xml, &made], &twice)?;
    std::fs::read(&made).map_err(|e| format!("template.kdbx: {e}"))
}

/// Starts KeePassXC on `bus_address` with the database opened (password on stdin).
pub(super) fn spawn(sandbox: &Sandbox, bus_address: &str) -> Result<Child, String> {
    let mut cmd = sandbox.command("keepassxc");
    cmd.arg("--config")
        .arg(sandbox.path("keepassxc.ini"))
        .arg("--localconfig")
        .arg(sandbox.path("keepassxc-local.ini"))
        .arg("--pw-stdin")
        .arg(sandbox.path(DATABASE))
        .env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        .env("QT_QPA_PLATFORM", "offscreen");
    let mut child = sandbox.spawn(&mut cmd, "keepassxc.log", true)?;
    Sandbox::feed(&mut child, &format!("{DATABASE_PASSWORD}\n"))?;
    Ok(child)
}

impl SecretServiceSession {
    /// Unlocks the database through KeePassXC's own D-Bus call `openDatabase(file, password)`
    /// (what a second `keepassxc --pw-stdin` would hand over), by a client that reads the
    /// password from stdin. It also closes an unlock dialog a client's `Unlock` left open.
    pub(super) fn reopen_database(&self) {
        let database = self.sandbox.path(DATABASE);
        let out = run_client(
            self,
            &["open-keepassxc", &database.to_string_lossy()],
            DATABASE_PASSWORD,
        );
        assert!(out.success(), "{out:?}\n{}", self.diagnostics());
    }
}

/// Runs `keepassxc-cli ARGS PATHS` with `stdin`, returning its stdout.
fn cli(sandbox: &Sandbox, args: &[&str], paths: &[&Path], stdin: &str) -> Result<String, String> {
    let mut cmd = sandbox.command("keepassxc-cli");
    cmd.args(args).args(paths);
    let out = run_answered(&mut cmd, stdin, "keepassxc-cli");
    if out.success() {
        Ok(out.stdout)
    } else {
        Err(format!("keepassxc-cli {} failed: {}", args[0], out.stderr))
    }
}

/// The UUID of the group named `name` in a KeePass XML export, as `{8-4-4-4-12}` hex (how
/// KeePassXC writes it in custom data). The export has each group's `<UUID>` (base64) just
/// before its `<Name>`.
fn group_uuid(xml: &str, name: &str) -> Result<String, String> {
    let at = xml
        .find(&format!("<Name>{name}</Name>"))
        .ok_or_else(|| format!("no group {name:?} in the export"))?;
    let before = &xml[..at];
    let start = before.rfind("<UUID>").ok_or("no <UUID> before the group")? + "<UUID>".len();
    let end = start + before[start..].find("</UUID>").ok_or("unclosed <UUID>")?;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(before[start..end].trim())
        .map_err(|e| format!("group UUID: {e}"))?;
    if bytes.len() != 16 {
        return Err(format!("group UUID has {} bytes", bytes.len()));
    }
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!(
        "{{{}-{}-{}-{}-{}}}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    ))
}
