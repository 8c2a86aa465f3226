//! The credential-helper spec of Bazel's `--credential_helper`: no Bazel installs here, so the exchange is run the way
//! Bazel runs it (`HELPER get` from the workspace, the request on stdin, then stdin closed) and checked against the
//! spec's own JSON schemas (vendored in `credential-helper-spec/`, with their source and licence), against the
//! pattern Bazel parses `expires` with, and against another implementation of the spec: `uv auth helper
//! --protocol=bazel`, given the same bearer token for the same service.

use std::path::{Path, PathBuf};

use serde_json::{Value, json};
use tokenfob_emulator::util;

use crate::support::server::tool;
use crate::support::{Run, Sandbox};

const REQUEST_SCHEMA: &str = include_str!("credential-helper-spec/get-credentials-request.schema.json");
const RESPONSE_SCHEMA: &str = include_str!("credential-helper-spec/get-credentials-response.schema.json");

/// Checks `value` against `schema`, for the keywords the spec's two schemas use; any other keyword is a panic, so a
/// newer schema is never checked halfway.
fn validate(schema: &Value, value: &Value, at: &str) -> Result<(), String> {
    let keywords = schema.as_object().expect("a schema is an object");
    for (key, rule) in keywords {
        match key.as_str() {
            "$id" | "$schema" | "title" | "description" | "properties" | "additionalProperties" => {}
            "type" => {
                let ok = match rule.as_str() {
                    Some("object") => value.is_object(),
                    Some("array") => value.is_array(),
                    Some("string") => value.is_string(),
                    other => panic!("the hand validator does not know the type {other:?}"),
                };
                if !ok {
                    return Err(format!("{at}: not of type {rule}"));
                }
            }
            "required" => {
                for name in rule.as_array().unwrap().iter().map(|n| n.as_str().unwrap()) {
                    if value.as_object().is_some_and(|o| !o.contains_key(name)) {
                        return Err(format!("{at}: {name:?} is required"));
                    }
                }
            }
            "items" => {
                for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                    validate(rule, item, &format!("{at}[{i}]"))?;
                }
            }
            other => panic!("the hand validator does not know the keyword {other:?}"),
        }
    }
    let properties = keywords.get("properties").and_then(Value::as_object);
    for (name, member) in value.as_object().into_iter().flatten() {
        let at = format!("{at}.{name}");
        match (properties.and_then(|p| p.get(name)), keywords.get("additionalProperties")) {
            (Some(schema), _) => validate(schema, member, &at)?,
            (None, None | Some(Value::Bool(true))) => {}
            (None, Some(Value::Bool(false))) => return Err(format!("{at}: not allowed")),
            (None, Some(schema)) => validate(schema, member, &at)?,
        }
    }
    Ok(())
}

fn request_ok(request: &Value) -> Result<(), String> {
    validate(&serde_json::from_str(REQUEST_SCHEMA).unwrap(), request, "request")
}

fn response_ok(response: &Value) -> Result<(), String> {
    validate(&serde_json::from_str(RESPONSE_SCHEMA).unwrap(), response, "response")
}

/// True when Bazel's parser of `expires` takes `text`: `DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ssXXX")`
/// (GetCredentialsResponse.java), so whole seconds and `Z` or `+hh:mm`; fractions of a second fail the build.
fn bazel_parses(text: &str) -> bool {
    let (main, zone) = text.split_at(text.len().min(19));
    let shape = main.bytes().zip(b"dddd-dd-ddTdd:dd:dd".iter()).all(|(c, &p)| match p {
        b'd' => c.is_ascii_digit(),
        p => c == p,
    });
    let zone_ok = zone == "Z"
        || (zone.len() == 6
            && zone.starts_with(['+', '-'])
            && zone
                .bytes()
                .skip(1)
                .zip(b"dd:dd".iter())
                .all(|(c, &p)| if p == b'd' { c.is_ascii_digit() } else { c == p }));
    main.len() == 19 && shape && zone_ok
}

