//! Verifying a backup: a restore into a scratch directory compared file by file with the
//! manifest taken when it was made, plus the engine's own check; the result is recorded.

use std::path::Path;
use std::time::{Instant, SystemTime};

use super::{Deployer, Note, error_text};
use crate::backup::{
    self, BackupConfig, BackupEngine, BackupRecord, Layout, Manifest, Verification,
};
use crate::error::{Error, Result};
use crate::runtime::Runtime;

impl<R: Runtime> Deployer<R> {
    /// Restores `record` into a scratch directory and compares it with the manifest; the
    /// engine's own check too. Records the result.
    pub(super) fn verify_locked(
        &self,
        cfg: &BackupConfig,
        mut record: BackupRecord,
        note: &mut Note<'_>,
    ) -> Result<BackupRecord> {
        let layout = self.layout(cfg);
        let engine = self.engine(cfg, Some(&record.engine))?;
        let clock = Instant::now();
        let scratch = layout.work().join(format!("verify-{}", record.id));
        backup::remove_tree(&scratch)?;
        backup::mkdir_private(&scratch)?;
        let checked = Self::restore_and_compare(&layout, engine.as_ref(), &record, &scratch);
        // The restore time is the evidence: removing the scratch copy is not part of it.
        let restore_time = clock.elapsed();
        let _ = backup::remove_tree(&scratch);
        let check_clock = Instant::now();
        let outcome = checked.and_then(|(files, bytes)| {
            engine
                .check(&record)
                .map(|c| (files, bytes, c))
                .map_err(|e| error_text(&e))
        });
        let duration = restore_time + check_clock.elapsed();
        let (ok, files, bytes, error, engine_check) = match outcome {
            Ok((files, bytes, check)) => (true, files, bytes, None, check),
            Err(e) => (false, 0, 0, Some(e), None),
        };
        record.verification = Some(Verification {
            at: SystemTime::now(),
            ok,
            duration,
            files,
            bytes,
            error: error.clone(),
            engine_check,
        });
        layout.save(&record)?;
        match error {
            None => {
                note(
                    &record.id,
                    &format!(
                        "verified: restored and compared {files} files, {bytes} bytes in {:.1}s",
                        duration.as_secs_f64()
                    ),
                );
                Ok(record)
            }
            Some(reason) => {
                note(&record.id, &format!("verification failed: {reason}"));
                Err(Error::VerifyFailed {
                    id: record.id.clone(),
                    reason,
                })
            }
        }
    }

    /// Restores into `scratch` and compares with the manifest: `(files, bytes)` or what
    /// differs.
    pub(super) fn restore_and_compare(
        layout: &Layout,
        engine: &dyn BackupEngine,
        record: &BackupRecord,
        scratch: &Path,
    ) -> std::result::Result<(u64, u64), String> {
        let manifest = read_manifest(layout, record).map_err(|e| error_text(&e))?;
        let restored = engine.restore(record, scratch);
        let mismatches = manifest.compare(scratch).map_err(|e| error_text(&e))?;
        if !mismatches.is_empty() {
            let mut text = backup::describe(&mismatches, manifest.entries.len());
            if let Err(e) = restored {
                text = format!("{text} (the engine said: {})", error_text(&e));
            }
            return Err(text);
        }
        restored.map_err(|e| error_text(&e))?;
        Ok(manifest.totals())
    }
}

/// The manifest of `record`, checked against the hash in the record.
pub(super) fn read_manifest(layout: &Layout, record: &BackupRecord) -> Result<Manifest> {
    let path = layout.manifest(&record.id);
    let bytes = std::fs::read(&path).map_err(crate::fs::io("cannot read", &path))?;
    if backup::sha256_hex(&bytes) != record.manifest_sha256 {
        return Err(Error::Backup {
            action: format!("reading the manifest of {}", record.id),
            reason: format!(
                "{} changed since the backup (SHA-256 differs)",
                path.display()
            ),
        });
    }
    Manifest::read(&path)
}
