//! What each tool needs, as a [`Plan`]: the snippet `wire` prints and the [`Step`]s `--apply` takes, both made from
//! the same values so that what is printed is what is written. The snippets are the ones docs/integrations.md
//! documents and tests/integrations/ proves with the real tools.

use std::env::consts::EXE_SUFFIX;
use std::path::PathBuf;

use clap::ValueEnum;

use super::cargo_config::{json, toml_array};
use super::{Ask, KUBE_API, Place, Step, host_port, platform, target_url};
use crate::cli::WireTool;
use crate::environment::Env;
use crate::error::{Error, Result};
use crate::profile::Profile;

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