#[test]
fn the_vendored_schemas_and_the_hand_validator_tell_good_from_bad() {
    assert!(request_ok(&json!({"uri": "https://a.example/x"})).is_ok());
    assert!(request_ok(&json!({"uri": "https://a.example/x", "future": [1]})).is_ok(), "more properties are fine");
    for bad in [json!({}), json!({"uri": 1}), json!({"url": "https://a.example/x"}), json!(["https://a"])] {
        assert!(request_ok(&bad).is_err(), "{bad}");
    }
    for good in [json!({}), json!({"headers": {}}), json!({"headers": {"A": ["b", "c"]}, "expires": "x", "y": 1})] {
        assert!(response_ok(&good).is_ok(), "{good}");
    }
    for bad in [
        json!([]),
        json!({"headers": {"Authorization": "Bearer t"}}),
        json!({"headers": {"Authorization": [1]}}),
        json!({"headers": []}),
        json!({"expires": 1_700_000_000}),
    ] {
        assert!(response_ok(&bad).is_err(), "{bad}");
    }
    assert!(bazel_parses("2026-01-02T03:04:05Z") && bazel_parses("2026-01-02T03:04:05+01:00"));
    for bad in ["2026-01-02T03:04:05.5Z", "2026-01-02 03:04:05Z", "2026-01-02T03:04:05", "1700000000", ""] {
        assert!(!bazel_parses(bad), "{bad}");
    }
}

/// The seed profiles, `od` serving some hosts of a build (files, a gRPC cache, and a plain-http mirror) and `acme`
/// an API host.
fn build_config(s: &Sandbox) {
    let text = s
        .seed_config()
        .replace(
            "[profiles.od]\n",
            "[profiles.od]\nmatch = [\"https://files.example.test/\", \"grpcs://cache.example.test/\", \
             \"http://plain.example.test/\"]\n",
        )
        .replace("[profiles.acme]\n", "[profiles.acme]\nmatch = [\"https://api.example.test/\"]\n");
    s.write_config(&text);
}

/// tokenfob as `tokenfob-credential-helper`, the path Bazel is given.
fn helper_path(s: &Sandbox) -> PathBuf {
    let dir = s.dir.path().join("bin");
    std::fs::create_dir_all(dir.join("../workspace")).unwrap();
    let link = dir.join("tokenfob-credential-helper");
    if !link.exists() {
        std::fs::create_dir_all(&dir).unwrap();
        std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_tokenfob"), &link).unwrap();
    }
    link
}

/// Runs `program ARGS` as Bazel runs a helper: from the workspace, the request written to stdin and stdin closed
/// (a write the helper never read is ignored, as Bazel ignores it).
fn ask(s: &Sandbox, program: &Path, args: &[&str], input: &[u8]) -> Run {
    let mut cmd = s.tool_command(program);
    cmd.args(args).current_dir(s.dir.path().join("workspace"));
    s.feed(cmd, input)
}

/// `HELPER get` for `request`, which must conform to the request schema; the answer must conform to the response
/// schema, and is returned as JSON.
fn get(s: &Sandbox, request: &Value) -> Value {
    request_ok(request).unwrap();
    let run = ask(s, &helper_path(s), &["get"], request.to_string().as_bytes());
    let answer: Value = serde_json::from_str(run.ok()).unwrap_or_else(|e| panic!("{e}: {run:#?}"));
    response_ok(&answer).unwrap();
    if let Some(values) = answer["headers"]["Authorization"].as_array() {
        for v in values {
            s.secret(v.as_str().unwrap().trim_start_matches("Bearer "));
        }
    }
    answer
}

/// When tokenfob renews the cached token: its expiry less the 60 s margin, or less half its lifetime when that is
/// shorter; rounded down to the second, as RFC 3339.
fn renew_at(s: &Sandbox, profile: &str) -> String {
    let time_of = |key: &str| util::parse_rfc3339(s.entry(profile)[key].as_str().unwrap()).unwrap();
    let (obtained, expires) = (time_of("obtained_at"), time_of("expires_at"));
    let at = expires - time::Duration::seconds(60).min((expires - obtained) / 2);
    util::rfc3339(at.replace_nanosecond(0).unwrap())
}

