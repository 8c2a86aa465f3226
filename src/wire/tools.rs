//! What each tool needs, as a [`Plan`]: the snippet `wire` prints and the [`Step`]s `--apply` takes, both made from
//! the same values so that what is printed is what is written. The snippets are the ones docs/integrations.md
//! documents and tests/integrations/ proves with the real tools.

use std::env::consts::EXE_SUFFIX;
use std::path::PathBuf;

use clap::ValueEnum;

use super::{Ask, Place, Step, host_port, platform, steps::toml_array, target_url};
use crate::cli::WireTool;
use crate::environment::Env;
use crate::error::{Error, Result};
use crate::profile::Profile;

/// The exec credential API version written into a kubeconfig.
pub(crate) const KUBE_API: &str = "client.authentication.k8s.io/v1";

/// What wiring one tool takes.
pub(crate) struct Plan {
    /// The text `wire` prints.
    pub(crate) snippet: String,
    /// The changes `--apply` makes (none: the tool has no file tokenfob writes).
    pub(crate) steps: Vec<Step>,
    /// Why there are no steps.
    pub(crate) manual_reason: &'static str,
}

/// The tool's name as typed.
pub(crate) fn name(tool: WireTool) -> String {
    tool.to_possible_value().map(|v| v.get_name().to_owned()).unwrap_or_default()
}

/// The plan for `ask.tool` and `profile`.
pub(crate) fn plan(ask: &Ask, profile: &Profile, place: &Place, env: &Env) -> Result<Plan> {
    let p = profile.name.as_str();
    match ask.tool {
        WireTool::Kubectl => Ok(kubectl(p, place)),
        WireTool::Git => git(&target_url(profile, ask.url)?, place),
        WireTool::Curl => Ok(curl(p, target_url(profile, ask.url).ok(), place)),
        WireTool::Httpie => Ok(httpie(p, target_url(profile, ask.url).ok(), place)),
        WireTool::Pip => Ok(pip(profile, target_url(profile, ask.url).ok())),
        WireTool::Cargo => cargo(profile, ask, place, env),
        WireTool::Terraform => Ok(terraform(profile, ask, place, env)),
        WireTool::Bazel => bazel(&target_url(profile, ask.url)?, place),
        WireTool::Go => go(profile, ask, place),
        WireTool::Docker => docker(profile, ask, place, env),
        WireTool::Pnpm => pnpm(p, &target_url(profile, ask.url)?, place),
    }
}

fn manual(snippet: String, manual_reason: &'static str) -> Plan {
    Plan { snippet, steps: Vec::new(), manual_reason }
}

/// `word` as one word of the system's shell (`sh`; `cmd` on Windows).
fn sh(word: &str) -> String {
    platform::quote(word)
}

fn json(text: &str) -> String {
    serde_json::to_string(text).unwrap_or_default()
}

fn kubectl(p: &str, place: &Place) -> Plan {
    let user = format!("tokenfob-{p}");
    let command = &place.command;
    let snippet = format!(
        "# kubeconfig (~/.kube/config or $KUBECONFIG): a user whose exec plugin is tokenfob. `--apply` runs\n\
         #   kubectl config set-credentials {user} --exec-command={cmd} --exec-api-version={KUBE_API} \\\n\
         #     --exec-interactive-mode=IfAvailable --exec-arg=kubectl --exec-arg={p}\n\
         users:\n- name: {user}\n  user:\n    exec:\n      apiVersion: {KUBE_API}\n      command: {cj}\n      \
         args: [\"kubectl\", {pj}]\n      interactiveMode: IfAvailable\n      provideClusterInfo: false\n\
         # then point a context at it: kubectl config set-context --current --user={user}\n",
        cmd = sh(command),
        cj = json(command),
        pj = json(p),
    );
    let args = vec!["kubectl".to_owned(), p.to_owned()];
    Plan { snippet, steps: vec![Step::Kube { user, command: command.clone(), args }], manual_reason: "" }
}

fn git(url: &url::Url, place: &Place) -> Result<Plan> {
    let origin = url.origin().ascii_serialization();
    let key = format!("credential.{origin}.helper");
    let value = format!("!{} git-credential", super::posix_word(&platform::git_path(&place.command)));
    let snippet = format!("git config --global {} {}\n", sh(&key), sh(&value));
    Ok(Plan { snippet, steps: vec![Step::Git { key, value }], manual_reason: "" })
}

fn curl(p: &str, url: Option<url::Url>, place: &Place) -> Plan {
    let url = url.map_or_else(|| "URL".to_owned(), |u| sh(u.as_str()));
    let t = sh(&place.command);
    manual(
        format!(
            "# the token goes to curl on a pipe, never in its argv\n\
             {t} get {p} -o curl | curl -K - {url}\n\
             curl -K <({t} get {p} -o curl) {url}\n"
        ),
        "curl takes the token per command",
    )
}

