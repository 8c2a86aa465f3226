//! tokenfob: prints an HTTP bearer token, cached while good, renewed on its own when not.
//!
//! One front door: [`main`] answers a cache hit through `faces::quick` (which asks `broker::peek`), else parses the
//! command line with clap and hands it to a face (or to `wire`, which writes tools' configuration, or `manual`,
//! completions and man pages). Below the faces, data flows downhill: `broker` (cache or renew),
//! `engine` (runs a login recipe), `net` (one HTTP request), `profile` (the checked configuration), `presets` (the
//! seed kinds as recipes), `config` (the TOML file), `recipe` (the model the engine runs), `store` (the cache on
//! disk), `sys` (the operating system), and the pure ground floor (`secret`, `token`, `duration`, `jwt`,
//! `template`, `fileid`, `clock`, `error`, `log`, `environment`). docs/design.md has the map.

mod broker;
mod cli;
mod clock;
mod config;
mod demo;
mod duration;
mod engine;
mod environment;
mod error;
mod faces;
mod fileid;
mod jwt;
mod log;
mod manual;
mod net;
mod presets;
mod profile;
mod recipe;
mod secret;
mod store;
mod sys;
mod template;
mod token;
mod wire;

pub mod fuzzing;

use std::io::{IsTerminal, Write};

use clap::Parser;

use cli::{Cli, Command, Quick};
use environment::Env;
use error::Result;
use faces::{App, shell};

/// The whole program: the exit code of one run of `tokenfob` with this process's arguments and environment.
pub fn main() -> u8 {
    sys::start();
    let env = Env::from_process();
    if env.debug() {
        log::enable();
    }
    let mut stdout = std::io::stdout().lock();
    let args = cli::command_line(std::env::args_os());
    // Arguments that are not all UTF-8 are for clap to judge.
    let plain: Option<Vec<String>> = args.iter().skip(1).map(|a| a.clone().into_string().ok()).collect();
    if let Some(ask) = plain.as_deref().and_then(Quick::parse)
        && let Some(answered) = faces::quick::answer(ask, &env, &mut stdout)
    {
        return exit_code(answered);
    }
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout: a stdout that cannot take them fails, as any answer would.
            return match e.print() {
                _ if e.use_stderr() => 2,
                Err(w) if w.kind() != std::io::ErrorKind::BrokenPipe => 1,
                _ => 0,
            };
        }
    };
    exit_code(run(cli, env, &mut stdout))
}

/// The exit code of a run, its failure reported on stderr. A reader that went away (`| head`) is no failure: the
/// answer was offered and nobody took it.
fn exit_code(result: Result<()>) -> u8 {
    match result {
        Ok(()) => 0,
        Err(e) if e.is_broken_pipe() => 0,
        Err(e) => {
            log::error(format_args!("{e}"));
            e.exit_code()
        }
    }
}

/// Runs one parsed command line.
fn run(cli: Cli, env: Env, stdout: &mut dyn Write) -> Result<()> {
    let app = App { env, config_flag: cli.config, no_input: cli.no_input };
    match cli.command {
        Command::Get { profile, url, output, min_valid } => {
            shell::get(&app, profile.as_deref(), url.as_deref(), output, min_valid, stdout)
        }
        Command::Login { profile } => shell::login(&app, profile.as_deref(), stdout),
        Command::Erase { profile, token } => shell::erase(&app, profile.as_deref(), token, stdout),
        Command::Logout { profile } => shell::logout(&app, profile.as_deref(), stdout),
        Command::Secret { action } => faces::secret::run(&app, action, stdout),
        Command::Status { profile, json } => shell::status(&app, profile.as_deref(), json, stdout),
        Command::Protocol => faces::protocol::serve(&app, &mut std::io::stdin().lock(), stdout),
        Command::Kubectl { profile } => faces::kubectl::run(&app, profile.as_deref(), stdout),
        Command::GitCredential { action, profile } => {
            faces::git::run(&app, action, profile.as_deref(), &mut std::io::stdin().lock(), stdout)
        }
        Command::CargoCredential => faces::cargo::run(&app, &mut std::io::stdin().lock(), stdout),
        Command::DockerCredential { action } => faces::docker::run(&app, action, &mut std::io::stdin().lock(), stdout),
        Command::Goauth { url, profile } => {
            // Go always passes the response with a URL; a terminal on stdin is a person trying it by hand.
            let stdin = std::io::stdin();
            let mut input = (url.is_some() && !stdin.is_terminal()).then(|| stdin.lock());
            let input = input.as_mut().map(|i| i as &mut dyn std::io::Read);
            faces::goauth::run(&app, profile.as_deref(), url.as_deref(), input, stdout)
        }
        Command::TerraformCredentials { profile, min_valid, verb, host } => {
            let ask = faces::terraform::Ask { verb, profile: profile.as_deref(), min_valid, host: &host };
            faces::terraform::run(&app, ask, &mut std::io::stdin().lock(), stdout)
        }
        Command::CredentialHelper { profile, command: cli::HelperCommand::Get } => {
            faces::bazel::get(&app, profile.as_deref(), &mut std::io::stdin().lock(), stdout)
        }
        Command::Exec { profile, var, command } => shell::exec(&app, &profile, &var, &command),
        Command::Demo => demo::run(&app.env, stdout),
        Command::Wire { tool, profile, apply, force, url, registry, bin_dir } => {
            let ask = wire::Ask { tool, apply, force, url: url.as_deref(), registry: registry.as_deref() };
            wire::run(&app, profile.as_deref(), &ask, bin_dir.as_deref(), stdout)
        }
        Command::Completions { shell } => manual::completions(shell, stdout),
        Command::Man { subcommand } => manual::man(subcommand.as_deref(), stdout),
        Command::Setup(args) => faces::setup::run(&app, *args, stdout),
        Command::Check { profile, offline } => faces::check::run(&app, profile.as_deref(), offline, stdout),
    }
}
