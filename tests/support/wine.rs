//! The Windows tokenfob.exe under Wine (issue #13): where the exe and Wine are, Windows forms of the sandbox's
//! paths, and one persistent wineserver for the whole test run.
//!
//! `.ci/windows` builds the exe (with the test-only ProcessPrng DLL beside it) and a Wine prefix, and prints the
//! variables read here: `TOKENFOB_WINDOWS_EXE`, `WINEPREFIX` and `TOKENFOB_WINE` (the loader, `wine64`). Without
//! them the Windows tests skip, saying how to enable them; with `TOKENFOB_REQUIRE_TOOLS=1` (CI) they fail instead.
//!
//! Wine hands the Unix environment to the Windows program, except the variables it owns (`PATH`, `HOME`, `TEMP`,
//! and the profile's `APPDATA`, `LOCALAPPDATA`, `USERPROFILE`, which come from the prefix). A Unix path given to
//! the exe is named by its Windows form on drive `Z:`, which Wine maps to `/`.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use super::server::tools_required;

/// Where the Windows build and the Wine to run it are.
#[derive(Debug)]
pub struct Wine {
    /// The Windows tokenfob.exe (its Unix path).
    pub exe: PathBuf,
    /// The Wine loader, `wine64`.
    pub loader: PathBuf,
    /// The Wine prefix (`WINEPREFIX`).
    pub prefix: PathBuf,
}

/// The Windows build under Wine, or `None` (with a printed reason) when `.ci/windows` has not been run in this
/// shell; with `TOKENFOB_REQUIRE_TOOLS=1` its absence fails the test.
pub fn wine() -> Option<&'static Wine> {
    static WINE: OnceLock<Result<Wine, String>> = OnceLock::new();
    match WINE.get_or_init(find) {
        Ok(wine) => Some(wine),
        Err(why) => {
            assert!(!tools_required(), "the Windows tests cannot run: {why} (TOKENFOB_REQUIRE_TOOLS=1)");
            eprintln!(
                "skipping the Windows test: {why}; run `eval \"$(bash .ci/windows)\"` first to build tokenfob.exe \
                 and a Wine prefix (set TOKENFOB_REQUIRE_TOOLS=1 to make this a failure)"
            );
            None
        }
    }
}

/// Reads the variables, checks them, and starts the wineserver.
#[allow(clippy::disallowed_methods)] // the test process's own environment
fn find() -> Result<Wine, String> {
    let var = |name: &str| std::env::var_os(name).map(PathBuf::from).ok_or(format!("{name} is not set"));
    let wine = Wine { exe: var("TOKENFOB_WINDOWS_EXE")?, loader: var("TOKENFOB_WINE")?, prefix: var("WINEPREFIX")? };
    for (what, path) in [("TOKENFOB_WINDOWS_EXE", &wine.exe), ("TOKENFOB_WINE", &wine.loader)] {
        if !path.is_file() {
            return Err(format!("{what} names {}, which is not a file", path.display()));
        }
    }
    if !wine.exe.with_file_name("bcryptprimitives.dll").is_file() {
        return Err(format!("the ProcessPrng DLL is not beside {} (.ci/windows puts it there)", wine.exe.display()));
    }
    wine.start_server()?;
    Ok(wine)
}

impl Wine {
    /// Starts a wineserver that outlives each Windows process (each then starts in a fraction of a second instead
    /// of about three) and ends by itself a minute after the last one, then runs the exe once so that Wine's own
    /// background processes are up. Both get no stdio of ours: a wineserver started by a test's child would hold
    /// that child's output pipe open, and the test would wait for the server to end.
    fn start_server(&self) -> Result<(), String> {
        let server = ["wineserver64", "wineserver"]
            .iter()
            .map(|name| self.loader.with_file_name(name))
            .find(|p| p.is_file())
            .ok_or(format!("no wineserver beside {}", self.loader.display()))?;
        // It fails when a server is already running for the prefix (another test run's): that one serves us too.
        let _ = Command::new(&server).arg("-p60").envs(self.env()).stdin(Stdio::null()).status();
        let mut warm = self.command();
        warm.arg("--version").envs(self.env()).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null());
        match warm.status() {
            Ok(status) if status.success() => Ok(()),
            Ok(status) => Err(format!("`wine64 tokenfob.exe --version` failed ({status})")),
            Err(e) => Err(format!("running {}: {e}", self.loader.display())),
        }
    }

    /// `wine64 tokenfob.exe`, to which the caller adds arguments and the environment (see [`Wine::env`]).
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.loader);
        cmd.arg(&self.exe);
        cmd
    }

    /// The variables every Wine process needs: the prefix, quiet Wine, and our ProcessPrng DLL before Wine's own.
    pub fn env(&self) -> [(&'static str, OsString); 3] {
        [
            ("WINEPREFIX", self.prefix.clone().into()),
            ("WINEDEBUG", "-all".into()),
            ("WINEDLLOVERRIDES", "bcryptprimitives=n,b".into()),
        ]
    }
}

/// The Windows form of an absolute Unix path: drive `Z:` is `/` in every Wine prefix.
pub fn windows_path(path: &Path) -> String {
    let text = path.to_str().expect("a UTF-8 path");
    assert!(text.starts_with('/'), "not an absolute path: {text}");
    format!("Z:{}", text.replace('/', "\\"))
}
