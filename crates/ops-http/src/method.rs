//! The `method` label: the standard methods as they are, anything else `_OTHER`.

use http::Method;

/// The `method` label of a request whose method is not one of the standard ones
/// (OpenTelemetry's convention): `PURGE`, `get` (methods are case-sensitive), `BREW`.
pub const OTHER_METHOD: &str = "_OTHER";

/// The methods kept as they are, in the order of their index: RFC 9110's and `PATCH`, the
/// list OpenTelemetry's HTTP conventions know.
const STANDARD: [(Method, &str); 9] = [
    (Method::GET, "GET"),
    (Method::POST, "POST"),
    (Method::PUT, "PUT"),
    (Method::DELETE, "DELETE"),
    (Method::HEAD, "HEAD"),
    (Method::OPTIONS, "OPTIONS"),
    (Method::PATCH, "PATCH"),
    (Method::CONNECT, "CONNECT"),
    (Method::TRACE, "TRACE"),
];

/// Label values a layer can give `method`: the nine standard methods and `_OTHER`.
pub(crate) const COUNT: usize = STANDARD.len() + 1;

/// The index of a method's label, `0..COUNT` (`_OTHER` last).
#[inline]
pub(crate) fn index(method: &Method) -> usize {
    STANDARD
        .iter()
        .position(|(m, _)| m == method)
        .unwrap_or(STANDARD.len())
}

/// The label of an index from [`index`].
pub(crate) fn label_of(index: usize) -> &'static str {
    STANDARD.get(index).map_or(OTHER_METHOD, |(_, label)| label)
}

/// The `method` label value the layer gives a request: `GET`, `POST`, `PUT`, `DELETE`,
/// `HEAD`, `OPTIONS`, `PATCH`, `CONNECT` and `TRACE` as they are, anything else
/// [`OTHER_METHOD`] (`_OTHER`), so a client cannot grow the label's values.
///
/// ```
/// use http::Method;
/// assert_eq!(ops_http::method_label(&Method::PATCH), "PATCH");
/// assert_eq!(ops_http::method_label(&Method::from_bytes(b"PURGE")?), "_OTHER");
/// assert_eq!(ops_http::method_label(&Method::from_bytes(b"get")?), "_OTHER");
/// # Ok::<(), http::method::InvalidMethod>(())
/// ```
pub fn method_label(method: &Method) -> &'static str {
    label_of(index(method))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn every_standard_method_keeps_its_name_and_the_rest_are_other() {
        for (method, label) in &STANDARD {
            assert_eq!(method_label(method), *label);
            assert_eq!(method.as_str(), *label);
            assert!(index(method) < COUNT - 1);
        }
        for odd in ["PURGE", "get", "Post", "MKCOL", "X"] {
            let method = Method::from_bytes(odd.as_bytes()).unwrap();
            assert_eq!(index(&method), COUNT - 1, "{odd}");
            assert_eq!(method_label(&method), OTHER_METHOD);
        }
        assert_eq!(label_of(COUNT + 5), OTHER_METHOD);
    }
}
