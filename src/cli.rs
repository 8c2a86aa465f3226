//! The command line: clap's types, and [`Quick`], the few plain forms read without clap so that a cache hit does
//! not page in the argument parser (docs/performance.md). No I/O here.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Arg, ArgAction, ArgGroup, ArgMatches, Args, Parser, Subcommand, ValueEnum};

use crate::secret::{SECRET_KEYS, SETUP_SOURCES};

/// Prints an HTTP bearer token: cached while good, renewed on its own when not.
#[derive(Debug, Parser)]
#[command(name = "tokenfob", version, about, max_term_width = 100)]
pub(crate) struct Cli {
    /// Configuration file (default: $TOKENFOB_CONFIG, else `<config dir>/tokenfob/config.toml`).
    #[arg(long, global = true, value_name = "PATH")]
    pub(crate) config: Option<PathBuf>,
    /// Never prompt; fail with exit 5 when a secret must be typed (also TOKENFOB_NO_INPUT=1).
    #[arg(long, global = true)]
    pub(crate) no_input: bool,
    /// What to do.
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// What `tokenfob secret` does. The value is never an argument: arguments are visible to every user of the machine.
#[derive(Debug, Subcommand)]
pub(crate) enum SecretAction {
    /// Read the value from a hidden prompt (or stdin when it is not a terminal) and store it.
    Set {
        /// The profile.
        profile: String,
        /// The secret field whose `{ keyring = ... }` source names the item (password, client_secret, ...).
        field: String,
    },
    /// Delete the item.
    Delete {
        /// The profile.
        profile: String,
        /// The secret field whose `{ keyring = ... }` source names the item.
        field: String,
    },
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub(crate) enum Command {
    /// Print a token, renewing it first if needed.
    Get {
        /// The profile (default: chosen by --url, $TOKENFOB_PROFILE, default_profile, or the only one).
        profile: Option<String>,
        /// Choose the profile whose `match` prefix covers this URL.
        #[arg(long)]
        url: Option<String>,
        /// Output format.
        #[arg(short = 'o', long = "output", value_enum, default_value_t = Format::Token)]
        output: Format,
        /// Renew a token that would expire sooner than this (e.g. 10m).
        #[arg(long, value_parser = duration, value_name = "DURATION")]
        min_valid: Option<Duration>,
    },
    /// Log in afresh, whatever the cache holds.
    Login {
        /// The profile.
        profile: Option<String>,
    },
    /// Forget the cached token.
    Erase {
        /// The profile.
        profile: Option<String>,
        /// Forget it only if the cache still holds exactly this token.
        #[arg(long, value_name = "T")]
        token: Option<String>,
    },
    /// Revoke the token server-side where the API can, and forget it.
    Logout {
        /// The profile.
        profile: Option<String>,
    },
    /// Store or delete a secret in the system keyring, where a profile's `{ keyring = ... }` source names it.
    Secret {
        /// Set (read from a prompt, or stdin when it is not a terminal) or delete.
        #[command(subcommand)]
        action: SecretAction,
    },
    /// Show profiles and what is cached (never a token).
    Status {
        /// Only this profile.
        profile: Option<String>,
        /// One JSON object instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Answer JSON requests, one per line on stdin, one per line on stdout.
    Protocol,
    /// Print a Kubernetes ExecCredential (for a kubeconfig `exec` user).
    Kubectl {
        /// The profile.
        profile: Option<String>,
    },
    /// Speak git's credential-helper protocol (set `credential.helper` to `!tokenfob git-credential`).
    GitCredential {
        /// What git asks: get, store or erase.
        #[arg(value_enum)]
        action: GitAction,
        /// Use this profile instead of choosing one by the remote's URL.
        #[arg(long)]
        profile: Option<String>,
    },
    /// Speak cargo's credential-provider protocol on stdin and stdout (cargo runs `tokenfob --cargo-plugin`, which
    /// is this; configure `credential-provider = ["tokenfob", "PROFILE"]`).
    CargoCredential,
    /// Speak the docker-credential-helpers protocol (Docker, Podman, Skopeo, Helm, ORAS)
    ///
    /// The registry's host or URL on stdin. Installed as `docker-credential-tokenfob` (a link to tokenfob), which
    /// runs this command.
    DockerCredential {
        /// What the tool asks: get, erase, list, store (refused: tokenfob makes its own tokens) or version.
        #[arg(value_enum)]
        action: DockerAction,
    },
    /// Speak Go's GOAUTH protocol (GOAUTH="tokenfob goauth"): without a URL, the fresh cached tokens; with one (Go
    /// passes it after a 4xx, with the response on stdin), its profile's token, renewed if needed.
    Goauth {
        /// The URL Go was refused.
        url: Option<String>,
        /// Only this profile (still only for URLs its `match` covers).
        #[arg(long)]
        profile: Option<String>,
    },
    /// Speak the credentials-helper protocol of Terraform and OpenTofu.
    ///
    /// Set `credentials_helper "tokenfob" {}` in the CLI configuration, with tokenfob installed as
    /// terraform-credentials-tokenfob in a plugin directory (~/.terraform.d/plugins).
    TerraformCredentials {
        /// Answer with this profile's token only, and `{}` for hosts its `match` does not cover.
        #[arg(long)]
        profile: Option<String>,
        /// Renew a token that would expire sooner than this (e.g. 2h): Terraform keeps it for its whole run.
        #[arg(long, value_parser = duration, value_name = "DURATION")]
        min_valid: Option<Duration>,
        /// What Terraform asks: get, store or forget.
        #[arg(value_enum)]
        verb: TerraformVerb,
        /// The host, as Terraform names it (app.terraform.io, tfe.example.com:8443).
        host: String,
    },
    /// Speak the credential-helper spec of Bazel and other build tools.
    ///
    /// `get` reads {"uri":"..."} on stdin. Bazel's `--credential_helper` takes a path without arguments: install
    /// tokenfob as tokenfob-credential-helper, which is this subcommand.
    CredentialHelper {
        /// Answer with this profile's token only, and `{}` for URIs its `match` does not cover.
        #[arg(long)]
        profile: Option<String>,
        /// What the tool asks: get.
        #[arg(value_enum)]
        command: HelperCommand,
    },
    /// Run a command with the token in an environment variable.
    Exec {
        /// The profile.
        profile: String,
        /// The variable that carries the token.
        #[arg(long = "env", value_name = "NAME", default_value = "TOKENFOB_TOKEN")]
        var: String,
        /// The command and its arguments (after `--`).
        #[arg(last = true, required = true, value_name = "COMMAND")]
        command: Vec<String>,
    },
    /// Run against built-in emulations of the three seed login systems and show what happens.
    Demo,
    /// Add a profile to the configuration by answering a few questions (or by flags), then log in once
    ///
    /// On a terminal, whatever the flags leave out is asked; without one (or with --no-input), a required value no
    /// flag gives is an error naming the flag (exit 2). Secrets are written as sources (an environment variable, a
    /// file, a command, a prompt), never as text, unless typed on the terminal and confirmed, or given with
    /// --<secret>-stdin. The rest of the file, comments included, is kept as it is. docs/configuration.md.
    Setup(Box<SetupArgs>),
    /// Check the configuration, its secret sources, file permissions and login servers (never prints a secret)
    ///
    /// Exit 0: all is well; 1: warnings only; 2: a configuration error; 4: a server could not be reached.
    Check {
        /// Only this profile (the file itself is always checked).
        profile: Option<String>,
        /// Do not reach the servers.
        #[arg(long)]
        offline: bool,
    },
    /// Print a tool's configuration for a profile; with --apply, write it where the tool reads it
    ///
    /// An entry that is already there and differs is never replaced without --force (exit 7).
    Wire {
        /// The tool to wire.
        #[arg(value_enum)]
        tool: WireTool,
        /// The profile (default: $TOKENFOB_PROFILE, default_profile, or the only one).
        profile: Option<String>,
        /// Write the configuration (and the links the tool runs) instead of printing it.
        #[arg(long)]
        apply: bool,
        /// Replace an entry that differs from tokenfob's.
        #[arg(long, requires = "apply")]
        force: bool,
        /// The URL or host to wire (default: the profile's first http(s) `match` prefix).
        #[arg(long, visible_alias = "host", value_name = "URL")]
        url: Option<String>,
        /// cargo's registry name (default: the profile's name).
        #[arg(long, value_name = "NAME")]
        registry: Option<String>,
        /// Where the helper links go (default: the directory tokenfob is in).
        #[arg(long, value_name = "DIR")]
        bin_dir: Option<PathBuf>,
    },
    /// Print a shell completion script (e.g. `source <(tokenfob completions bash)`).
    Completions {
        /// The shell.
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff: `tokenfob man | man -l -`).
    Man {
        /// A subcommand's own page (tokenfob-SUBCOMMAND(1)) instead of tokenfob(1).
        subcommand: Option<String>,
    },
}

/// The tools `wire` knows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum WireTool {
    /// A kubeconfig user that runs `tokenfob kubectl PROFILE`.
    Kubectl,
    /// git's credential helper for the profile's host.
    Git,
    /// A curl command line (print only).
    Curl,
    /// HTTPie's auth plugin (print only).
    Httpie,
    /// A cargo registry's credential provider.
    Cargo,
    /// Terraform's credentials helper.
    Terraform,
    /// Bazel's credential helper.
    Bazel,
    /// Go's GOAUTH.
    Go,
    /// Docker's credHelpers entry.
    Docker,
    /// pnpm's tokenHelper.
    Pnpm,
    /// pip's keyring provider (print only).
    Pip,
}

/// The flags of `tokenfob setup`: one per profile key it writes.
#[derive(Debug, Args)]
pub(crate) struct SetupArgs {
    /// The profile's name (asked on a terminal when not given).
    pub(crate) profile: Option<String>,
    /// Replace a profile of that name (on a terminal, setup asks instead).
    #[arg(long)]
    pub(crate) force: bool,
    /// Write the profile but do not log in.
    #[arg(long)]
    pub(crate) no_login: bool,
    /// The kind of login.
    #[arg(long, value_enum)]
    pub(crate) kind: Option<SetupKind>,
    /// The server's base URL (onedata, gooddata).
    #[arg(long, value_name = "URL")]
    pub(crate) url: Option<String>,
    /// The login URL (session, http).
    #[arg(long, value_name = "URL")]
    pub(crate) login_url: Option<String>,
    /// The refresh URL (session; optional).
    #[arg(long, value_name = "URL")]
    pub(crate) refresh_url: Option<String>,
    /// The user name (onedata, session, http, oauth2 password grant).
    #[arg(long, value_name = "NAME")]
    pub(crate) username: Option<String>,
    /// The account id (session; optional): a number or a string.
    #[arg(long, value_name = "ID")]
    pub(crate) account_id: Option<String>,
    /// The user id (gooddata; optional: looked up otherwise).
    #[arg(long, value_name = "ID")]
    pub(crate) user_id: Option<String>,
    /// The OpenID issuer URL (oauth2): its discovery document is fetched and checked.
    #[arg(long, value_name = "URL")]
    pub(crate) issuer: Option<String>,
    /// The OAuth 2.0 client id (oauth2).
    #[arg(long, value_name = "ID")]
    pub(crate) client_id: Option<String>,
    /// The OAuth 2.0 grant (oauth2; default: device_code when the server offers it, else authorization_code).
    #[arg(long, value_enum)]
    pub(crate) grant: Option<SetupGrant>,
    /// A scope to ask for (oauth2; repeat it for more).
    #[arg(long = "scope", value_name = "SCOPE")]
    pub(crate) scopes: Vec<String>,
    /// The command that prints a token (command).
    #[arg(long, value_name = "COMMAND")]
    pub(crate) command: Option<String>,
    /// How long a token lives when the answer does not say (command, http; `never` for ever).
    #[arg(long, value_name = "DURATION")]
    pub(crate) lifetime: Option<String>,
    /// The JSON pointer to the token in the login answer (http; or --token-header).
    #[arg(long, value_name = "POINTER")]
    pub(crate) token_pointer: Option<String>,
    /// The response header that carries the token (http).
    #[arg(long, value_name = "HEADER")]
    pub(crate) token_header: Option<String>,
    /// Where each secret comes from.
    #[command(flatten)]
    pub(crate) secrets: SecretFlags,
}

/// The kinds `setup` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SetupKind {
    /// ONE DATA: a user name and password, a JWT in the answer's Authorization header.
    Onedata,
    /// A login + refresh-token session API.
    Session,
    /// GoodData.CN: a personal API token minted once with a bootstrap token.
    Gooddata,
    /// OAuth 2.0 / OpenID Connect, endpoints discovered from the issuer.
    Oauth2,
    /// A generic JSON login: user name and password posted, the token read from the answer.
    Http,
    /// A command that prints a token.
    Command,
    /// A fixed token from a secret source.
    Static,
}

/// The OAuth 2.0 grants `setup` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum SetupGrant {
    /// A code confirmed in a browser on any device (RFC 8628).
    DeviceCode,
    /// A browser login on this machine, with PKCE.
    AuthorizationCode,
    /// The client's own id and secret (machines).
    ClientCredentials,
    /// A user name and password (legacy servers).
    Password,
}

