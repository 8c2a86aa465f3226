//! The changes `wire --apply` makes, each read before it is written: a link or script in the bin directory, a key
//! in a JSON file (docker's `credHelpers`), a line in a dotfile (`.npmrc`, `.bazelrc`, `.terraformrc`), a cargo
//! registry's `credential-provider`, and the tools' own commands for the files they own (`git config --global`,
//! `kubectl config set-credentials`, `go env -w`). Files are replaced atomically (a temporary file renamed over
//! the old one, with its mode), through a symlink to the file it names.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::Place;
use super::cargo_config::toml_array;
use super::platform;
use crate::error::{Error, Result};
use crate::faces::write_out;

/// One entry to put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Step {
    /// A symlink at `path` to tokenfob (a helper name a tool runs).
    Link { path: PathBuf },
    /// An executable script at `path`.
    Script { path: PathBuf, text: String },
    /// `file`'s `table[key] = value` (a JSON object in a JSON object).
    JsonKey { file: PathBuf, table: &'static str, key: String, value: String },
    /// The line of `file` that starts with `key` (after blanks) is `line`.
    Line { file: PathBuf, key: String, line: String },
    /// `[registries.NAME]` of a cargo config has `credential-provider` (and an `index` when it has none).
    Cargo { file: PathBuf, registry: String, index: String, provider: Vec<String> },
    /// `git config --global KEY VALUE`, the only value of KEY.
    Git { key: String, value: String },
    /// A kubeconfig user whose `exec` runs `command args`.
    Kube { user: String, command: String, args: Vec<String> },
    /// `go env -w GOAUTH=VALUE`.
    GoAuth { value: String },
}

/// What is there now.
#[derive(Debug, Clone, PartialEq, Eq)]
enum State {
    /// Nothing: the entry can be added.
    Absent,
    /// Already tokenfob's entry.
    Same,
    /// Something else, described.
    Other(String),
}

/// Applies `steps`: reads each, refuses every conflict unless `force` (writing nothing then), writes the rest.
pub(crate) fn apply(steps: &[Step], force: bool, place: &Place, out: &mut dyn Write) -> Result<()> {
    let states = steps.iter().map(|s| s.state(place)).collect::<Result<Vec<_>>>()?;
    let conflicts: Vec<String> = steps
        .iter()
        .zip(&states)
        .filter_map(|(step, state)| match state {
            State::Other(what) => Some(format!("  {}: {what}", step.describe(place))),
            _ => None,
        })
        .collect();
    if !conflicts.is_empty() && !force {
        return Err(Error::Conflict(format!(
            "wire: another entry is already there, so nothing was changed (check it, then add --force to replace it):\n{}",
            conflicts.join("\n")
        )));
    }
    for (step, state) in steps.iter().zip(states) {
        let shown = step.describe(place);
        match state {
            State::Same => write_out(out, &format!("already wired: {shown}\n"))?,
            State::Absent => {
                step.write(place, false)?;
                write_out(out, &format!("added: {shown}\n"))?;
            }
            State::Other(what) => {
                step.write(place, true)?;
                write_out(out, &format!("replaced ({what}): {shown}\n"))?;
            }
        }
    }
    for step in steps {
        step.warn();
    }
    let by_name = |s: &Step| matches!(s, Step::Link { path } if path.starts_with(&place.bin_dir) && path.file_name().is_some_and(|n| n.to_string_lossy().starts_with("docker-credential-")));
    if steps.iter().any(by_name) && !place.bin_on_path {
        crate::log::warn(format_args!(
            "{} is not on PATH: tools that look helpers up by name (docker) will not find them there (add it to PATH, or pass --bin-dir)",
            place.bin_dir.display()
        ));
    }
    Ok(())
}

impl Step {
    /// The change in one line.
    pub(crate) fn describe(&self, place: &Place) -> String {
        match self {
            Step::Link { path } => format!("{} -> {}", place.show(path), place.program.display()),
            Step::Script { path, .. } => format!("script {}", place.show(path)),
            Step::JsonKey { file, table, key, value } => format!("{}: {table}[{key:?}] = {value:?}", place.show(file)),
            Step::Line { file, line, .. } => format!("{}: {line}", place.show(file)),
            Step::Cargo { file, registry, provider, .. } => {
                format!("{}: [registries.{registry}] credential-provider = {}", place.show(file), toml_array(provider))
            }
            Step::Git { key, value } => format!("git config --global {key} {value:?}"),
            Step::Kube { user, .. } => format!("kubeconfig user {user:?} (kubectl config set-credentials {user} ...)"),
            Step::GoAuth { value } => format!("go env -w GOAUTH={value:?}"),
        }
    }