fn httpie(p: &str, url: Option<url::Url>, place: &Place) -> Plan {
    let url = url.map_or_else(|| "URL".to_owned(), |u| sh(u.as_str()));
    let bin = if place.command == "tokenfob" { String::new() } else { format!("TOKENFOB_BIN={} ", sh(&place.command)) };
    manual(
        format!(
            "# HTTPie's auth plugin: the tokenfob Python package (integrations/httpie in the source and the release\n\
             # archive), installed into HTTPie's environment\n\
             python3 -m pip install ./integrations/httpie\n\
             {bin}http -A tokenfob -a {p} {url}\n"
        ),
        "the plugin is a Python package to install into HTTPie's environment",
    )
}

fn pip(profile: &Profile, url: Option<url::Url>) -> Plan {
    let url = url.map_or_else(|| "URL".to_owned(), |u| sh(u.as_str()));
    manual(
        format!(
            "# pip asks the tokenfob keyring backend (integrations/httpie[keyring]) in its own environment; the index\n\
             # gets user name {user:?} (the profile's index_username) and the token as the password\n\
             python3 -m pip install './integrations/httpie[keyring]'\n\
             pip config set global.keyring-provider import\n\
             pip config set global.index-url {url}\n",
            user = profile.index_username
        ),
        "pip's keyring backend is a Python package to install into pip's environment",
    )
}

fn cargo(profile: &Profile, ask: &Ask, place: &Place, env: &Env) -> Result<Plan> {
    let registry = ask.registry.unwrap_or(&profile.name).to_owned();
    if registry.is_empty() || !registry.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
        return Err(Error::Config(format!(
            "--registry {registry:?}: cargo names registries with letters, digits, - and _"
        )));
    }
    let url = target_url(profile, ask.url)?;
    let index = format!("sparse+{url}");
    let file = match env.get("CARGO_HOME").map(PathBuf::from).filter(|p| p.is_absolute()) {
        Some(home) => home.join("config.toml"),
        None => place.home.join(".cargo/config.toml"),
    };
    let provider = vec![place.command.clone(), profile.name.clone()];
    let snippet = format!(
        "# {}: registry {registry:?} (--registry, else the profile's name); `index` is the profile's `match` (or --url),\n\
         # written only when the registry has none yet\n\
         [registries.{registry}]\nindex = {}\ncredential-provider = {}\n",
        place.show(&file),
        json(&index),
        toml_array(&provider)
    );
    Ok(Plan { snippet, steps: vec![Step::Cargo { file, registry, index, provider }], manual_reason: "" })
}

/// `text`, a cargo configuration, with `[registries.NAME]` holding `credential-provider` (and `index` when it has
/// none), everything else kept as it was; an error when the table is not written as a `[registries.NAME]` header.
pub(crate) fn cargo_edit(text: &str, registry: &str, index: &str, provider: &[String]) -> Result<String, String> {
    let table: toml::Table = toml::from_str(text).map_err(|e: toml::de::Error| {
        format!("not valid TOML at {}", crate::config::located(e.message(), e.span(), text).trim_start())
    })?;
    let provider_line = format!("credential-provider = {}\n", toml_array(provider));
    let index_line = format!("index = {}\n", json(index));
    let existing = table.get("registries").and_then(|r| r.get(registry));
    let mut new = text.to_owned();
    match existing {
        None => {
            if !new.is_empty() && !new.ends_with('\n') {
                new.push('\n');
            }
            if !new.is_empty() {
                new.push('\n');
            }
            new.push_str(&format!("[registries.{registry}]\n{index_line}{provider_line}"));
        }
        Some(entry) => {
            let header = format!("[registries.{registry}]");
            let lines: Vec<&str> = text.split_inclusive('\n').collect();
            // A header may end in a comment (`[registries.corp] # mine`).
            let bare = |l: &str| l.split('#').next().unwrap_or("").trim().to_owned();
            let at =
                lines.iter().position(|l| bare(l) == header).ok_or("the registry is not a [registries.NAME] table")?;
            let end = lines[at + 1..]
                .iter()
                .position(|l| l.trim_start().starts_with('['))
                .map_or(lines.len(), |e| at + 1 + e);
            // The key as cargo may write it: bare or quoted.
            let key = |l: &&str| {
                let l = l.trim_start();
                ["credential-provider", "\"credential-provider\"", "'credential-provider'"]
                    .iter()
                    .any(|k| l.strip_prefix(k).is_some_and(|r| r.trim_start().starts_with('=')))
            };
            let mut out: Vec<String> = lines.iter().map(|l| (*l).to_owned()).collect();
            match lines[at + 1..end].iter().position(key) {
                Some(i) => out[at + 1 + i] = provider_line,
                None => out.insert(at + 1, provider_line),
            }
            if entry.get("index").is_none() {
                out.insert(at + 1, index_line);
            }
            if !out[at].ends_with('\n') {
                out[at].push('\n');
            }
            new = out.concat();
        }
    }
    let check: toml::Table = toml::from_str(&new)
        .map_err(|_| "the edit would not read back as TOML (is the entry written over several lines, or twice?)")?;
    let wanted: Vec<toml::Value> = provider.iter().map(|p| toml::Value::String(p.clone())).collect();
    match check.get("registries").and_then(|r| r.get(registry)).and_then(|r| r.get("credential-provider")) {
        Some(toml::Value::Array(a)) if *a == wanted => Ok(new),
        _ => Err("the edit would not read back as written".into()),
    }
}