/// One secret as the flags give it: its key, and either a source (`("env", [("env", "VAR")])`) or `stdin`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SecretFlag {
    /// The profile key (`password`).
    pub(crate) key: &'static str,
    /// The source's key (`env`), or `None` for `--<key>-stdin`: the secret itself, read from stdin.
    pub(crate) source: Option<&'static str>,
    /// The inline table's keys and values (the source's key first).
    pub(crate) values: Vec<(&'static str, String)>,
}

/// `--<secret>-<source>` for every secret key and every source `setup` offers, made from
/// [`SECRET_KEYS`] and [`SETUP_SOURCES`] so that a new source brings its flags with it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SecretFlags {
    /// The secrets given, in [`SECRET_KEYS`] order.
    pub(crate) given: Vec<SecretFlag>,
}

/// A flag name made at run time as clap's `&'static str`: made once per parse of a `setup` command line (a few
/// dozen short strings), so leaking them costs less than the `string` feature of clap would in every run.
fn leak(text: String) -> &'static str {
    Box::leak(text.into_boxed_str())
}

fn flag_name(key: &str, suffix: &str) -> String {
    format!("{}-{suffix}", key.replace('_', "-"))
}

impl Args for SecretFlags {
    fn augment_args(mut cmd: clap::Command) -> clap::Command {
        for key in SECRET_KEYS {
            let shown = key.replace('_', " ");
            let mut group = vec![];
            for form in SETUP_SOURCES {
                let name = leak(flag_name(key, form.key));
                group.push(name);
                let help = format!("The {shown}: {}", form.about);
                cmd = cmd.arg(Arg::new(name).long(name).value_name(form.value_name).help(help));
                for (extra, value_name) in form.extra {
                    let extra_name = leak(flag_name(key, &format!("{}-{extra}", form.key)));
                    let help = format!("With --{name}: its `{extra}`");
                    cmd = cmd
                        .arg(Arg::new(extra_name).long(extra_name).value_name(*value_name).requires(name).help(help));
                }
            }
            let stdin = leak(flag_name(key, "stdin"));
            group.push(stdin);
            let help = format!("The {shown} itself, read from stdin and written into the file (not recommended)");
            cmd = cmd.arg(Arg::new(stdin).long(stdin).action(ArgAction::SetTrue).help(help));
            cmd = cmd.group(ArgGroup::new(leak(format!("{key}-source"))).args(group).multiple(false));
        }
        cmd
    }

