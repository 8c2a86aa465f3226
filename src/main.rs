//! The `tokenfob` executable: parse, run, turn the result into an exit code.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match tokenfob::cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
        }
    };
    let env = tokenfob::environment::Env::from_process();
    match tokenfob::run(cli, env, &mut std::io::stdout().lock()) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("tokenfob: {e}");
            ExitCode::from(e.exit_code())
        }
    }
}
