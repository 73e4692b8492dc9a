//! A set of SLOs ([`SloSet`]): the settings they share, their checks, and the definitions
//! files they are read from.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::{DEFAULT_MIN_EVENTS_PER_MINUTE, Slo};
use crate::error::{Error, Result};
use crate::state::SloMeta;

/// A set of SLOs and the settings they share.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SloSet {
    /// The SLOs; ids (`service-name`) unique.
    pub slos: Vec<Slo>,
    /// Below this many events per minute in a burn-rate window, the window has no data (no
    /// error ratio, no alert). Default 1 ([`DEFAULT_MIN_EVENTS_PER_MINUTE`]).
    pub min_events_per_minute: f64,
    /// The file the set was read from (for error messages).
    pub origin: PathBuf,
}

impl Default for SloSet {
    fn default() -> Self {
        SloSet {
            slos: Vec::new(),
            min_events_per_minute: DEFAULT_MIN_EVENTS_PER_MINUTE,
            origin: PathBuf::from("<inline>"),
        }
    }
}

impl SloSet {
    /// A set of SLOs with the default settings.
    pub fn new(slos: Vec<Slo>) -> SloSet {
        SloSet {
            slos,
            ..SloSet::default()
        }
    }

    /// The playbook's two SLOs for `service`'s HTTP layer: availability 99.5 % over 30 days,
    /// and 99 % of requests within `latency` (2 s in the playbook).
    pub fn playbook(service: &str, latency: Duration) -> SloSet {
        SloSet::new(vec![
            Slo::availability(service),
            Slo::latency(service, latency),
        ])
    }

    /// Checks every SLO: names, objective, window, alert windows and factors, labels, the
    /// SLI's selectors (`PromQL` counter selectors) and the latency bound (one of the
    /// histogram's bucket bounds); ids unique; the minimum traffic a number ≥ 0.
    ///
    /// # Errors
    /// [`Error::Invalid`] naming the SLO, field and value, or [`Error::Setting`].
    pub fn validate(&self) -> Result<()> {
        if !(self.min_events_per_minute.is_finite() && self.min_events_per_minute >= 0.0) {
            return Err(Error::Setting {
                origin: self.origin.clone(),
                field: "min_events_per_minute",
                value: self.min_events_per_minute.to_string(),
                reason: "must be a number at least 0".into(),
            });
        }
        let mut ids = std::collections::HashSet::new();
        let mut prefixes = std::collections::HashSet::new();
        for slo in &self.slos {
            let invalid = |(field, value, reason): (&'static str, String, String)| Error::Invalid {
                origin: self.origin.clone(),
                slo: slo.id(),
                field,
                value,
                reason,
            };
            slo.check().map_err(invalid)?;
            if !ids.insert(slo.id()) {
                return Err(invalid((
                    "name",
                    slo.name.clone(),
                    "duplicate SLO id".into(),
                )));
            }
            if !prefixes.insert(slo.alert_prefix()) {
                return Err(invalid((
                    "alert_name",
                    slo.alert_prefix(),
                    "another SLO's alerts have this name".into(),
                )));
            }
        }
        Ok(())
    }

    /// A set read from `origin`, checked ([`validate`](Self::validate)).
    ///
    /// # Errors
    /// As [`validate`](Self::validate).
    pub(crate) fn checked(
        slos: Vec<Slo>,
        min_events_per_minute: f64,
        origin: &Path,
    ) -> Result<SloSet> {
        let set = SloSet {
            slos,
            min_events_per_minute,
            origin: origin.to_path_buf(),
        };
        set.validate()?;
        Ok(set)
    }

    /// What the state file records of each SLO.
    pub fn metas(&self) -> Vec<SloMeta> {
        self.slos
            .iter()
            .map(|s| s.meta(self.min_events_per_minute))
            .collect()
    }

    /// Reads and checks a definitions file: `.toml`, or `.yaml`/`.yml` (native, or `OpenSLO` v1
    /// `SLO` documents; feature `yaml`).
    ///
    /// # Errors
    /// [`Error::Io`], [`Error::Format`], [`Error::Syntax`], or a validation error.
    pub fn load(path: impl AsRef<Path>) -> Result<SloSet> {
        let path = path.as_ref();
        let meta = std::fs::metadata(path).map_err(crate::error::io("cannot read", path))?;
        if meta.len() > crate::file::MAX_DEFINITIONS_BYTES {
            return Err(Error::Format {
                path: path.to_path_buf(),
                reason: format!("larger than {} bytes", crate::file::MAX_DEFINITIONS_BYTES),
            });
        }
        let text = std::fs::read_to_string(path).map_err(crate::error::io("cannot read", path))?;
        match path.extension().and_then(|e| e.to_str()) {
            Some("toml") => SloSet::from_toml_at(&text, path),
            Some("yaml" | "yml") => SloSet::from_yaml_at(&text, path),
            _ => Err(Error::Format {
                path: path.to_path_buf(),
                reason: "unknown definitions format: use .toml, .yaml or .yml".into(),
            }),
        }
    }

    /// Parses and checks TOML definitions.
    ///
    /// # Errors
    /// [`Error::Syntax`] or a validation error.
    pub fn from_toml(text: &str) -> Result<SloSet> {
        SloSet::from_toml_at(text, Path::new("<inline>"))
    }

    fn from_toml_at(text: &str, origin: &Path) -> Result<SloSet> {
        let file: crate::file::SloFile = toml::from_str(text).map_err(|e| Error::Syntax {
            origin: origin.to_path_buf(),
            message: e.to_string().trim_end().to_owned(),
        })?;
        file.into_set(origin)
    }

    /// Parses and checks YAML definitions: the native form, or `OpenSLO` v1 documents
    /// (`apiVersion: openslo/v1`, `kind: SLO`; see the `openslo` module).
    ///
    /// # Errors
    /// [`Error::Format`] without the `yaml` feature, [`Error::Syntax`] or a validation error.
    pub fn from_yaml(text: &str) -> Result<SloSet> {
        SloSet::from_yaml_at(text, Path::new("<inline>"))
    }

    #[cfg(feature = "yaml")]
    fn from_yaml_at(text: &str, origin: &Path) -> Result<SloSet> {
        if crate::openslo::is_openslo(text) {
            return crate::openslo::parse(text, origin);
        }
        let file: crate::file::SloFile =
            serde_norway::from_str(text).map_err(|e| Error::Syntax {
                origin: origin.to_path_buf(),
                message: e.to_string(),
            })?;
        file.into_set(origin)
    }

    #[cfg(not(feature = "yaml"))]
    fn from_yaml_at(_: &str, origin: &Path) -> Result<SloSet> {
        Err(Error::Format {
            path: origin.to_path_buf(),
            reason: "YAML definitions need ops-slo's feature `yaml`".into(),
        })
    }
}