    fn augment_args_for_update(cmd: clap::Command) -> clap::Command {
        Self::augment_args(cmd)
    }
}

impl clap::FromArgMatches for SecretFlags {
    fn from_arg_matches(matches: &ArgMatches) -> Result<Self, clap::Error> {
        let mut flags = SecretFlags::default();
        flags.update_from_arg_matches(matches)?;
        Ok(flags)
    }

    fn update_from_arg_matches(&mut self, matches: &ArgMatches) -> Result<(), clap::Error> {
        let text = |name: &str| matches.try_get_one::<String>(name).ok().flatten().cloned();
        for key in SECRET_KEYS {
            if matches.try_get_one::<bool>(&flag_name(key, "stdin")).ok().flatten() == Some(&true) {
                self.given.push(SecretFlag { key, source: None, values: Vec::new() });
                continue;
            }
            for form in SETUP_SOURCES {
                let Some(value) = text(&flag_name(key, form.key)) else { continue };
                let mut values = vec![(form.key, value)];
                for (extra, _) in form.extra {
                    values.extend(text(&flag_name(key, &format!("{}-{extra}", form.key))).map(|v| (*extra, v)));
                }
                self.given.push(SecretFlag { key, source: Some(form.key), values });
            }
        }
        Ok(())
    }
}

