//! Every failure tokenfob can report, as one enum.
//!
//! Each variant knows its process exit code and its JSON-protocol error code, so the shell face and the JSON face
//! agree by construction. Messages follow `<what failed>: <why> (<what to do>)` and name the file, URL or variable
//! involved, never a secret: callers build them from names and URLs only.

use std::path::PathBuf;

/// A tokenfob failure; `Display` gives the one-line message for stderr.
#[derive(Debug, thiserror::Error)]
pub(crate) enum Error {
    /// A malformed JSON-protocol request.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// A JSON-protocol request with a version other than 1.
    #[error("unsupported protocol version {0} (this tokenfob speaks version 1)")]
    UnsupportedVersion(String),
    /// No profile by that name, or none could be chosen.
    #[error("{why} (profiles: {known})")]
    UnknownProfile { why: String, known: String },
    /// The configuration cannot be read or is invalid.
    #[error("{0}")]
    Config(String),
    /// The server refused the credentials.
    #[error(
        "{what}: {url} rejected the credentials: {why} (check the credentials of profile {profile:?}, then run `tokenfob login {profile}`)"
    )]
    AuthRejected { what: String, url: String, why: String, profile: String },
    /// The server answered, but not with something usable.
    #[error("{what}: {url} answered {why} (try again later, or check the URL)")]
    Server { what: String, url: String, why: String },
    /// The server could not be reached.
    #[error("{what}: cannot reach {url}: {why} (check the network, the proxy and the URL)")]
    Network { what: String, url: String, why: String },
    /// A secret must be typed in, and nobody is there to type it.
    #[error("{what}: needs a terminal, and {why} (run `tokenfob login {profile}` in a terminal)")]
    InteractionRequired { what: String, why: String, profile: String },
    /// The system keyring is locked, and nobody here can answer its unlock prompt.
    #[error("{what}: the system keyring is locked, and only a terminal can have it unlocked ({fix})")]
    Locked { what: String, fix: String },
    /// Another process held the profile's lock for too long.
    #[error("waiting for lock {}: still held after {seconds}s (another tokenfob is renewing; raise TOKENFOB_LOCK_TIMEOUT, or stop the process that holds it)", path.display())]
    LockTimeout { path: PathBuf, seconds: u64 },
    /// A local file operation failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A local operation other than on a file failed: listening on loopback, starting a program.
    #[error("{what}: {source}")]
    System {
        what: String,
        #[source]
        source: std::io::Error,
    },
    /// Reading the request from stdin failed.
    #[error("reading stdin: {0}")]
    Input(#[source] std::io::Error),
    /// Writing the answer to stdout failed (a reader that went away is not reported: see `main`).
    #[error("writing to stdout: {0}")]
    Output(#[source] std::io::Error),
    /// `wire --apply` found another entry where tokenfob's would go, and was not told to replace it.
    #[error("{0}")]
    Conflict(String),
    /// `tokenfob check` found problems: its findings are on stdout, this summary on stderr, `code` its exit code.
    #[error("{summary}")]
    Findings { code: u8, summary: String },
    /// Anything else: a child command that failed, a failure without a typed cause.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// The process exit code documented in docs/protocol.md.
    pub(crate) fn exit_code(&self) -> u8 {
        match self {
            Error::BadRequest(_) | Error::UnsupportedVersion(_) => 2,
            Error::UnknownProfile { .. } | Error::Config(_) => 2,
            Error::AuthRejected { .. } => 3,
            Error::Server { .. } | Error::Network { .. } => 4,
            Error::InteractionRequired { .. } | Error::Locked { .. } => 5,
            Error::LockTimeout { .. } => 6,
            Error::Conflict(_) => 7,
            Error::Findings { code, .. } => *code,
            Error::Io { .. } | Error::System { .. } | Error::Input(_) | Error::Output(_) | Error::Other(_) => 1,
        }
    }

    /// The JSON-protocol error code documented in docs/protocol.md.
    pub(crate) fn code(&self) -> &'static str {
        match self {
            Error::BadRequest(_) => "bad_request",
            Error::UnsupportedVersion(_) => "unsupported_version",
            Error::UnknownProfile { .. } => "unknown_profile",
            Error::Config(_) => "config",
            Error::AuthRejected { .. } => "auth_rejected",
            Error::Server { .. } => "server",
            Error::Network { .. } => "network",
            Error::InteractionRequired { .. } | Error::Locked { .. } => "interaction_required",
            Error::LockTimeout { .. } => "lock_timeout",
            Error::Conflict(_) => "conflict",
            Error::Findings { .. } => "config",
            Error::Io { .. } | Error::System { .. } | Error::Input(_) | Error::Output(_) | Error::Other(_) => {
                "internal"
            }
        }
    }

    /// An I/O failure while doing `what` on `path`.
    pub(crate) fn io(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Error {
        Error::Io { what, path: path.to_owned(), source }
    }

    /// A local operation, `what`, failed with `source`.
    pub(crate) fn system(what: impl Into<String>, source: std::io::Error) -> Error {
        Error::System { what: what.into(), source }
    }

    /// True for a write to a reader that went away (`tokenfob get | head -c0`): the answer was offered, nobody
    /// took it, and that is nobody's failure.
    pub(crate) fn is_broken_pipe(&self) -> bool {
        matches!(self, Error::Output(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
    }
}

/// The result type used throughout tokenfob.
pub(crate) type Result<T, E = Error> = std::result::Result<T, E>;
