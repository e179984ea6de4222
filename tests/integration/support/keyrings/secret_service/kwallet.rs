//! KWallet (kwalletd5), headless, serving the Secret Service API (it does by default).
//!
//! Why this way: with no wallet file kwalletd5 shows a new-wallet dialog, invisible headless,
//! and waits forever. A KDE login avoids it through pam_kwallet5, which creates the wallet with
//! `pamOpen(wallet, key, 0)`, the key being PBKDF2-SHA512 of the password over the wallet's
//! 56-byte salt file (50,000 rounds, 56 bytes). So the harness writes `kwalletrc` (no prompts,
//! one wallet, kept open), a salt, starts kwalletd5, calls `pamOpen` with the key of an empty
//! password, quits it over D-Bus, and starts it again: only then does it export the wallet as a
//! collection. The wallet then opens with the empty password, so `Unlock` never shows a dialog.
//! See docs/testing.md for what a client meets on it.

use std::io::Read;
use std::process::Child;
use std::time::{Duration, Instant};

use super::deadline::run_answered;
use super::sandbox::{self, Sandbox};
use super::{SecretServiceSession, lock};

const WALLET: &str = "kdewallet";
const KWALLETD: &str = "org.kde.kwalletd5";
/// pam_kwallet5's key derivation: PBKDF2-HMAC-SHA512, this many rounds, this many bytes.
const KEY_ROUNDS: u32 = 50_000;
const KEY_BYTES: usize = 56;

/// Writes `kwalletrc` and the wallet's salt in `sandbox`.
pub(super) fn prepare(sandbox: &Sandbox) -> Result<(), String> {
    let rc = format!(
        "[Wallet]\nEnabled=true\nFirst Use=false\nDefault Wallet={WALLET}\nUse One Wallet=true\n\
         Close When Idle=false\nPrompt on Open=false\nLeave Open=true\n"
    );
    std::fs::write(sandbox.path("config/kwalletrc"), rc).map_err(|e| format!("kwalletrc: {e}"))?;
    let dir = sandbox.path("data/kwalletd");
    std::fs::create_dir_all(&dir).map_err(|e| format!("mkdir kwalletd: {e}"))?;
    let mut salt = [0u8; KEY_BYTES];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut salt))
        .map_err(|e| format!("/dev/urandom: {e}"))?;
    std::fs::write(dir.join(format!("{WALLET}.salt")), salt).map_err(|e| format!("salt: {e}"))
}

/// Starts kwalletd5 on `bus_address`, with no display.
pub(super) fn spawn(sandbox: &Sandbox, bus_address: &str) -> Result<Child, String> {
    let mut cmd = sandbox.command("kwalletd5");
    cmd.env("DBUS_SESSION_BUS_ADDRESS", bus_address)
        .env("QT_QPA_PLATFORM", "offscreen");
    sandbox.spawn(&mut cmd, "kwalletd5.log", false)
}

impl SecretServiceSession {
    /// Creates the wallet as pam_kwallet5 would, then starts kwalletd5 again so that it
    /// exports it as a collection.
    pub(super) fn create_wallet(&self) -> Result<(), String> {
        self.wait_until(|s| s.name_has_owner(KWALLETD), "kwalletd5 on the bus")?;
        let key = self.wallet_key()?;
        let key_arg = key.iter().map(u8::to_string).collect::<Vec<_>>().join(",");
        let opened = self.bus_call(
            KWALLETD,
            "/modules/kwalletd5",
            "org.kde.KWallet.pamOpen",
            &[
                &format!("string:{WALLET}"),
                &format!("array:byte:{key_arg}"),
                "int32:0",
            ],
        );
        if !opened.success() {
            return Err(format!("pamOpen failed: {opened:?}"));
        }
        let wallet = self.sandbox.path(&format!("data/kwalletd/{WALLET}.kwl"));
        self.wait_until(|_| wallet.is_file(), "the wallet file")?;
        self.quit_kwallet();
        let new = spawn(&self.sandbox, &self.bus_address)?;
        *lock(&self.daemon) = new;
        Ok(())
    }

    /// Stops kwalletd5 with its D-Bus `quit` (a signal can lose its last writes), then makes
    /// sure it is gone.
    pub(super) fn quit_kwallet(&self) {
        let _ = self.bus_call(
            KWALLETD,
            "/MainApplication",
            "org.qtproject.Qt.QCoreApplication.quit",
            &[],
        );
        let mut daemon = lock(&self.daemon);
        let deadline = Instant::now() + Duration::from_secs(10);
        while daemon.try_wait().ok().flatten().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        sandbox::kill(&mut daemon);
    }

    /// PBKDF2-SHA512 of the empty password over the wallet's salt, computed by Python's
    /// hashlib (the standard library has no SHA-512).
    fn wallet_key(&self) -> Result<Vec<u8>, String> {
        let salt = self.sandbox.path(&format!("data/kwalletd/{WALLET}.salt"));
        let script = format!(
            "import hashlib, sys\n\
             key = hashlib.pbkdf2_hmac('sha512', b'', open(sys.argv[1], 'rb').read(), {KEY_ROUNDS}, {KEY_BYTES})\n\
             print(key.hex())"
        );
        let mut cmd = self.sandbox.command(super::prompts::SYSTEM_PYTHON);
        cmd.args(["-c", &script]).arg(&salt);
        let out = run_answered(&mut cmd, "", "python3 pbkdf2");
        let hex = out.stdout.trim();
        if !out.success() || hex.len() != KEY_BYTES * 2 {
            return Err(format!("cannot derive the wallet key: {out:?}"));
        }
        (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).map_err(|e| format!("key: {e}")))
            .collect()
    }
}