    fn state(&self, place: &Place) -> Result<State> {
        match self {
            Step::Link { path } => Ok(link_state(path, &place.program)),
            Step::Script { path, text } => Ok(match read_text(path)? {
                None => State::Absent,
                Some(old) if old == *text => State::Same,
                Some(_) => State::Other("a file with other contents".into()),
            }),
            Step::JsonKey { file, table, key, value } => json_state(file, table, key, value),
            Step::Line { file, key, line } => Ok(match find_line(&read_text(file)?.unwrap_or_default(), key) {
                None => State::Absent,
                Some((_, old)) if old.split_whitespace().eq(line.split_whitespace()) => State::Same,
                Some((_, old)) if old.trim_end().ends_with('{') => {
                    return Err(Error::Config(format!(
                        "{}: `{}` opens a block over several lines, which tokenfob does not edit (replace it by hand with `{line}`)",
                        file.display(),
                        old.trim()
                    )));
                }
                Some((_, old)) => State::Other(format!("now `{}`", old.trim())),
            }),
            Step::Cargo { file, registry, provider, .. } => cargo_state(file, registry, provider),
            Step::Git { key, value } => git_state(key, value),
            Step::Kube { user, command, args } => kube_state(user, command, args),
            Step::GoAuth { value } => go_state(value),
        }
    }

    /// Warns about what is left beside the entry and would take precedence over it, or stand in its way.
    fn warn(&self) {
        let lines = |file: &Path| read_text(file).ok().flatten().unwrap_or_default();
        match self {
            Step::Line { file, key, .. } if key == "credentials_helper" => {
                let text = lines(file);
                let blocks = text.lines().any(|l| {
                    l.trim_start().strip_prefix("credentials").is_some_and(|r| r.starts_with([' ', '\t', '"']))
                });
                if blocks {
                    crate::log::warn(format_args!(
                        "{} also has `credentials \"HOST\" {{ ... }}` blocks: Terraform uses them for their hosts \
                         before any credentials_helper (remove those of the hosts tokenfob should serve)",
                        file.display()
                    ));
                }
            }
            Step::Line { file, key, .. } if key.ends_with(":tokenHelper=") => {
                let token = key.replace(":tokenHelper=", ":_authToken=");
                if find_line(&lines(file), &token).is_some() {
                    crate::log::warn(format_args!(
                        "{} also has `{token}...` for this registry: remove it, so that pnpm uses the tokenHelper \
                         alone (a token written there may also be old or leaked)",
                        file.display()
                    ));
                }
            }
            Step::Cargo { file, .. } => {
                let legacy = file.with_file_name("config");
                if std::fs::symlink_metadata(&legacy).is_ok() {
                    crate::log::warn(format_args!(
                        "{} exists too: cargo reads it and ignores {} beside it (move its contents into {1} and \
                         remove it)",
                        legacy.display(),
                        file.display()
                    ));
                }
            }
            _ => {}
        }
    }

    fn write(&self, place: &Place, replace: bool) -> Result<()> {
        match self {
            Step::Link { path } => make_link(path, place, replace),
            Step::Script { path, text } => write_file(path, text, 0o755),
            Step::JsonKey { file, table, key, value } => write_json_key(file, table, key, value),
            Step::Line { file, key, line } => write_line(file, key, line),
            Step::Cargo { file, registry, index, provider } => {
                let text = read_text(file)?.unwrap_or_default();
                let new = super::cargo_config::cargo_edit(&text, registry, index, provider).map_err(|why| {
                    Error::Config(format!("{}: {why} (edit it by hand: see docs/integrations.md)", file.display()))
                })?;
                write_file(file, &new, 0o644)
            }
            Step::Git { key, value } => run_tool("git", &["config", "--global", "--replace-all", key, value]),
            Step::Kube { user, command, args } => write_kube(user, command, args, replace),
            Step::GoAuth { value } => run_tool("go", &["env", "-w", &format!("GOAUTH={value}")]),
        }
    }
}

fn link_state(path: &Path, program: &Path) -> State {
    let Ok(meta) = std::fs::symlink_metadata(path) else { return State::Absent };
    if platform::links_to(path, &meta, program) {
        return State::Same;
    }
    State::Other(platform::what_is_there(path, &meta))
}

