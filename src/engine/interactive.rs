//! The interactive steps of a login, run before the token call: the device code (RFC 8628) shown on the terminal
//! and polled for, and the browser login (RFC 6749 4.1 with PKCE S256 per RFC 7636, loopback redirect per RFC 8252)
//! that waits for the redirect on 127.0.0.1 (see `redirect`). Both need a terminal, run under the profile's lock
//! (one at a time, so parallel callers never open ten browser tabs), and give up after `interactive_timeout`.

use std::net::TcpListener;
use std::time::{Duration, Instant};

use super::redirect::wait_for_code;
use super::{Engine, Outcome};
use crate::error::{Error, Result};
use crate::recipe::CallSpec;

impl Engine<'_> {
    /// RFC 8628: asks for a device code, shows it on the terminal, and polls the token endpoint until the user
    /// confirms, refuses, or the code expires.
    pub(super) fn device(&mut self, authorize: &CallSpec, timeout: Duration) -> Result<Outcome> {
        let what = format!("starting the device login of profile {:?}", self.profile_name());
        self.require_interaction(&what)?;
        let (answer, _, url) = self.run(authorize, "POST", &what)?;
        let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap_or_default();
        let field = |name: &str| json.get(name).and_then(|v| v.as_str()).map(str::to_owned);
        let (Some(device_code), Some(user_code), Some(uri)) =
            (field("device_code"), field("user_code"), field("verification_uri"))
        else {
            return Err(self.unusable(&answer, &url, &what));
        };
        // Server text goes to the terminal: without control characters, which could drive it (escape sequences).
        let shown = crate::engine::reply::clean(&field("verification_uri_complete").unwrap_or(uri.clone()));
        crate::sys::tty::say_on_tty(&format!(
            "To log in to profile {:?}, open {shown}\nand confirm the code {} (waiting up to {}s).\n",
            self.profile_name(),
            crate::engine::reply::clean(&user_code),
            timeout.as_secs()
        ));
        self.set_secret("device_code", device_code);
        // The server's numbers are bounded before any arithmetic: an absurd interval or expires_in must not overflow
        // the clock (issue #10). The wait is bounded by `interactive_timeout` anyway.
        let seconds = |name: &str, default: u64| json.get(name).and_then(|v| v.as_u64()).unwrap_or(default);
        // A poll interval longer than the whole wait would never poll: bound it by the wait, not by a constant.
        let longest = timeout.as_secs().max(1);
        let mut interval = Duration::from_secs(seconds("interval", 5).clamp(1, longest));
        let expires = Duration::from_secs(seconds("expires_in", 600).min(timeout.as_secs()));
        let deadline = deadline_after(timeout.min(expires));
        let login = self.recipe().login.clone();
        let what = format!("waiting for the device login of profile {:?}", self.profile_name());
        loop {
            if Instant::now().checked_add(interval).is_none_or(|next| next > deadline) {
                return Err(Error::InteractionRequired {
                    what,
                    why: format!("nobody confirmed the code within {}s", timeout.min(expires).as_secs()),
                    profile: self.profile_name().to_owned(),
                });
            }
            std::thread::sleep(interval);
            let (answer, sent_at, url) = self.run(&login, "POST", &what)?;
            match self.error_code(&answer).as_deref() {
                Some("authorization_pending") => continue,
                // RFC 8628 3.5: slow down by 5 seconds.
                Some("slow_down") => interval = (interval + Duration::from_secs(5)).min(Duration::from_secs(longest)),
                _ => return self.read_reply(&answer, sent_at, &url, &what),
            }
        }
    }

    /// RFC 6749 4.1 with PKCE: opens the authorization URL in a browser and waits on 127.0.0.1 for the redirect.
    pub(super) fn browser(
        &mut self,
        authorization_url: &str,
        query: &[(String, String)],
        timeout: Duration,
    ) -> Result<Outcome> {
        let what = format!("logging in to profile {:?} in a browser", self.profile_name());
        self.require_interaction(&what)?;
        let listener = TcpListener::bind("127.0.0.1:0")
            .map_err(|e| Error::system(format!("{what}: listening on 127.0.0.1"), e))?;
        let port = listener.local_addr().map_err(|e| Error::system(&what, e))?.port();
        let state = crate::sys::random_hex(16)?;
        let verifier = crate::jwt::base64url_encode(&hex_bytes(&crate::sys::random_hex(32)?));
        let challenge =
            crate::jwt::base64url_encode(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref());
        self.set_plain("redirect_uri", format!("http://127.0.0.1:{port}/callback"));
        self.set_plain("state", state.clone());
        self.set_plain("code_challenge", challenge);
        self.set_secret("code_verifier", verifier);
        let mut url = reqwest::Url::parse(&self.url_text(authorization_url)?)
            .map_err(|e| Error::Config(format!("{what}: the authorization URL is not a URL: {e}")))?;
        for (key, template) in query {
            if let Some(value) = self.optional_value(template)? {
                url.query_pairs_mut().append_pair(key, &value);
            }
        }
        let opened = open_browser(self.env_var("BROWSER"), url.as_str());
        let how = if opened { "A browser window was opened; if it did not appear, open" } else { "Open" };
        crate::sys::tty::say_on_tty(&format!(
            "To log in to profile {:?}: {how} this URL:\n{url}\n",
            self.profile_name()
        ));
        let code = wait_for_code(&listener, &state, deadline_after(timeout), &what, self.profile_name())
            .map_err(|e| self.redact_error(e))?;
        self.set_secret("code", code);
        let login = self.recipe().login.clone();
        let (answer, sent_at, url) = self.run(&login, "POST", &what)?;
        self.read_reply(&answer, sent_at, &url, &what)
    }
}

/// Now plus `wait`, saturating at a century: the interval, `expires_in` and `interactive_timeout` come from a
/// server or the user, and `Instant` arithmetic that overflows panics.
fn deadline_after(wait: Duration) -> Instant {
    let now = Instant::now();
    now.checked_add(wait).or_else(|| now.checked_add(Duration::from_secs(100 * 365 * 86_400))).unwrap_or(now)
}

fn hex_bytes(hex: &str) -> Vec<u8> {
    (0..hex.len() / 2).filter_map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).ok()).collect()
}

/// `$BROWSER` (its first entry, see `sys::child::browser_from`) or the desktop's opener (xdg-open, macOS's open,
/// Windows's URL handler); false when neither could be started.
fn open_browser(browser: Option<String>, url: &str) -> bool {
    let mut argv = match browser.filter(|b| !b.is_empty()) {
        Some(b) => crate::sys::child::browser_from(&b, url),
        None => crate::sys::child::browser(url),
    };
    if argv.is_empty() {
        return false;
    }
    let program = argv.remove(0);
    std::process::Command::new(program)
        .args(argv)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .is_ok()
}