/// What git asks a credential helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum GitAction {
    /// Give a credential.
    Get,
    /// Remember one (tokenfob already has it: a no-op).
    Store,
    /// Forget one that the server rejected.
    Erase,
}

/// What a docker-credential-helpers client asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum DockerAction {
    /// Give the credentials for the registry named on stdin.
    Get,
    /// Keep credentials (refused: tokenfob obtains its own tokens).
    Store,
    /// Forget the token of the registry named on stdin.
    Erase,
    /// The registries with a fresh cached token, and their user names.
    List,
    /// Print the helper's version.
    Version,
}

/// What Terraform asks a credentials helper.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum TerraformVerb {
    /// Print the host's token as {"token":...}, or {} when no profile covers the host.
    Get,
    /// Refused, after reading stdin: tokenfob makes its own tokens.
    Store,
    /// Forget the cached token of the host's profile (tokenfob erase).
    Forget,
}

/// What a tool asks a helper of the credential-helper spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum HelperCommand {
    /// Print the headers for the URI named on stdin.
    Get,
}

/// Output formats of `get`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub(crate) enum Format {
    /// The token and a newline.
    Token,
    /// `Authorization: Bearer <token>`.
    Header,
    /// `Bearer <token>`: the header's value (pnpm's tokenHelper).
    Bearer,
    /// One JSON object.
    Json,
    /// A curl config line for `curl -K -`.
    Curl,
}

