//! Unix: a helper name is a symlink to tokenfob, and a file written keeps (or gets) its permission bits. Snippets
//! are `sh` lines; the tools' configuration is under `$HOME`.

use std::fs::{File, Metadata, OpenOptions};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};

use crate::environment::Env;

/// The home directory the tools keep their configuration in: `$HOME`, when it is an absolute path.
pub(super) fn home(env: &Env) -> Option<PathBuf> {
    env.get("HOME").map(PathBuf::from).filter(|h| h.is_absolute())
}

/// What must be set for [`home`], in messages.
pub(super) const HOME: &str = "$HOME";

/// `path` with every symlink resolved.
pub(super) fn canonical(path: &Path) -> std::io::Result<PathBuf> {
    std::fs::canonicalize(path)
}

/// What is at `path` instead of a link to tokenfob, in words.
pub(super) fn what_is_there(path: &Path, meta: &Metadata) -> String {
    match std::fs::read_link(path) {
        Ok(target) => format!("a link to {}", target.display()),
        Err(_) => format!("a {}", crate::sys::fs::kind(meta)),
    }
}

/// True when `path` (whose metadata is `meta`) is a symlink to `program`.
pub(super) fn links_to(path: &Path, meta: &Metadata, program: &Path) -> bool {
    let same = |a: &Path, b: &Path| canonical(a).is_ok_and(|a| canonical(b).is_ok_and(|b| a == b));
    meta.file_type().is_symlink() && same(path, program)
}

/// Makes `at` a symlink to `target`.
pub(super) fn link(target: &Path, at: &Path) -> std::io::Result<()> {
    std::os::unix::fs::symlink(target, at)
}

/// The permission bits of a file.
pub(super) fn mode(meta: &Metadata) -> u32 {
    meta.permissions().mode() & 0o7777
}

/// Creates `path`, which must not exist, with `mode` (whatever the umask takes away is put back after writing).
pub(super) fn create_new(path: &Path, mode: u32) -> std::io::Result<File> {
    OpenOptions::new().write(true).create_new(true).mode(mode).open(path)
}

/// Sets `path`'s permission bits to `mode`.
pub(super) fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode))
}

/// `word` as one shell word (quoted only when it needs to be).
pub(super) fn quote(word: &str) -> String {
    super::posix_word(word)
}

/// How git's `sh` names the program at `path`.
pub(super) fn git_path(path: &str) -> String {
    path.to_owned()
}

/// The printed command that makes `at` (already quoted) a helper name for `target`.
pub(super) fn link_line(target: &Path, at: &str) -> String {
    format!("ln -s {} {at}", quote(&target.display().to_string()))
}

/// The printed command that creates the directory `dir` (already quoted) and its parents.
pub(super) fn mkdir_line(dir: &str) -> String {
    format!("mkdir -p {dir}")
}

/// Terraform's default CLI configuration file, its plugin `name` there, and how snippets name the plugin directory
/// and the plugin.
pub(super) fn terraform(_env: &Env, home: &Path, name: &str) -> (PathBuf, PathBuf, String, String) {
    let shown = "~/.terraform.d/plugins";
    (
        home.join(".terraformrc"),
        home.join(shown.trim_start_matches("~/")).join(name),
        shown.into(),
        format!("{shown}/{name}"),
    )
}

/// The file name and text of a script that prints profile `profile`'s bearer token (pnpm's tokenHelper).
pub(super) fn token_script(program: &Path, profile: &str) -> (String, String) {
    let text = format!(
        "#!/bin/sh\n# pnpm's tokenHelper for tokenfob profile {profile} (written by `tokenfob wire pnpm`)\nexec {} get \
         {profile} -o bearer\n",
        quote(&program.display().to_string())
    );
    (format!("tokenfob-pnpm-{profile}"), text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shell_words_are_quoted_only_when_needed() {
        assert_eq!(quote("/usr/bin/tokenfob"), "/usr/bin/tokenfob");
        assert_eq!(quote("!tokenfob git-credential"), "'!tokenfob git-credential'");
        assert_eq!(quote("it's"), "'it'\\''s'");
    }
}
