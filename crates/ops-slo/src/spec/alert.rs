//! Which burn rates alert: [`BurnAlert`], its [`Factor`] and [`AlertSeverity`].

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// How bad an alert is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertSeverity {
    /// Wake someone up.
    Page,
    /// Open a ticket.
    Ticket,
}

impl AlertSeverity {
    /// `page` or `ticket`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertSeverity::Page => "page",
            AlertSeverity::Ticket => "ticket",
        }
    }
}

/// One multi-window burn-rate alert: fires while both windows burn the budget at `factor`
/// times the rate that spends it exactly over the SLO's window, or faster.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BurnAlert {
    /// `page` or `ticket`.
    pub severity: AlertSeverity,
    /// The long window (`1h`).
    pub long: Duration,
    /// The short window (`5m`): the alert stops soon after the burn does.
    pub short: Duration,
    /// The burn-rate factor.
    pub factor: Factor,
}

/// How the burn-rate factor is given.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Factor {
    /// As a multiple of the budget rate (14.4).
    Rate(f64),
    /// As the share of the whole budget spent within the long window, in per mille (20 for
    /// 2 %): the factor is `share × SLO window / long window`, so it follows the SLO's window
    /// (14.4 for 2 % in 1 h of 30 days).
    BudgetPermille(u32),
}

impl BurnAlert {
    /// The Google SRE Workbook's alerts for a 30-day SLO, as budget shares so that they scale
    /// with the window: page when 2 % of the budget goes in 1 h (and the last 5 m burn too;
    /// 14.4× over 30 days), page at 5 % in 6 h (30 m; 6×), ticket at 10 % in 1 d (2 h; 3×),
    /// ticket at 10 % in 3 d (6 h; 1×).
    pub fn workbook() -> Vec<BurnAlert> {
        let a = |severity, long_min: u64, short_min: u64, permille| BurnAlert {
            severity,
            long: Duration::from_mins(long_min),
            short: Duration::from_mins(short_min),
            factor: Factor::BudgetPermille(permille),
        };
        vec![
            a(AlertSeverity::Page, 60, 5, 20),
            a(AlertSeverity::Page, 360, 30, 50),
            a(AlertSeverity::Ticket, 1440, 120, 100),
            a(AlertSeverity::Ticket, 4320, 360, 100),
        ]
    }

    /// The factor for an SLO window of `window`.
    pub fn factor_for(&self, window: Duration) -> f64 {
        match self.factor {
            Factor::Rate(f) => f,
            Factor::BudgetPermille(p) => {
                // One division of exact integers: 20 × 43,200 / (1,000 × 60) is 14.4 to the bit.
                let num = f64::from(p) * (window.as_secs() / 60) as f64;
                let den = 1000.0 * (self.long.as_secs() / 60) as f64;
                num / den
            }
        }
    }
}