#[test]
fn the_exchange_follows_the_spec_and_is_served_from_the_cache() {
    let s = Sandbox::new();
    build_config(&s);
    let answer = get(&s, &json!({"uri": "https://files.example.test/deps/zlib-1.3.tar.gz"}));
    let token = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_eq!(
        answer,
        json!({"headers": {"Authorization": [format!("Bearer {token}")]}, "expires": renew_at(&s, "od")}),
        "the expiry reported is when tokenfob would renew"
    );
    assert!(bazel_parses(answer["expires"].as_str().unwrap()));
    assert_eq!(s.emu.count("od.login"), 1);

    // A second build, a remote cache over gRPC, the 2022 draft's `url`, and the subcommand: one login.
    assert_eq!(get(&s, &json!({"uri": "https://files.example.test/other.zip"})), answer);
    assert_eq!(
        get(&s, &json!({"uri": "grpcs://cache.example.test/build.bazel.remote.execution.v2.Capabilities"})),
        answer
    );
    let draft = ask(&s, &helper_path(&s), &["get"], br#"{"url":"https://files.example.test/x"}"#);
    assert_eq!(serde_json::from_str::<Value>(draft.ok()).unwrap(), answer);
    let sub = s.feed(s.command(&["credential-helper", "get"]), r#"{"uri":"https://files.example.test/x"}"#);
    assert_eq!(serde_json::from_str::<Value>(sub.ok()).unwrap(), answer);
    assert_eq!(s.emu.count("od.login"), 1, "every later call was a cache hit");

    // After expiry: one renewal, a new token, a new expiry.
    s.expire("od");
    let renewed = get(&s, &json!({"uri": "https://files.example.test/x"}));
    assert_eq!(s.emu.count("od.login"), 2);
    let new_token = s.entry("od")["token"].as_str().unwrap().to_owned();
    assert_ne!(new_token, token);
    assert_eq!(renewed["headers"]["Authorization"], json!([format!("Bearer {new_token}")]));
    assert_eq!(renewed["expires"], renew_at(&s, "od"));

    // A token that lives 61 s is renewed half way through, 30.5 s before it expires; `expires` is rounded down to the
    // second all the same, since Bazel fails to parse a fraction.
    s.emu.state().session_lifetime = 61;
    let api = get(&s, &json!({"uri": "https://api.example.test/v1/things"}));
    assert!(bazel_parses(api["expires"].as_str().unwrap()), "{api}");
    assert_eq!(api["expires"], renew_at(&s, "acme"));
}

#[test]
fn no_covering_profile_is_no_credentials_and_never_another_profiles_token() {
    let s = Sandbox::new();
    build_config(&s);
    for uri in [
        "https://elsewhere.example/x",
        "https://files.example.test:8443/x",
        "http://files.example.test/x",
        "https://bcr.bazel.build/modules/x/1.0/MODULE.bazel",
    ] {
        assert_eq!(get(&s, &json!({"uri": uri})), json!({}), "{uri}");
    }
    let explicit =
        ask(&s, &helper_path(&s), &["--profile", "acme", "get"], br#"{"uri":"https://files.example.test/x"}"#);
    assert_eq!(explicit.ok(), "{}", "--profile answers only for what that profile covers");
    assert_eq!(s.emu.count("od.login") + s.emu.count("session.login"), 0, "nothing logged in");
    let chosen = ask(&s, &helper_path(&s), &["--profile", "od", "get"], br#"{"uri":"https://files.example.test/x"}"#);
    assert!(chosen.ok().starts_with(r#"{"headers":{"Authorization":["Bearer "#));
}

#[test]
fn bad_input_and_unknown_commands_fail_with_nothing_on_stdout() {
    let s = Sandbox::new();
    build_config(&s);
    let helper = helper_path(&s);
    for (input, says) in [
        (&b""[..], "not JSON"),
        (b"{", "not JSON"),
        (b"[\"https://files.example.test/x\"]", "not a JSON object"),
        (b"{}", "no \"uri\""),
        (br#"{"uri":5}"#, "\"uri\" is not a string"),
        (br#"{"uri":"files.example.test/x"}"#, "not a URL"),
        (br#"{"uri":"https://files.example.test/x","url":"https://evil.example/"}"#, "different URIs"),
    ] {
        ask(&s, &helper, &["get"], input).fails(2, says);
    }
    let huge = format!("{{\"uri\":\"https://files.example.test/{}\"}}", "x".repeat(1 << 20));
    ask(&s, &helper, &["get"], huge.as_bytes()).fails(2, "more than 65536 bytes");
    ask(&s, &helper, &["get"], br#"{"uri":"http://plain.example.test/x"}"#).fails(2, "unencrypted http connection");
    ask(&s, &helper, &["frob"], b"").fails(2, "frob");
    ask(&s, &helper, &["store"], b"").fails(2, "store");
    ask(&s, &helper, &[], b"").fails(2, "Usage");
    assert_eq!(s.emu.count("od.login"), 0);
}

/// The path of uv's credentials file in the sandbox, as `uv auth dir` reports it.
fn uv_credentials(s: &Sandbox, uv: &Path) -> PathBuf {
    let run = uv_command(s, uv, &["auth", "dir"]).output().unwrap();
    let dir = String::from_utf8(run.stdout).unwrap().trim().to_owned();
    assert!(dir.starts_with(s.dir.path().to_str().unwrap()), "uv keeps its credentials in the sandbox: {dir}");
    std::fs::create_dir_all(&dir).unwrap();
    Path::new(&dir).join("credentials.toml")
}

fn uv_command(s: &Sandbox, uv: &Path, args: &[&str]) -> std::process::Command {
    let mut cmd = s.tool_command(uv);
    cmd.args(["--preview-features", "auth-helper", "--no-config"])
        .args(args)
        .env("XDG_DATA_HOME", s.dir.path().join("uv-data"))
        .env("XDG_CONFIG_HOME", s.dir.path().join("uv-config"))
        .env("UV_CACHE_DIR", s.dir.path().join("uv-cache"))
        .current_dir(s.dir.path().join("workspace"));
    cmd
}

/// An answer as the spec reads it: `{}`, `{"headers":{}}` and empty header lists all mean "no headers".
fn headers_of(answer: &Value) -> Value {
    let mut headers = answer.get("headers").cloned().unwrap_or(json!({}));
    headers.as_object_mut().unwrap().retain(|_, v| !v.as_array().unwrap().is_empty());
    headers
}

#[test]
fn uv_another_implementation_answers_the_same_requests_with_the_same_headers() {
    let Some(uv) = tool("uv") else { return };
    let s = Sandbox::new();
    build_config(&s);
    let token = get(&s, &json!({"uri": "https://files.example.test/"}))["headers"]["Authorization"][0]
        .as_str()
        .unwrap()
        .trim_start_matches("Bearer ")
        .to_owned();
    // uv's own store, holding the same bearer token for the same service as tokenfob's profile (the form `uv auth
    // login` writes, with the bearer scheme uv uses for tokens it is given as such).
    let store = format!(
        "[[credential]]\nservice = \"https://files.example.test/\"\nscheme = \"bearer\"\ntoken = \"{token}\"\n"
    );
    std::fs::write(uv_credentials(&s, &uv), store).unwrap();
    let helper = helper_path(&s);
    for input in [
        r#"{"uri":"https://files.example.test/deps/zlib-1.3.tar.gz"}"#,
        r#"{"uri":"https://FILES.example.test:443/deps/x?sha=1","future":{"a":[1]}}"#,
        r#"{"uri":"https://files.example.test"}"#,
        r#"{"uri":"https://files.example.test:8443/x"}"#,
        r#"{"uri":"https://elsewhere.example/x"}"#,
        r#"{"uri":"not a url"}"#,
        r#"{"uri":5}"#,
        "{}",
        "{",
    ] {
        let ours = ask(&s, &helper, &["get"], input.as_bytes());
        let theirs = s.feed(uv_command(&s, &uv, &["auth", "helper", "--protocol=bazel", "get"]), input);
        assert_eq!(ours.code == 0, theirs.code == 0, "{input}: tokenfob {ours:#?}, uv {theirs:#?}");
        if ours.code != 0 {
            assert!(ours.stdout.is_empty() && theirs.stdout.is_empty(), "{input}");
            continue;
        }
        let (ours, theirs): (Value, Value) =
            (serde_json::from_str(&ours.stdout).unwrap(), serde_json::from_str(&theirs.stdout).unwrap());
        response_ok(&theirs).unwrap();
        assert_eq!(headers_of(&ours), headers_of(&theirs), "{input}: tokenfob {ours}, uv {theirs}");
    }
    // The one matched answer, byte for byte in uv's form: the same header, and tokenfob adds only `expires`.
    let input = r#"{"uri":"https://files.example.test/x"}"#;
    let theirs = s.feed(uv_command(&s, &uv, &["auth", "helper", "--protocol=bazel", "get"]), input);
    assert_eq!(theirs.ok(), format!(r#"{{"headers":{{"Authorization":["Bearer {token}"]}}}}"#));
    assert_eq!(s.emu.count("od.login"), 1);
}
