//! The backup figures for `/metrics` and for `ops backup status` (a Nagios-style check of
//! the newest verified backup's age).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use ops_core::exposition::{Encoder, Exposition, MetricType};

use super::record::Catalog;

/// The state of a service's backups at one moment: what `/metrics` shows and what the age
/// check reads. Built by [`BackupStatus::new`] from a [`Catalog`]; implements
/// [`Exposition`], so a monitor page can include it as a section.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use ops_core::Exposition as _;
/// use ops_deploy::backup::{BackupStatus, Catalog};
///
/// let empty = Catalog::empty("web");
/// let status = BackupStatus::new(&empty, Duration::from_hours(26), SystemTime::now());
/// assert!(status.stale());
/// let page = status.to_prometheus();
/// assert!(page.contains("ops_backup_verified_stale{service=\"web\"} 1\n"));
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct BackupStatus {
    /// The service.
    pub service: String,
    /// Complete backups in the catalogue.
    pub backups: u64,
    /// The newest backup's id, end time, size, stored size and duration.
    pub last: Option<(String, SystemTime, u64, u64, Duration)>,
    /// The newest verified backup's id, verification time and verification duration.
    pub last_verified: Option<(String, SystemTime, Duration)>,
    /// Whether the newest backup's latest verification passed (`None`: never verified).
    pub last_verification_ok: Option<bool>,
    /// The age limit of the newest verified backup.
    pub max_age: Duration,
    /// The moment the figures are for.
    pub now: SystemTime,
}

fn secs(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

impl BackupStatus {
    /// The figures of `catalog` at `now`, against the limit `max_age`.
    pub fn new(catalog: &Catalog, max_age: Duration, now: SystemTime) -> BackupStatus {
        let last = catalog.newest().map(|r| {
            (
                r.id.clone(),
                r.finished_at,
                r.bytes,
                r.stored_bytes,
                r.duration,
            )
        });
        let last_verified = catalog.newest_verified().and_then(|r| {
            r.verification
                .as_ref()
                .map(|v| (r.id.clone(), v.at, v.duration))
        });
        BackupStatus {
            service: catalog.service.clone(),
            backups: catalog.records.len() as u64,
            last,
            last_verification_ok: catalog
                .newest()
                .and_then(|r| r.verification.as_ref().map(|v| v.ok)),
            last_verified,
            max_age,
            now,
        }
    }

    /// How old the newest verified backup is (`None`: there is none).
    pub fn verified_age(&self) -> Option<Duration> {
        self.last_verified
            .as_ref()
            .map(|(_, at, _)| self.now.duration_since(*at).unwrap_or(Duration::ZERO))
    }

    /// No verified backup, or the newest is older than `max_age`: what the default alert
    /// fires on.
    pub fn stale(&self) -> bool {
        self.verified_age().is_none_or(|a| a > self.max_age)
    }

    /// One line for a check: `OK: web-b3 verified 2h 5m ago (limit 26h)`.
    pub fn summary(&self) -> String {
        match (&self.last_verified, self.verified_age()) {
            (Some((id, _, _)), Some(age)) => format!(
                "{}: newest verified backup {id} verified {} ago (limit {})",
                if self.stale() { "CRITICAL" } else { "OK" },
                humantime::format_duration(Duration::from_secs(age.as_secs())),
                humantime::format_duration(self.max_age)
            ),
            _ => format!(
                "CRITICAL: no verified backup of {} ({} backups)",
                self.service, self.backups
            ),
        }
    }
}

impl Exposition for BackupStatus {
    fn encode_prometheus(&self, out: &mut String) {
        let labels = [("service", self.service.as_str())];
        let mut e = Encoder::new(out);
        let mut gauge = |name: &str, help: &str, value: f64| {
            e.family(name, help, MetricType::Gauge);
            e.sample(name, &labels, value);
        };
        gauge(
            "ops_backup_backups",
            "Complete backups in the catalogue.",
            self.backups as f64,
        );
        if let Some((_, at, bytes, stored, duration)) = &self.last {
            gauge(
                "ops_backup_last_success_timestamp_seconds",
                "When the newest complete backup was stored (Unix time).",
                secs(*at),
            );
            gauge(
                "ops_backup_last_size_bytes",
                "Bytes of data in the newest backup.",
                *bytes as f64,
            );
            gauge(
                "ops_backup_last_stored_bytes",
                "Bytes the engine stored for the newest backup (restic: added to the repository).",
                *stored as f64,
            );
            gauge(
                "ops_backup_last_duration_seconds",
                "How long taking the newest backup took.",
                duration.as_secs_f64(),
            );
        }
        if let Some(ok) = self.last_verification_ok {
            gauge(
                "ops_backup_last_verification_success",
                "1 if the newest backup's latest verification passed, 0 if it failed.",
                if ok { 1.0 } else { 0.0 },
            );
        }
        if let Some((_, at, duration)) = &self.last_verified {
            gauge(
                "ops_backup_last_verified_timestamp_seconds",
                "When the newest verified backup was verified (Unix time).",
                secs(*at),
            );
            gauge(
                "ops_backup_last_verify_duration_seconds",
                "How long the newest passed verification (a full restore and comparison) took.",
                duration.as_secs_f64(),
            );
        }
        if let Some(age) = self.verified_age() {
            gauge(
                "ops_backup_last_verified_age_seconds",
                "Age of the newest verified backup.",
                age.as_secs_f64(),
            );
        }
        gauge(
            "ops_backup_verified_max_age_seconds",
            "The configured limit on the newest verified backup's age.",
            self.max_age.as_secs_f64(),
        );
        gauge(
            "ops_backup_verified_stale",
            "1 when there is no verified backup younger than the limit (the default alert).",
            if self.stale() { 1.0 } else { 0.0 },
        );
    }
}
