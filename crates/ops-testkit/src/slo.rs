//! SLO definitions the suites share: the quickstart's two SLOs as an ops-slo definitions
//! file (TOML).

/// The quickstart's SLOs: `availability` (requests answered without a 5xx) and `latency`
/// (within 2.5 s, a bucket bound of `http_server_request_duration_seconds`), both with the
/// default objective and window. The latency SLO comes last, so a test can add keys to its
/// SLI (`route`, `method`) or more `[[slo]]` tables after it.
///
/// ```
/// let text = ops_testkit::slo::QUICKSTART_SLOS;
/// assert!(text.starts_with("service = \"quickstart\"\n"));
/// assert!(text.ends_with("[slo.sli.http_latency]\nthreshold = \"2.5s\"\n"));
/// ```
pub const QUICKSTART_SLOS: &str = r#"service = "quickstart"

[[slo]]
name = "availability"
[slo.sli.http_availability]

[[slo]]
name = "latency"
[slo.sli.http_latency]
threshold = "2.5s"
"#;