fn duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text)
}

/// The file names tokenfob also answers to, and the subcommand each stands for: some tools run a helper by a fixed
/// name pattern, or by a path without arguments, so tokenfob is installed under that name too (a link or a copy).
/// A name ending in `-` is a prefix: the tool adds the helper's name (`credHelpers: {"reg": "corp"}` runs
/// `docker-credential-corp`), and under any such name tokenfob speaks that tool's protocol, never its own `get`.
const PERSONALITIES: &[(&str, &str)] = &[
    ("docker-credential-", "docker-credential"),
    ("terraform-credentials-", "terraform-credentials"),
    ("tokenfob-credential-helper", "credential-helper"),
];

/// The flag cargo runs every credential provider with (its own arguments come inside the JSON request), and the
/// subcommand it stands for.
const CARGO_PLUGIN: (&str, &str) = ("--cargo-plugin", "cargo-credential");

/// The command line as tokenfob reads it (the program's name first): started under one of the names above, that
/// name's subcommand is put in front of the arguments; `--cargo-plugin` as the first argument is replaced by the
/// `cargo-credential` subcommand.
pub(crate) fn command_line(args: impl IntoIterator<Item = OsString>) -> Vec<OsString> {
    let mut args: Vec<OsString> = args.into_iter().collect();
    let name = args.first().and_then(|a| Path::new(a).file_name()).and_then(|n| n.to_str()).map(base_name);
    let named = |file: &str| name.is_some_and(|n| n == file || (file.ends_with('-') && n.starts_with(file)));
    if let Some((_, command)) = PERSONALITIES.iter().find(|(file, _)| named(file)) {
        args.insert(1.min(args.len()), OsString::from(command));
    }
    if let Some(first) = args.get_mut(1).filter(|a| *a == CARGO_PLUGIN.0) {
        *first = OsString::from(CARGO_PLUGIN.1);
    }
    args
}

/// A program's file name without what installers add to it: Windows' `.exe`, and the `_vX.Y.Z` version suffix that
/// Terraform's plugin discovery also accepts (`terraform-credentials-tokenfob_v0.1.0`).
fn base_name(file: &str) -> &str {
    let exe =
        file.len().checked_sub(4).filter(|&at| file.is_char_boundary(at) && file[at..].eq_ignore_ascii_case(".exe"));
    let file = exe.map_or(file, |at| &file[..at]);
    match file.rfind("_v") {
        Some(at) if file[at + 2..].starts_with(|c: char| c.is_ascii_digit()) => &file[..at],
        _ => file,
    }
}