fn terraform(profile: &Profile, ask: &Ask, place: &Place, env: &Env) -> Plan {
    let name = format!("terraform-credentials-tokenfob{EXE_SUFFIX}");
    let (rc, link, shown_dir, shown_link) = platform::terraform(env, &place.home, &name);
    let file = env.get("TF_CLI_CONFIG_FILE").map(PathBuf::from).filter(|p| p.is_absolute()).unwrap_or(rc);
    let line = "credentials_helper \"tokenfob\" {}".to_owned();
    let host = target_url(profile, ask.url).map_or_else(|_| "the hosts its `match` covers".into(), |u| host_port(&u));
    let snippet = format!(
        "# Terraform and OpenTofu ask tokenfob for {host} (profile {:?} by its `match`; every profile's hosts likewise)\n\
         {}\n{}\n# {}:\n{line}\n",
        profile.name,
        platform::mkdir_line(&shown_dir),
        platform::link_line(&place.program, &shown_link),
        place.show(&file),
    );
    let steps = vec![Step::Link { path: link }, Step::Line { file, key: "credentials_helper".into(), line }];
    Plan { snippet, steps, manual_reason: "" }
}

/// The path `shown` as written into a tool's line-based file (`.bazelrc`, `.npmrc`), which splits words at blanks
/// and lines at line breaks and has no quoting tokenfob can rely on: a blank or a control character is refused,
/// since it would break the line or add lines of the path's making.
fn plain_path(shown: &str, tool: &str) -> Result<()> {
    if shown.contains(|c: char| c.is_whitespace() || c.is_control()) {
        return Err(Error::Config(format!(
            "{tool} reads the helper's path from a line split at blanks, and {shown:?} holds a blank, a line break or a control character (pass --bin-dir with a plain directory)"
        )));
    }
    Ok(())
}

fn bazel(url: &url::Url, place: &Place) -> Result<Plan> {
    let host = url.host_str().unwrap_or_default();
    let link = place.link(&format!("tokenfob-credential-helper{EXE_SUFFIX}"));
    let file = place.home.join(".bazelrc");
    let key = format!("common --credential_helper={host}=");
    plain_path(&link.display().to_string(), "Bazel")?;
    let line = format!("{key}{}", link.display());
    let snippet = format!(
        "{}\n# {}:\n{line}\n",
        platform::link_line(&place.program, &sh(&link.display().to_string())),
        place.show(&file)
    );
    Ok(Plan { snippet, steps: vec![Step::Link { path: link }, Step::Line { file, key, line }], manual_reason: "" })
}

fn go(profile: &Profile, ask: &Ask, place: &Place) -> Result<Plan> {
    if place.command.contains(char::is_whitespace) || place.command.contains(';') {
        return Err(Error::Config(format!(
            "Go splits GOAUTH at blanks and `;`, and tokenfob's path {:?} holds one (put tokenfob on PATH)",
            place.command
        )));
    }
    let value = format!("{} goauth;netrc", place.command);
    let proxy = target_url(profile, ask.url)
        .map(|u| format!("# and, for a module proxy: go env -w GOPROXY={},direct\n", sh(u.as_str())))
        .unwrap_or_default();
    let snippet = format!(
        "# Go 1.24 or later: tokenfob first, then ~/.netrc (Go's default)\ngo env -w GOAUTH={}\n{proxy}",
        sh(&value)
    );
    Ok(Plan { snippet, steps: vec![Step::GoAuth { value }], manual_reason: "" })
}

