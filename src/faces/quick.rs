//! The fast path of the plain forms `get PROFILE [-o FORMAT]` and `kubectl PROFILE` (`cli::Quick`): answered from
//! a fresh cache entry through `broker::peek`, before clap and the TOML parser, and printed by the same functions as
//! the full path's `shell::get` and `kubectl::run`. `None` means "take the full path", which decides everything
//! this one cannot.

use std::io::Write;

use super::{kubectl, shell};
use crate::cli::Quick;
use crate::environment::Env;
use crate::error::Result;

/// The answer to `ask` from the cache, or `None` when the full path must run.
pub(crate) fn answer(ask: Quick<'_>, env: &Env, out: &mut dyn Write) -> Option<Result<()>> {
    let now = crate::clock::now();
    // The plain forms have no --config: the configuration is where the environment says.
    let config = crate::store::paths::config_file(None, env).ok()?;
    let cache = crate::store::paths::cache_dir(env).ok()?;
    let served = crate::broker::peek(&config, cache, ask.profile(), now)?;
    match ask {
        Quick::Get { format, .. } => Some(shell::print(format, &served, out)),
        Quick::Kubectl { .. } => {
            let info = kubectl::exec_info(env.get("KUBERNETES_EXEC_INFO")).ok()?;
            Some(kubectl::print(&info, &served, now, out))
        }
    }
}