fn make_link(path: &Path, place: &Place, replace: bool) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating the directory", dir, e))?;
    if replace {
        std::fs::remove_file(path).map_err(|e| Error::io("removing", path, e))?;
    }
    // Beside tokenfob, a relative link survives an upgrade that replaces the file it names.
    let target = match place.program.parent() {
        Some(parent) if parent == dir => PathBuf::from(place.program.file_name().unwrap_or_default()),
        _ => place.program.clone(),
    };
    platform::link(&target, path).map_err(|e| Error::io("making the link", path, e))
}

/// The text of `path`, `None` when it does not exist (at most 1 MiB).
fn read_text(path: &Path) -> Result<Option<String>> {
    match crate::sys::fs::read_regular(path, 1 << 20) {
        Ok((bytes, _)) => String::from_utf8(bytes)
            .map(Some)
            .map_err(|_| Error::Config(format!("{}: not UTF-8 text (edit it by hand)", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io("reading", path, e)),
    }
}

/// Replaces `path` (the file a symlink there names) with `text`, keeping its mode, or creating it with `mode`.
fn write_file(path: &Path, text: &str, mode: u32) -> Result<()> {
    let path = platform::canonical(path).unwrap_or_else(|_| crate::sys::fs::dangling_target(path));
    let dir = path.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| Error::io("creating the directory", dir, e))?;
    let mode = std::fs::metadata(&path).map_or(mode, |m| platform::mode(&m));
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let temp = dir.join(format!(".{name}.tokenfob-{}", crate::sys::random_hex(6)?));
    let written = platform::create_new(&temp, mode)
        .and_then(|mut f| f.write_all(text.as_bytes()).and_then(|()| f.sync_all()))
        .and_then(|()| platform::set_mode(&temp, mode))
        .and_then(|()| crate::sys::fs::replace(&temp, &path));
    written.map_err(|e| {
        let _ = std::fs::remove_file(&temp);
        Error::io("writing", &path, e)
    })
}

/// The first line of `text` that starts with `key` after blanks: its byte offset and text.
fn find_line<'a>(text: &'a str, key: &str) -> Option<(usize, &'a str)> {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim_start().starts_with(key) {
            return Some((at, line.trim_end_matches(['\n', '\r'])));
        }
        at += line.len();
    }
    None
}

fn write_line(file: &Path, key: &str, line: &str) -> Result<()> {
    let mut text = read_text(file)?.unwrap_or_default();
    match find_line(&text, key) {
        Some((at, old)) => text.replace_range(at..at + old.len(), line),
        None => {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(line);
            text.push('\n');
        }
    }
    write_file(file, &text, 0o600)
}

fn read_json(file: &Path) -> Result<Value> {
    let Some(text) = read_text(file)? else { return Ok(Value::Object(Default::default())) };
    if text.trim().is_empty() {
        return Ok(Value::Object(Default::default()));
    }
    match serde_json::from_str::<Value>(&text) {
        Ok(v) if v.is_object() => Ok(v),
        _ => Err(Error::Config(format!("{}: not a JSON object (fix or remove it first)", file.display()))),
    }
}

fn json_state(file: &Path, table: &str, key: &str, value: &str) -> Result<State> {
    let json = read_json(file)?;
    Ok(match json.get(table) {
        None => State::Absent,
        Some(Value::Object(map)) => match map.get(key) {
            None => State::Absent,
            Some(Value::String(v)) if v == value => State::Same,
            Some(other) => State::Other(format!("now {other}")),
        },
        Some(_) => State::Other(format!("{table} is not a JSON object")),
    })
}

fn write_json_key(file: &Path, table: &str, key: &str, value: &str) -> Result<()> {
    let mut json = read_json(file)?;
    let root = json.as_object_mut().expect("checked an object");
    let entry = root.entry(table).or_insert_with(|| Value::Object(Default::default()));
    if !entry.is_object() {
        *entry = Value::Object(Default::default());
    }
    entry.as_object_mut().expect("an object").insert(key.to_owned(), Value::String(value.to_owned()));
    let text = serde_json::to_string_pretty(&json).map_err(|e| Error::Other(format!("encoding JSON: {e}")))?;
    write_file(file, &(text + "\n"), 0o600)
}

fn cargo_state(file: &Path, registry: &str, provider: &[String]) -> Result<State> {
    let text = read_text(file)?.unwrap_or_default();
    // The place, never the line: a cargo configuration may hold a registry token.
    let table: toml::Table = toml::from_str(&text).map_err(|e: toml::de::Error| {
        let at = crate::config::located(e.message(), e.span(), &text);
        Error::Config(format!("{}:{at} (not valid TOML; fix it first)", file.display()))
    })?;
    let entry = table.get("registries").and_then(|r| r.get(registry)).and_then(|r| r.get("credential-provider"));
    let wanted: Vec<toml::Value> = provider.iter().map(|p| toml::Value::String(p.clone())).collect();
    Ok(match entry {
        None => State::Absent,
        Some(toml::Value::Array(a)) if *a == wanted => State::Same,
        // A provider's arguments may carry a secret, so the value is not shown.
        Some(_) => State::Other(format!("another credential-provider; see {}", file.display())),
    })
}

