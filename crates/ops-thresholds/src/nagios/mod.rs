//! Nagios / Monitoring Plugins check mode: threshold ranges, exit statuses, performance data and
//! the one-line plugin output.
//!
//! This follows the Monitoring Plugins development guidelines
//! (<https://www.monitoring-plugins.org/doc/guidelines.html>) and the reference C implementation
//! (`parse_range_string`, `check_range` and `get_status` in `monitoring-plugins`
//! `lib/utils_base.c`):
//!
//! * A range is written `[@][start:][end]`, with inclusive endpoints. `10` means `0:10`, `10:`
//!   means `10` to +∞, `~:10` means −∞ to `10`, and `10:20` means `10` to `20`. An alert is
//!   raised when the value lies **outside** the range, or **inside** it when the range starts
//!   with `@`.
//! * A unit suffix after a number (`1:12%`, `500ms`) is ignored, as C's `strtod` does. Only the
//!   guideline's units are allowed (see [`Range`]), so that garbage such as `10abc` is still
//!   rejected.
//! * The critical range is checked before the warning range.
//!
//! [`check`] runs a rule set against one sample and [`check_metric`] one metric against ranges,
//! as `ops check` does; the values come from the same table the evaluator reads.
//!
//! The Perl module `Monitoring::Plugin::Range` differs from the guideline in a few corners; they
//! are listed on [`Range`].

mod check;
mod output;
mod range;
mod status;
#[cfg(test)]
mod strategy;

pub use self::check::{check, check_metric, rule_range};
pub use self::output::{CheckResult, PerfData};
pub use self::range::{Range, RangeError};
pub use self::status::{Status, status};
