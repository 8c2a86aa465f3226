//! The command line, as clap types only: no I/O here.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// Prints an HTTP bearer token: cached while good, renewed on its own when not.
#[derive(Debug, Parser)]
#[command(name = "tokenfob", version, about, max_term_width = 100)]
pub struct Cli {
    /// Configuration file (default: $TOKENFOB_CONFIG, else <config dir>/tokenfob/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Never prompt; fail with exit 5 when a secret must be typed (also TOKENFOB_NO_INPUT=1).
    #[arg(long, global = true)]
    pub no_input: bool,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Print a token, renewing it first if needed.
    Get {
        /// The profile (default: chosen by --url, $TOKENFOB_PROFILE, default_profile, or the only one).
        profile: Option<String>,
        /// Choose the profile whose `match` prefix covers this URL.
        #[arg(long)]
        url: Option<String>,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Token)]
        output: Format,
        /// Renew a token that would expire sooner than this (e.g. 10m).
        #[arg(long, value_parser = duration, value_name = "DURATION")]
        min_valid: Option<Duration>,
    },
    /// Log in afresh, whatever the cache holds.
    Login {
        /// The profile.
        profile: Option<String>,
    },
    /// Forget the cached token.
    Erase {
        /// The profile.
        profile: Option<String>,
        /// Forget it only if the cache still holds exactly this token.
        #[arg(long, value_name = "T")]
        token: Option<String>,
    },
    /// Revoke the token server-side where the API can, and forget it.
    Logout {
        /// The profile.
        profile: Option<String>,
    },
    /// Show profiles and what is cached (never a token).
    Status {
        /// Only this profile.
        profile: Option<String>,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Answer JSON requests, one per line on stdin, one per line on stdout.
    Protocol,
    /// Print a Kubernetes ExecCredential (for a kubeconfig `exec` user).
    Kubectl {
        /// The profile.
        profile: Option<String>,
    },
    /// Speak git's credential-helper protocol (set `credential.helper` to `!tokenfob git-credential`).
    GitCredential {
        /// What git asks: get, store or erase.
        #[arg(value_enum)]
        action: GitAction,
        /// Use this profile instead of choosing one by the remote's URL.
        #[arg(long)]
        profile: Option<String>,
    },
    /// Run a command with the token in an environment variable.
    Exec {
        /// The profile.
        profile: String,
        /// The variable that carries the token.
        #[arg(long = "env", value_name = "NAME", default_value = "TOKENFOB_TOKEN")]
        var: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Run against built-in emulations of the three seed login systems and show what happens.
    Demo,
}

/// What git asks a credential helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum GitAction {
    /// Give a credential.
    Get,
    /// Remember one (tokenfob already has it: a no-op).
    Store,
    /// Forget one that the server rejected.
    Erase,
}

/// Output formats of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// The token and a newline.
    Token,
    /// `Authorization: Bearer <token>`.
    Header,
    /// One JSON object.
    Json,
    /// A curl config line for `curl -K -`.
    Curl,
}

fn duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text)
}
