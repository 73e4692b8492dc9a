//! Names that end up in file names, proxy configuration or command arguments — release ids,
//! the service name, container names, the nginx upstream name, the health-check path — are
//! checked here before they are used, with a typed error naming the field and the value.

use crate::error::{Error, Result};

/// The longest id accepted (Docker's limit for a tag).
const MAX_ID: usize = 128;

/// A release id, a container name or an image tag: a letter, digit or `_` first, then
/// letters, digits, `_`, `.` and `-`, at most 128 bytes. Never `..`, `/` or a leading `.`, so
/// it can be joined to a directory without leaving it.
pub(crate) fn check_id(field: &'static str, value: &str) -> Result<()> {
    let mut chars = value.chars();
    let first_ok = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_');
    let rest_ok = chars.all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if first_ok && rest_ok && value.len() <= MAX_ID {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field,
            value: value.to_owned(),
            expected: "a letter, digit or _ first, then letters, digits, _, . and -, at most 128 characters",
        })
    }
}

/// The service name: letters, digits, `-` and `_` (it becomes file names, Docker labels and
/// image names).
pub(crate) fn check_service(value: &str) -> Result<()> {
    if !value.is_empty()
        && value.len() <= MAX_ID
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: "service",
            value: value.to_owned(),
            expected: "use letters, digits, - and _",
        })
    }
}

/// An nginx upstream name: written into the upstream file as `upstream <name> {`, so only an
/// identifier (letters, digits, `_`, `.`, `-`); anything else could add configuration.
pub(crate) fn check_upstream_name(value: &str) -> Result<()> {
    if !value.is_empty()
        && value.len() <= MAX_ID
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
    {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: "proxy.upstream_name",
            value: value.to_owned(),
            expected: "an nginx identifier: letters, digits, _, . and -",
        })
    }
}

/// The health-check path: an HTTP origin-form target (`/health`, `/health?deep=1`) — starts
/// with `/`, printable ASCII only (no space, no CR or LF that would end the request line and
/// add headers), at most 2048 bytes.
pub(crate) fn check_health_path(value: &str) -> Result<()> {
    if value.starts_with('/')
        && value.len() <= 2048
        && value.bytes().all(|b| b.is_ascii_graphic())
        && !value.contains('#')
    {
        Ok(())
    } else {
        Err(Error::InvalidValue {
            field: "health.path",
            value: value.to_owned(),
            expected: "an origin-form path: / first, printable ASCII without spaces or #",
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use super::*;

    #[test]
    fn ids() {
        for ok in ["web-1", "web_2", "a", "A.b-c_9", "_x"] {
            assert!(check_id("release id", ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            ".hidden",
            "-x",
            "a b",
            "a\nb",
            "é",
            &"a".repeat(129),
        ] {
            assert!(check_id("release id", bad).is_err(), "{bad:?}");
        }
        let err = check_id("release id", "../../etc").unwrap_err().to_string();
        assert!(err.starts_with("release id \"../../etc\": "), "{err}");
    }

    #[test]
    fn upstream_names_and_paths() {
        assert!(check_upstream_name("web.backend-2").is_ok());
        for bad in ["", "web { } server {", "a;b", "a\nb", "a b"] {
            assert!(check_upstream_name(bad).is_err(), "{bad:?}");
        }
        for ok in ["/", "/health", "/health?deep=1&x=%20"] {
            assert!(check_health_path(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "health",
            "/a b",
            "/h\r\nX-Evil: 1",
            "/h\n",
            "/h#f",
            "/é",
        ] {
            assert!(check_health_path(bad).is_err(), "{bad:?}");
        }
        assert!(check_service("web_2-x").is_ok());
        assert!(check_service("web.2").is_err());
    }
}
