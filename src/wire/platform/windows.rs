//! Windows: a symlink needs a privilege most users lack, so a helper name is a copy of tokenfob.exe (as
//! docs/integrations.md says for Terraform and Docker), and a copy with the same bytes counts as already wired;
//! files have no permission bits to keep. The tools' home is `%USERPROFILE%` (where docker, kubectl, cargo and npm
//! look), else `%HOME%`. Snippets are `cmd` lines; Terraform's files are under `%APPDATA%`, as it reads them there, and
//! pnpm's token helper is a `.cmd` script (pnpm runs it through the shell).

use std::fs::{File, Metadata, OpenOptions};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::environment::Env;

/// The home directory the tools keep their configuration in: `%USERPROFILE%`, else `%HOME%`, when absolute.
pub(super) fn home(env: &Env) -> Option<PathBuf> {
    ["USERPROFILE", "HOME"].into_iter().filter_map(|v| env.get(v)).map(PathBuf::from).find(|h| h.is_absolute())
}

/// What must be set for [`home`], in messages.
pub(super) const HOME: &str = "%USERPROFILE%";

/// `path` with every link resolved, in the form users and tools read (`C:\...`, `\\server\...`), not the `\\?\`
/// one `canonicalize` gives, which a kubeconfig or a message should not carry.
pub(super) fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    let real = std::fs::canonicalize(path)?;
    let Some(text) = real.to_str() else { return Ok(real) };
    let plain = match (text.strip_prefix(r"\\?\UNC\"), text.strip_prefix(r"\\?\")) {
        (Some(unc), _) => format!(r"\\{unc}"),
        (None, Some(local)) if local.as_bytes().get(1) == Some(&b':') => local.to_owned(),
        _ => return Ok(real),
    };
    Ok(PathBuf::from(plain))
}

/// What is at `path` instead of a copy of tokenfob, in words: a file with other bytes may be a copy an upgrade left
/// behind.
pub(super) fn what_is_there(_path: &Path, meta: &Metadata) -> String {
    if meta.is_file() {
        "a file that is not a copy of this tokenfob.exe (an older copy, after an upgrade?)".into()
    } else {
        format!("a {}", crate::sys::fs::kind(meta))
    }
}

/// True when `path` (whose metadata is `meta`) is a copy of `program`: a regular file with the same bytes.
pub(super) fn links_to(path: &Path, meta: &Metadata, program: &Path) -> bool {
    let Ok(theirs) = std::fs::metadata(program) else { return false };
    meta.is_file() && meta.len() == theirs.len() && same_bytes(path, program).unwrap_or(false)
}

fn same_bytes(a: &Path, b: &Path) -> std::io::Result<bool> {
    let (mut a, mut b) = (File::open(a)?, File::open(b)?);
    let (mut x, mut y) = (vec![0u8; 1 << 16], vec![0u8; 1 << 16]);
    loop {
        let n = a.read(&mut x)?;
        if n == 0 {
            return Ok(b.read(&mut y)? == 0);
        }
        b.read_exact(&mut y[..n])?;
        if x[..n] != y[..n] {
            return Ok(false);
        }
    }
}

/// Makes `at` a copy of `target` (which, when relative, names a file beside `at`, as a symlink's target would).
pub(super) fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    let source = at.parent().map_or_else(|| target.to_owned(), |dir| dir.join(target));
    std::fs::copy(source, at).map(|_| ())
}

/// Windows files have no permission bits.
pub(super) fn mode(_meta: &Metadata) -> u32 {
    0
}

/// Creates `path`, which must not exist.
pub(super) fn create_new(path: &Path, _mode: u32) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).open(path)
}

/// Nothing to set.
pub(super) fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// `word` as one `cmd` word (in double quotes when it needs them).
pub(super) fn quote(word: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || "/\\._-+:=@,".contains(c);
    if !word.is_empty() && word.chars().all(plain) {
        word.to_owned()
    } else {
        format!("\"{}\"", word.replace('"', "\"\""))
    }
}

/// How git's `sh` (Git for Windows runs `!` helpers with its bash) names the program at `path`: with forward
/// slashes, which a backslash would otherwise escape away.
pub(super) fn git_path(path: &str) -> String {
    path.replace('\\', "/")
}

/// The printed command that makes `at` (already quoted) a helper name for `target`: a copy.
pub(super) fn link_line(target: &Path, at: &str) -> String {
    format!("copy {} {at}", quote(&target.display().to_string()))
}

/// The printed command that creates the directory `dir` (already quoted) and its parents.
pub(super) fn mkdir_line(dir: &str) -> String {
    format!("mkdir {dir}")
}

/// Terraform's default CLI configuration file (`%APPDATA%\terraform.rc`), its plugin `name` (in
/// `%APPDATA%\terraform.d\plugins`), and how snippets name the plugin directory and the plugin.
pub(super) fn terraform(env: &Env, home: &Path, name: &str) -> (PathBuf, PathBuf, String, String) {
    let appdata = env
        .get("APPDATA")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .unwrap_or_else(|| home.join("AppData\\Roaming"));
    let shown = r"%APPDATA%\terraform.d\plugins";
    let link = appdata.join("terraform.d").join("plugins").join(name);
    (appdata.join("terraform.rc"), link, format!("\"{shown}\""), format!("\"{shown}\\{name}\""))
}

/// The file name and text of a script that prints profile `profile`'s bearer token (pnpm's tokenHelper).
pub(super) fn token_script(program: &Path, profile: &str) -> (String, String) {
    let text = format!(
        "@echo off\r\nrem pnpm's tokenHelper for tokenfob profile {profile} (written by `tokenfob wire pnpm`)\r\n\
         \"{}\" get {profile} -o bearer\r\n",
        program.display()
    );
    (format!("tokenfob-pnpm-{profile}.cmd"), text)
}