fn docker(profile: &Profile, ask: &Ask, place: &Place, env: &Env) -> Result<Plan> {
    let url = target_url(profile, ask.url)?;
    let host = host_port(&url);
    let whole = format!("https://{host}/");
    if !profile.covers(&whole) {
        return Err(Error::Config(format!(
            "the container tools name the registry {host} and tokenfob reads that as {whole}, which profile {:?}'s `match` does not cover (add {whole} to it)",
            profile.name
        )));
    }
    let key = match host.as_str() {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" => "https://index.docker.io/v1/".to_owned(),
        _ => host,
    };
    let file = env
        .get("DOCKER_CONFIG")
        .map(PathBuf::from)
        .filter(|p| p.is_absolute())
        .map_or_else(|| place.home.join(".docker").join("config.json"), |dir| dir.join("config.json"));
    let link = place.link(&format!("docker-credential-tokenfob{EXE_SUFFIX}"));
    let snippet = format!(
        "{}      # a directory on the tools' PATH\n# {}:\n{{ \"credHelpers\": {{ {}: \"tokenfob\" }} }}\n",
        platform::link_line(&place.program, &sh(&link.display().to_string())),
        place.show(&file),
        json(&key)
    );
    let steps =
        vec![Step::Link { path: link }, Step::JsonKey { file, table: "credHelpers", key, value: "tokenfob".into() }];
    Ok(Plan { snippet, steps, manual_reason: "" })
}

fn pnpm(p: &str, url: &url::Url, place: &Place) -> Result<Plan> {
    let (name, text) = platform::token_script(&place.program, p);
    let script = place.link(&name);
    let mut path = url.path().to_owned();
    if !path.ends_with('/') {
        path.push('/');
    }
    let key = format!("//{}{path}:tokenHelper=", host_port(url));
    let shown = script.display().to_string();
    // pnpm also runs the path without quoting.
    plain_path(&shown, "pnpm")?;
    let line = format!("{key}{shown}");
    let snippet = format!("# {} (mode 755):\n{text}# ~/.npmrc:\n{line}\n", sh(&shown));
    let steps = vec![Step::Script { path: script, text }, Step::Line { file: place.home.join(".npmrc"), key, line }];
    Ok(Plan { snippet, steps, manual_reason: "" })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> Vec<String> {
        vec!["tokenfob".into(), "corp".into()]
    }

    #[test]
    fn cargo_edit_adds_a_registry_and_keeps_the_rest() {
        let text = "# mine\n[net]\nretry = 3 # comment\n";
        let new = cargo_edit(text, "corp", "sparse+https://c.example/index/", &provider()).unwrap();
        assert!(new.starts_with(text), "{new}");
        assert!(new.ends_with(
            "\n\n[registries.corp]\nindex = \"sparse+https://c.example/index/\"\ncredential-provider = [\"tokenfob\", \"corp\"]\n"
        ));
    }

    #[test]
    fn cargo_edit_sets_the_provider_of_an_existing_registry() {
        let text =
            "[registries.corp]  \nindex = \"sparse+https://old/\"\ncredential-provider = [\"x\"]\n\n[net]\nretry = 1\n";
        let new = cargo_edit(text, "corp", "sparse+https://new/", &provider()).unwrap();
        assert_eq!(
            new,
            "[registries.corp]  \nindex = \"sparse+https://old/\"\ncredential-provider = [\"tokenfob\", \"corp\"]\n\n[net]\nretry = 1\n"
        );
        let text = "[registries.corp]\nindex = \"sparse+https://old/\"";
        assert!(cargo_edit(text, "corp", "i", &provider()).unwrap().contains("credential-provider = [\"tokenfob\""));
    }

    #[test]
    fn cargo_edit_takes_a_quoted_key_and_a_commented_header() {
        let text = "[registries.corp] # mine\nindex = \"sparse+https://old/\"\n\"credential-provider\" = [\"x\"]\n";
        let new = cargo_edit(text, "corp", "i", &provider()).unwrap();
        assert_eq!(
            new,
            "[registries.corp] # mine\nindex = \"sparse+https://old/\"\ncredential-provider = [\"tokenfob\", \"corp\"]\n"
        );
    }

    #[test]
    fn cargo_edit_never_quotes_a_line_it_cannot_read() {
        let why = cargo_edit("[registries.corp]\ntoken = \"SEKRIT\\q\"\n", "corp", "i", &provider()).unwrap_err();
        assert!(why.contains("2:") && !why.contains("SEKRIT"), "{why}");
    }

    #[test]
    fn cargo_edit_refuses_what_it_cannot_edit_line_by_line() {
        assert!(cargo_edit("registries.corp.index = \"x\"\n", "corp", "i", &provider()).is_err());
        let multi = "[registries.corp]\ncredential-provider = [\n \"x\",\n]\n";
        assert!(cargo_edit(multi, "corp", "i", &provider()).is_err());
        assert!(cargo_edit("[broken", "corp", "i", &provider()).is_err());
    }
}
