//! Every path tokenfob uses: the configuration file and the cache directory.
//!
//! `--config`, else `$TOKENFOB_CONFIG`, else `<user config dir>/tokenfob/config.toml`; the cache is
//! `$TOKENFOB_CACHE_DIR`, else `<user cache dir>/tokenfob/`. The user directories come from the `directories` crate
//! (XDG on Linux, `~/Library/...` on macOS).

use std::path::{Path, PathBuf};

use crate::environment::{self, Env};
use crate::error::{Error, Result};

/// The configuration file to read.
pub fn config_file(flag: Option<&Path>, env: &Env) -> Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path.to_owned());
    }
    if let Some(path) = env.get(environment::CONFIG) {
        return Ok(PathBuf::from(path));
    }
    let base = directories::BaseDirs::new().ok_or_else(no_home)?;
    Ok(base.config_dir().join("tokenfob").join("config.toml"))
}

/// The cache directory.
pub fn cache_dir(env: &Env) -> Result<PathBuf> {
    if let Some(path) = env.get(environment::CACHE_DIR) {
        return Ok(PathBuf::from(path));
    }
    let base = directories::BaseDirs::new().ok_or_else(no_home)?;
    Ok(base.cache_dir().join("tokenfob"))
}

fn no_home() -> Error {
    Error::Config(format!(
        "finding the home directory: $HOME is not set (set HOME, or {} and {})",
        environment::CONFIG,
        environment::CACHE_DIR
    ))
}