/// The plain forms a cache hit may answer without clap: `get PROFILE [-o|--output FORMAT]` and `kubectl PROFILE`.
/// Anything else (another flag, `--url`, `--min-valid`, a global option) is for clap and the full path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quick<'a> {
    /// `get PROFILE [-o FORMAT]`.
    Get { profile: &'a str, format: Format },
    /// `kubectl PROFILE`.
    Kubectl { profile: &'a str },
}

impl<'a> Quick<'a> {
    /// The plain form `args` (without the program name) spell, if they spell one.
    pub(crate) fn parse(args: &'a [String]) -> Option<Quick<'a>> {
        let format = |name: &str| match name {
            "token" => Some(Format::Token),
            "header" => Some(Format::Header),
            "bearer" => Some(Format::Bearer),
            "json" => Some(Format::Json),
            "curl" => Some(Format::Curl),
            _ => None,
        };
        // A profile name becomes a file name in the cache directory: only names the configuration could hold.
        let plain = |p: &str| !p.starts_with('-') && crate::store::check_name(p).is_ok();
        match args {
            [cmd, p] if cmd == "get" && plain(p) => Some(Quick::Get { profile: p, format: Format::Token }),
            [cmd, p, flag, f] if cmd == "get" && plain(p) && (flag == "-o" || flag == "--output") => {
                Some(Quick::Get { profile: p, format: format(f)? })
            }
            [cmd, p] if cmd == "kubectl" && plain(p) => Some(Quick::Kubectl { profile: p }),
            _ => None,
        }
    }

    /// The profile asked for.
    pub(crate) fn profile(self) -> &'a str {
        match self {
            Quick::Get { profile, .. } | Quick::Kubectl { profile } => profile,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quick(list: &[&str]) -> Option<Quick<'static>> {
        let args: Vec<String> = list.iter().map(|s| (*s).to_owned()).collect();
        Quick::parse(Box::leak(args.into_boxed_slice()))
    }

    fn os(list: &[&str]) -> Vec<OsString> {
        list.iter().map(OsString::from).collect()
    }

    #[test]
    fn terraform_runs_tokenfob_as_its_credentials_helper() {
        let line =
            command_line(os(&["/home/u/.terraform.d/plugins/terraform-credentials-tokenfob", "get", "h.example"]));
        assert_eq!(
            line,
            os(&[
                "/home/u/.terraform.d/plugins/terraform-credentials-tokenfob",
                "terraform-credentials",
                "get",
                "h.example"
            ])
        );
        let cli = Cli::try_parse_from(command_line(os(&[
            "terraform-credentials-tokenfob.exe",
            "--profile",
            "p",
            "forget",
            "h",
        ])));
        assert!(matches!(
            cli.unwrap().command,
            Command::TerraformCredentials { profile: Some(p), verb: TerraformVerb::Forget, host, .. } if p == "p" && host == "h"
        ));
        assert!(Cli::try_parse_from(command_line(os(&["terraform-credentials-tokenfob", "frob", "h"]))).is_err());
    }

    #[test]
    fn bazel_runs_tokenfob_as_its_credential_helper() {
        let line = command_line(os(&["/opt/bin/tokenfob-credential-helper", "get"]));
        assert_eq!(line, os(&["/opt/bin/tokenfob-credential-helper", "credential-helper", "get"]));
        let cli = Cli::try_parse_from(line).unwrap();
        assert!(matches!(cli.command, Command::CredentialHelper { profile: None, command: HelperCommand::Get }));
        for other in [&["tokenfob-credential-helper"][..], &["tokenfob-credential-helper", "store"]] {
            assert!(Cli::try_parse_from(command_line(os(other))).is_err(), "{other:?}");
        }
        // Under its own name, tokenfob is itself.
        assert_eq!(command_line(os(&["/usr/bin/tokenfob", "get"])), os(&["/usr/bin/tokenfob", "get"]));
    }

    #[test]
    fn the_quick_forms_know_every_output_format_clap_knows() {
        for format in Format::value_variants() {
            let name = format.to_possible_value().expect("no skipped formats").get_name().to_owned();
            assert_eq!(quick(&["get", "od", "-o", &name]), Some(Quick::Get { profile: "od", format: *format }));
        }
    }

    #[test]
    fn only_the_plain_forms_are_quick() {
        assert_eq!(quick(&["get", "od"]), Some(Quick::Get { profile: "od", format: Format::Token }));
        assert_eq!(quick(&["get", "od", "-o", "json"]), Some(Quick::Get { profile: "od", format: Format::Json }));
        assert_eq!(quick(&["get", "od", "-o", "bearer"]), Some(Quick::Get { profile: "od", format: Format::Bearer }));
        assert_eq!(quick(&["kubectl", "od"]), Some(Quick::Kubectl { profile: "od" }));
        for other in [
            &["get"][..],
            &["get", "--url", "https://x"],
            &["get", "od", "--min-valid", "10m"],
            &["get", "od", "-o", "yaml"],
            &["--config", "c.toml", "get", "od"],
            &["get", "-o", "json"],
            &["login", "od"],
            &["kubectl"],
            &["get", "../elsewhere"],
            &["kubectl", ".hidden"],
            &["--cargo-plugin"],
            &["cargo-credential"],
        ] {
            assert!(quick(other).is_none(), "{other:?}");
        }
    }

    fn line(list: &[&str]) -> Vec<String> {
        command_line(list.iter().map(OsString::from)).into_iter().map(|a| a.into_string().unwrap()).collect()
    }

    #[test]
    fn setup_has_a_flag_per_secret_and_source_and_takes_one_source_per_secret() {
        let parse = |extra: &[&str]| {
            let mut args = vec!["tokenfob", "setup", "p", "--kind", "onedata"];
            args.extend_from_slice(extra);
            Cli::try_parse_from(args).map(|cli| match cli.command {
                Command::Setup(setup) => setup.secrets.given,
                other => panic!("{other:?}"),
            })
        };
        let given = parse(&["--password-env", "PW", "--client-secret-file", "~/s", "--token-stdin"]).unwrap();
        assert_eq!(
            given,
            [
                SecretFlag { key: "password", source: Some("env"), values: vec![("env", "PW".into())] },
                SecretFlag { key: "token", source: None, values: vec![] },
                SecretFlag { key: "client_secret", source: Some("file"), values: vec![("file", "~/s".into())] },
            ]
        );
        for key in SECRET_KEYS {
            for form in SETUP_SOURCES {
                let flag = format!("--{}-{}", key.replace('_', "-"), form.key);
                assert_eq!(parse(&[&flag, "x"]).unwrap().len(), 1, "{flag}");
            }
        }
        assert!(parse(&["--password-env", "A", "--password-file", "B"]).is_err(), "two sources for one secret");
        assert!(parse(&["--password-env", "A", "--password-stdin"]).is_err());
    }

    #[test]
    fn cargo_plugin_is_the_cargo_credential_subcommand() {
        assert_eq!(line(&["/usr/bin/tokenfob", "--cargo-plugin"]), ["/usr/bin/tokenfob", "cargo-credential"]);
        // Only as the first argument, where cargo puts it; anywhere else it is for clap to refuse.
        assert_eq!(line(&["tokenfob", "get", "--cargo-plugin"]), ["tokenfob", "get", "--cargo-plugin"]);
        assert_eq!(line(&["tokenfob"]), ["tokenfob"]);
        let cli = Cli::try_parse_from(line(&["tokenfob", "--cargo-plugin"])).unwrap();
        assert!(matches!(cli.command, Command::CargoCredential));
        assert!(Cli::try_parse_from(line(&["tokenfob", "--cargo-plugin", "extra"])).is_err());
    }

    #[test]
    fn installers_suffixes_are_not_part_of_the_name() {
        assert_eq!(base_name("docker-credential-tokenfob.exe"), "docker-credential-tokenfob");
        assert_eq!(base_name("tokenfob-credential-helper.EXE"), "tokenfob-credential-helper");
        assert_eq!(base_name("terraform-credentials-tokenfob_v0.1.0"), "terraform-credentials-tokenfob");
        assert_eq!(base_name("tokenfob-credential-helper"), "tokenfob-credential-helper");
        assert_eq!(base_name("tokenfob_vault"), "tokenfob_vault");
        assert_eq!(line(&["/p/terraform-credentials-tokenfob_v1.2.3", "get", "h"])[1], "terraform-credentials");
    }

    #[test]
    fn docker_credential_tokenfob_is_the_docker_credential_command() {
        assert_eq!(
            line(&["/usr/local/bin/docker-credential-tokenfob", "get"]),
            ["/usr/local/bin/docker-credential-tokenfob", "docker-credential", "get"]
        );
        let cli = Cli::try_parse_from(line(&["docker-credential-tokenfob", "list"])).unwrap();
        assert!(matches!(cli.command, Command::DockerCredential { action: DockerAction::List }));
        assert_eq!(line(&["tokenfob", "get"]), ["tokenfob", "get"], "tokenfob's own name adds nothing");
        assert!(Cli::try_parse_from(line(&["docker-credential-tokenfob", "delete"])).is_err(), "not a protocol verb");
    }
}
