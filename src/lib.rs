//! tokenfob: prints an HTTP bearer token, cached while good, renewed on its own when not.
//!
//! `main.rs` tries the cache-hit shortcut (`hit`), else parses the command line and calls [`run`]; everything else
//! lives in one module per concern: `config` (the TOML file), `secret` (unprintable secrets and their sources),
//! `recipe` (login recipes and the seed presets), `oauth` (the OAuth 2.0 preset and its interactive steps), `login`
//! (the engine that runs them), `reply` (reading answers), `http` (sending requests), `cache` (entries, atomic
//! writes, the lock), `token` (freshness), `broker` (cache or renew), `faces` (shell, JSON, kubectl and git output),
//! `emulator` and `demo` (the built-in seed servers), and small helpers (`clock`, `environment`, `paths`, `jwt`,
//! `template`, `tty`, `sys`, `log`, `error`, `child`).

pub mod broker;
pub mod cache;
pub(crate) mod child;
pub(crate) mod cleanup;
pub mod cli;
pub mod clock;
pub mod config;
pub mod demo;
pub mod duration;
pub mod environment;
pub mod error;
pub mod faces;
pub mod hit;
pub mod http;
pub mod jwt;
pub mod log;
pub mod login;
pub mod oauth;
pub mod paths;
pub mod recipe;
pub(crate) mod redact;
pub mod reply;
pub mod secret;
pub mod sys;
pub mod template;
pub mod token;
pub mod tty;

use std::io::Write;
use std::path::PathBuf;

use broker::Broker;
use cache::Cache;
use cli::{Cli, Command};
use config::Config;
use environment::Env;
use error::{Error, Result};

/// What every command needs: the environment and the global flags.
pub struct App {
    /// The process environment.
    pub env: Env,
    /// `--config`.
    pub config_flag: Option<PathBuf>,
    /// `--no-input`.
    pub no_input: bool,
}

impl App {
    /// Loads the configuration, printing its warnings.
    pub fn config(&self) -> Result<Config> {
        let path = paths::config_file(self.config_flag.as_deref(), &self.env)?;
        let config = config::load(&path)?;
        for warning in &config.warnings {
            log::warn(format_args!("{warning}"));
        }
        Ok(config)
    }

    /// A broker on the cache directory, for profiles of `config`.
    pub fn broker(&self, config: &Config) -> Result<Broker<'_>> {
        Ok(Broker {
            env: &self.env,
            cache: Cache::new(paths::cache_dir(&self.env)?),
            may_prompt: !self.no_input && !self.env.flag(environment::NO_INPUT),
            lock_timeout: self.env.lock_timeout().map_err(Error::Config)?,
            // A configuration that deserves a warning is never stamped: it always takes the full path, so the
            // warning is printed on every call, cache hits included.
            config_stamp: config.stamp.clone().filter(|_| config.warnings.is_empty()),
        })
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli, env: Env, stdout: &mut dyn Write) -> Result<()> {
    if env.debug() {
        log::enable();
    }
    let app = App { env, config_flag: cli.config, no_input: cli.no_input };
    use faces::shell;
    match cli.command {
        Command::Get { profile, url, output, min_valid } => {
            shell::get(&app, profile.as_deref(), url.as_deref(), output, min_valid, stdout)
        }
        Command::Login { profile } => shell::login(&app, profile.as_deref(), stdout),
        Command::Erase { profile, token } => shell::erase(&app, profile.as_deref(), token, stdout),
        Command::Logout { profile } => shell::logout(&app, profile.as_deref(), stdout),
        Command::Status { profile, json } => shell::status(&app, profile.as_deref(), json, stdout),
        Command::Protocol => faces::protocol::serve(&app, &mut std::io::stdin().lock(), stdout),
        Command::Kubectl { profile } => faces::kubectl::run(&app, profile.as_deref(), stdout),
        Command::GitCredential { action, profile } => {
            faces::git::run(&app, action, profile.as_deref(), &mut std::io::stdin().lock(), stdout)
        }
        Command::Exec { profile, var, command } => shell::exec(&app, &profile, &var, &command),
        Command::Demo => demo::run(&app.env, stdout),
    }
}