/// Runs a tool's own configuration command, failing with its stderr.
fn run_tool(program: &str, args: &[&str]) -> Result<()> {
    let out = tool_output(program, args)?;
    if out.status.success() {
        return Ok(());
    }
    Err(Error::Other(format!(
        "`{program} {}` failed ({}): {}",
        args.first().unwrap_or(&""),
        out.status,
        String::from_utf8_lossy(&out.stderr).trim()
    )))
}

fn tool_output(program: &str, args: &[&str]) -> Result<std::process::Output> {
    Command::new(program)
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .map_err(|e| Error::system(format!("running {program} (is it installed and on PATH?)"), e))
}

fn git_state(key: &str, value: &str) -> Result<State> {
    let out = tool_output("git", &["config", "--global", "--get-all", key])?;
    match out.status.code() {
        Some(1) => return Ok(State::Absent),
        Some(0) => {}
        _ => return run_tool("git", &["config", "--global", "--get-all", key]).map(|()| State::Absent),
    }
    let values: Vec<&str> = std::str::from_utf8(&out.stdout).unwrap_or_default().lines().collect();
    // A helper's command line may carry a secret, so the values are not shown.
    let other = format!("{} other value(s); see `git config --global --get-all {key}`", values.len());
    Ok(if values == [value] { State::Same } else { State::Other(other) })
}

fn go_state(value: &str) -> Result<State> {
    let out = tool_output("go", &["env", "GOAUTH"])?;
    if !out.status.success() {
        return run_tool("go", &["env", "GOAUTH"]).map(|()| State::Absent);
    }
    let now = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    Ok(match now.as_str() {
        // Go's default, which the wired value keeps.
        "" | "netrc" => State::Absent,
        _ if now == value => State::Same,
        // A GOAUTH command line may carry a secret, so it is not shown.
        _ => State::Other("another GOAUTH; see `go env GOAUTH`".into()),
    })
}

fn kube_state(user: &str, command: &str, args: &[String]) -> Result<State> {
    let out = tool_output("kubectl", &["config", "view", "--raw", "-o", "json"])?;
    if !out.status.success() {
        return run_tool("kubectl", &["config", "view"]).map(|()| State::Absent);
    }
    let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    let users = json["users"].as_array().cloned().unwrap_or_default();
    let Some(entry) = users.iter().find(|u| u["name"] == user) else { return Ok(State::Absent) };
    let exec = &entry["user"]["exec"];
    let same = entry["user"].as_object().is_some_and(|o| o.len() == 1)
        && exec["command"] == command
        && exec["args"] == serde_json::json!(args)
        && exec["apiVersion"] == super::KUBE_API;
    Ok(if same { State::Same } else { State::Other("a user entry with other settings".into()) })
}

fn write_kube(user: &str, command: &str, args: &[String], replace: bool) -> Result<()> {
    if replace {
        // set-credentials merges into an entry: a token left there would be sent beside the plugin's.
        run_tool("kubectl", &["config", "delete-user", user])?;
    }
    let mut all = vec![
        "config".to_owned(),
        "set-credentials".to_owned(),
        user.to_owned(),
        format!("--exec-command={command}"),
        format!("--exec-api-version={}", super::KUBE_API),
        "--exec-interactive-mode=IfAvailable".to_owned(),
    ];
    all.extend(args.iter().map(|a| format!("--exec-arg={a}")));
    run_tool("kubectl", &all.iter().map(String::as_str).collect::<Vec<_>>())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_line_finds_the_entry_by_its_key() {
        let text = "a=1\n  //h/:tokenHelper=/x\nb=2";
        assert_eq!(find_line(text, "//h/:tokenHelper="), Some((4, "  //h/:tokenHelper=/x")));
        assert_eq!(find_line(text, "//other/:tokenHelper="), None);
    }

    #[test]
    fn arrays_are_written_as_toml_reads_them() {
        let text = format!("x = {}", toml_array(&["/a b/tokenfob".into(), "p\"q".into()]));
        let table: toml::Table = toml::from_str(&text).unwrap();
        assert_eq!(table["x"][1].as_str(), Some("p\"q"));
        assert_eq!(table["x"][0].as_str(), Some("/a b/tokenfob"));
    }
}
