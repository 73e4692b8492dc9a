//! Severities: the `severity` label, and how the Nagios check maps it.

use std::fmt;
use std::str::FromStr;

/// An alert's severity: the `severity` label, and how the Nagios check maps it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Severity {
    /// For the record; no one is woken.
    Info,
    /// Look at it soon (the default). Nagios WARNING.
    #[default]
    Warning,
    /// Act now. Nagios CRITICAL.
    Critical,
    /// Wake someone up (SLO burn-rate pages). Nagios CRITICAL.
    Page,
    /// Open a ticket (slow SLO burns). Nagios WARNING.
    Ticket,
}

impl Severity {
    /// Every severity, for error messages.
    pub const ALL: [Severity; 5] = [
        Severity::Info,
        Severity::Warning,
        Severity::Critical,
        Severity::Page,
        Severity::Ticket,
    ];

    /// The label value: `info`, `warning`, `critical`, `page`, `ticket`.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Critical => "critical",
            Severity::Page => "page",
            Severity::Ticket => "ticket",
        }
    }

    /// Whether the Nagios check reports a breach as CRITICAL (`critical`, `page`) rather than
    /// WARNING.
    pub fn is_critical(self) -> bool {
        matches!(self, Severity::Critical | Severity::Page)
    }
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A severity name that is not one of [`Severity::ALL`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity {0:?}; known: info, warning, critical, page, ticket")]
pub struct UnknownSeverity(pub String);

impl FromStr for Severity {
    type Err = UnknownSeverity;

    /// Case-insensitive.
    fn from_str(s: &str) -> std::result::Result<Self, Self::Err> {
        Severity::ALL
            .into_iter()
            .find(|v| v.as_str().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| UnknownSeverity(s.to_owned()))
    }
}
