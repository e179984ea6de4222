//! The examples of each command, shown at the end of its `--help` and as the EXAMPLES section
//! of its man page: one text for both, so they cannot drift apart. Each starts with the line
//! `Examples:`, then one example a line.

pub const PROGRAM: &str = "Examples:
  git-credential-bitbucket setup
  git-credential-bitbucket login --expires 2027-03-31
  git-credential-bitbucket status
  git-credential-bitbucket doctor";

pub const GET: &str = "Examples:
  printf 'protocol=https\\nhost=bitbucket.org\\n\\n' | git-credential-bitbucket get";

pub const STORE: &str = "Examples:
  git fetch   (a request with a token typed at git's prompt succeeded: git runs `store`)";

pub const ERASE: &str = "Examples:
  printf 'protocol=https\\nhost=bitbucket.org\\n\\n' | git credential reject   (git runs `erase`)";

pub const LOGIN: &str = "Examples:
  git-credential-bitbucket login --expires 2027-03-31
  git-credential-bitbucket login --workspace acme --verify https://bitbucket.org/acme/app.git
  vault read -field=token secret/bitbucket | git-credential-bitbucket login --stdin";

pub const EXPIRY: &str = "Examples:
  git-credential-bitbucket expiry 2027-03-31
  git-credential-bitbucket expiry --workspace acme 2027-03-31";

pub const LOGOUT: &str = "Examples:
  git-credential-bitbucket logout
  git-credential-bitbucket logout --workspace acme
  git-credential-bitbucket logout --all";

pub const STATUS: &str = "Examples:
  git-credential-bitbucket status
  git-credential-bitbucket status --check https://bitbucket.org/acme/app.git
  git-credential-bitbucket status --json";

pub const SETUP: &str = "Examples:
  git-credential-bitbucket setup
  git-credential-bitbucket --store keyutils setup --system";

pub const TEARDOWN: &str = "Examples:
  git-credential-bitbucket teardown
  git-credential-bitbucket teardown --system";

pub const DOCTOR: &str = "Examples:
  cd path/to/repo && git-credential-bitbucket doctor";

pub const MIGRATE: &str = "Examples:
  git-credential-bitbucket migrate --dry-run
  git-credential-bitbucket migrate";
