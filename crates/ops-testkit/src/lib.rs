//! What the ops-rs test suites (and the deploy-outage report) share, in one place: outside
//! tools found or skipped, promtool as an oracle, free ports and a small HTTP client, nginx in
//! front of the releases, load from client threads, and the health server the deploy tests
//! deploy. Not published; a dev-dependency only.
//!
//! A test kit may panic: every helper that cannot do its job panics with a message that says
//! what failed (`cannot run docker ["info"]: …`, `waited 20s for the quickstart to answer`).
//!
//! # Tools ([`tools`])
//!
//! Tests that need an outside program skip with a printed reason when it is missing, unless
//! `OPS_REQUIRE_TOOLS=1` (CI) makes the missing program a failure.
//!
//! * [`tools::required`]: whether `OPS_REQUIRE_TOOLS=1`; [`tools::REQUIRE_TOOLS`] names it.
//! * [`tools::available`]`(test, what, ok)`: skip-or-fail when `ok` is false;
//!   [`tools::require`] the same for an `Option`.
//! * [`tools::find`]`(test, program)`: a program on `PATH`, or skip-or-fail;
//!   [`tools::on_path`] only looks.
//! * [`tools::runs`]`(program, args)`: whether it runs and exits 0.
//! * [`tools::python3_with`]`(module)`: python3 that can import a module (psutil).
//! * [`tools::docker_available`]`(test)` and [`tools::docker`]`(args)` (stdout, or a panic
//!   with docker's stderr).
//! * [`tools::pipe`]`(command, input)`: a child fed on stdin; [`tools::output_text`]: its
//!   stdout and stderr as one text.
//!
//! # promtool ([`promtool`])
//!
//! * [`promtool::find`]`(test)`: promtool, or skip-or-fail ([`promtool::WHAT`] names it).
//! * [`promtool::check_metrics`]`(promtool, page)` → [`promtool::Checked`] (`success`,
//!   `output`, [`clean`](promtool::Checked::clean)); [`promtool::assert_clean_metrics`].
//! * [`promtool::test_rules`]`(promtool, dir, test_file)`, [`promtool::check_rules`].
//!
//! # Prometheus and Alertmanager ([`prometheus`])
//!
//! * [`prometheus::Prometheus`]: a real Prometheus server on 127.0.0.1 with a scratch TSDB,
//!   killed on drop; [`find`](prometheus::Prometheus::find) (skip-or-fail),
//!   [`start`](prometheus::Prometheus::start)`(binary, config)`,
//!   [`query`](prometheus::Prometheus::query), [`alerts`](prometheus::Prometheus::alerts),
//!   [`get`](prometheus::Prometheus::get), [`log`](prometheus::Prometheus::log).
//! * [`prometheus::Alertmanager`]: the same for Alertmanager (clustering off);
//!   [`alerts`](prometheus::Alertmanager::alerts) is `/api/v2/alerts`.
//! * [`prometheus::PageServer`]: a scrape target serving a fixed page, or one per request;
//!   [`prometheus::url_encode`] for query strings.
//!
//! # Network ([`net`])
//!
//! * [`net::free_port`], [`net::free_ports`]`::<N>()`, [`net::local`]`(port)`.
//! * [`net::http`]`(addr, method, path, headers)` → `Option<(status, body)>`: one HTTP/1.0
//!   request.
//! * [`net::wait_until`]`(timeout, what, poll)` and [`net::wait_for_port`]`(addr, timeout)`.
//! * [`net::ScriptedServer`]: answers requests with scripted statuses and records each
//!   [`net::Request`] (a webhook, Slack, a flaky endpoint).
//!
//! # nginx ([`nginx`])
//!
//! * [`nginx::Nginx`]: a real nginx on 127.0.0.1 with its own files and upstream file,
//!   stopped on drop; [`nginx::Nginx::builder`] → [`nginx::NginxBuilder`];
//!   [`nginx::Nginx::available`]`(test)`; [`nginx::Nginx::proxy_config`] is the `[proxy]`
//!   section of an ops-deploy config.
//! * [`nginx::toml_string`], [`nginx::toml_array`]: values for a TOML config.
//!
//! # Load ([`load`])
//!
//! * [`load::Load`]: client threads getting a path until [`load::Load::finish`] →
//!   [`load::LoadReport`] (ok, non-2xx, connection errors, retries, longest outage, releases
//!   seen); [`load::LoadBuilder`], [`load::Connections`].
//!
//! # Health server ([`health_server`])
//!
//! * [`health_server::serve`]`(listener, options)`: the release of the deploy tests;
//!   [`health_server::Options`], [`health_server::Health`].
//! * [`health_server::child_command`] and [`health_server::run_child`]: the same, as this test
//!   binary re-executed by the deploy under test.
//!
//! # SLOs ([`slo`])
//!
//! * [`slo::QUICKSTART_SLOS`]: the quickstart's availability and latency SLOs, a definitions
//!   file.
//!
//! # Example
//!
//! ```
//! use ops_testkit::health_server::{self, Health, Options};
//! use ops_testkit::net::{http, local, wait_for_port, free_port};
//!
//! let port = free_port();
//! let listener = std::net::TcpListener::bind(local(port)).unwrap();
//! let options = Options::new("web-1").health(Health::Unhealthy);
//! std::thread::spawn(move || health_server::serve(&listener, &options));
//! wait_for_port(local(port), std::time::Duration::from_secs(5));
//! assert_eq!(http(local(port), "GET", "/", ""), Some((200, "web-1".to_owned())));
//! assert_eq!(http(local(port), "GET", "/health", ""), Some((500, "web-1".to_owned())));
//! ```

#![allow(
    clippy::print_stderr,
    reason = "a skipped test says why on stderr, as the test harness shows it"
)]
#![allow(
    clippy::missing_panics_doc,
    reason = "a test kit panics when it cannot do its job; the crate docs say so once"
)]
#![cfg_attr(test, allow(clippy::unwrap_used))]

pub mod build;
pub mod health_server;
pub mod load;
pub mod net;
pub mod nginx;
pub mod prometheus;
pub mod promtool;
pub mod rng;
pub mod slo;
pub mod tools;
