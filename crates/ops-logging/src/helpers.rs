//! The playbook's helpers: `log_request` and `log_error`.

use std::fmt::{self, Write as _};

use crate::error::Error;
use crate::json::{self, VecWriter};
use crate::layer::raw_json_mark;

/// A value that ops-logging writes as JSON (an object, array, number…) instead of a string,
/// when recorded with `%` or `?`. Other subscribers see its text after a short marker. Only
/// values made by this type are written raw: no user string can inject JSON.
///
/// The text is checked when wrapped: exactly one JSON value, no raw newline, so it can never
/// end a line early or add one. It is written compactly, and secret-looking member names are
/// redacted at any depth, as are secrets inside its strings.
///
/// ```
/// let tags = ops_logging::RawJson::new(r#"{"tags":["a","b"],"api_key":"k-1"}"#)?;
/// tracing::info!(tags = %tags, "tagged"); // "tags":{"tags":["a","b"],"api_key":"[REDACTED]"}
/// assert!(ops_logging::RawJson::new("{\"a\":1}\n{\"b\":2}").is_err());
/// # Ok::<(), ops_logging::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct RawJson(String);

impl RawJson {
    /// Wraps `json`, which must be exactly one JSON value (whitespace around and between tokens
    /// allowed, but no raw newline or carriage return anywhere). It is kept compact.
    ///
    /// # Errors
    /// [`Error::InvalidJson`] with the byte offset of the first problem.
    pub fn new(json: impl AsRef<str>) -> Result<Self, Error> {
        let text = json.as_ref();
        if let Some(offset) = text.bytes().position(|b| b == b'\n' || b == b'\r') {
            return Err(Error::InvalidJson {
                offset,
                reason: "raw newline (JSON lines are one line each: use compact JSON)",
            });
        }
        let mut compact = Vec::with_capacity(text.len());
        json::reencode(&mut compact, text, None)
            .map_err(|(offset, reason)| Error::InvalidJson { offset, reason })?;
        Ok(RawJson(String::from_utf8(compact).unwrap_or_default()))
    }

    /// The JSON text, compact.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(raw_json_mark())?;
        f.write_str(&self.0)
    }
}

impl fmt::Debug for RawJson {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Logs one HTTP request on the access stream (target `access`, level INFO): message
/// "HTTP Request" with `method`, `path`, `status_code`, `response_time_ms` and, when known,
/// `user_id`, as the playbook's `log_request`. The time is rounded to whole nanoseconds.
///
/// ```
/// ops_logging::log_request("GET", "/api/users", 200, 12.5, Some("u-42"));
/// ```
pub fn log_request(
    method: &str,
    path: &str,
    status_code: u16,
    response_time_ms: f64,
    user_id: Option<&str>,
) {
    // Whole nanoseconds: a duration converted to milliseconds in f64 carries noise digits
    // (0.9304479999999999) that belong in no log line.
    let response_time_ms = (response_time_ms * 1e6).round() / 1e6;
    match user_id {
        Some(user_id) => tracing::info!(
            target: "access",
            method,
            path,
            status_code,
            response_time_ms,
            user_id,
            "HTTP Request"
        ),
        None => {
            tracing::info!(target: "access", method, path, status_code, response_time_ms, "HTTP Request");
        }
    }
}

/// Logs an error at ERROR, as the playbook's `log_error`: the message is the error's text, with
/// `error_type` (the Rust type), `error_chain` (the texts of the whole `source()` chain, outermost
/// first) and `context` (an object of the values' `Display` texts). Secret-looking context keys
/// and secrets inside any of these texts are redacted by the layer with its list.
///
/// ```
/// let err = std::fs::read("/nope").unwrap_err();
/// ops_logging::log_error(&err, &[("path", &"/nope"), ("attempt", &3)]);
/// ```
pub fn log_error<E>(error: &E, context: &[(&str, &dyn fmt::Display)])
where
    E: std::error::Error + ?Sized,
{
    let error_type = std::any::type_name::<E>();
    let mut chain = Vec::with_capacity(64);
    chain.push(b'[');
    let mut source = error.source();
    let mut first = true;
    // A source chain is short; a cyclic or endless one (a bug elsewhere) stops here.
    let mut depth = 0;
    while let Some(s) = source
        && depth < 64
    {
        depth += 1;
        if !first {
            chain.push(b',');
        }
        first = false;
        json::string(&mut chain, &s.to_string());
        source = s.source();
    }
    chain.push(b']');
    let mut ctx = Vec::with_capacity(64);
    ctx.push(b'{');
    let mut text = Vec::new();
    for (i, (key, value)) in context.iter().enumerate() {
        if i > 0 {
            ctx.push(b',');
        }
        json::string(&mut ctx, key);
        ctx.push(b':');
        text.clear();
        let _ = write!(VecWriter(&mut text), "{value}");
        json::string(&mut ctx, &String::from_utf8_lossy(&text));
    }
    ctx.push(b'}');
    let chain = RawJson(String::from_utf8_lossy(&chain).into_owned());
    let ctx = RawJson(String::from_utf8_lossy(&ctx).into_owned());
    tracing::error!(
        error_type,
        error_chain = %chain,
        context = %ctx,
        "{error}"
    );
}
