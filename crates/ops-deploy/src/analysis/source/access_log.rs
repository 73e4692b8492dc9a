//! The access-log source: see [`AccessLogSource`].

use std::fs::File;
use std::io::{BufRead as _, BufReader, Seek as _, SeekFrom};
use std::os::unix::fs::MetadataExt as _;
use std::path::PathBuf;
use std::time::Duration;

use super::{SignalSource, SourceError, Target, Wanted};
use crate::analysis::config::AnalysisConfig;
use crate::analysis::measure::Figures;
use crate::analysis::quantile::LogHistogram;

/// Longer lines are skipped (and counted), never held whole.
const MAX_LINE: usize = 16 << 10;

/// The access-log source: nginx's access log in JSON, black-box — any service behind nginx,
/// whatever it exposes. Each line's `upstream_addr`, `upstream_status` and
/// `upstream_response_time` say which release answered, how and how fast (several attempts,
/// `127.0.0.1:8081, 127.0.0.1:8080`, each count for their release). Only the lines written
/// since the previous measurement are read; memory is bounded (a fixed histogram per
/// release, lines longer than 16 KiB skipped without being held); bad lines are skipped and
/// counted, in the measurement's notes. A log rotated away (another inode, or shorter than
/// where the last read ended) is read from its start.
///
/// The format it reads (nginx's `http` block):
///
/// ```nginx
/// log_format ops_deploy escape=json '{"time":"$time_iso8601","uri":"$uri","status":$status,'
///     '"upstream_addr":"$upstream_addr","upstream_status":"$upstream_status",'
///     '"upstream_response_time":"$upstream_response_time"}';
/// access_log /var/log/nginx/web-deploy.json ops_deploy;
/// ```
///
/// `uri` is optional: with it, requests to `ignore_routes` are not counted.
#[derive(Debug)]
pub struct AccessLogSource {
    path: PathBuf,
    ignore: Vec<String>,
    /// The file's identity (device, inode) and where the last read ended.
    position: Option<((u64, u64), u64)>,
    /// Lines skipped since the source began.
    skipped: u64,
}

#[derive(Default)]
struct Tally {
    requests: u64,
    errors: u64,
    latency: LogHistogram,
}

impl AccessLogSource {
    /// A source reading `path`, without `config.ignore_routes`.
    pub fn new(path: impl Into<PathBuf>, config: &AnalysisConfig) -> AccessLogSource {
        AccessLogSource {
            path: path.into(),
            ignore: config.ignore_routes.clone(),
            position: None,
            skipped: 0,
        }
    }

    /// Lines skipped (not JSON, not an object, longer than 16 KiB) since the analysis began.
    pub fn skipped_lines(&self) -> u64 {
        self.skipped
    }

    fn open(&self) -> Result<(File, (u64, u64), u64), SourceError> {
        let file = File::open(&self.path).map_err(|e| {
            SourceError::new(
                "access-log",
                format!("cannot open {}: {e}", self.path.display()),
            )
        })?;
        let meta = file
            .metadata()
            .map_err(|e| SourceError::new("access-log", format!("{}: {e}", self.path.display())))?;
        Ok((file, (meta.dev(), meta.ino()), meta.len()))
    }
}

/// A JSON field as text, whether nginx wrote it as a string or a number.
fn text(v: Option<&serde_json::Value>) -> Option<String> {
    match v? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// nginx's lists of attempts: `a, b` (next upstream) and `a : b` (internal redirect).
fn attempts(list: &str) -> Vec<&str> {
    list.split(", ")
        .flat_map(|s| s.split(" : "))
        .map(str::trim)
        .collect()
}

impl SignalSource for AccessLogSource {
    fn name(&self) -> &'static str {
        "access-log"
    }

    fn describe(&self) -> String {
        format!(
            "access-log: nginx's JSON access log {} (upstream_addr, upstream_status, upstream_response_time)",
            self.path.display()
        )
    }

    fn begin(&mut self, _targets: &[Target], _wanted: &Wanted) {
        self.skipped = 0;
        self.position = self.open().ok().map(|(_, id, len)| (id, len));
    }

    #[allow(clippy::too_many_lines)] // one pass over the new lines, read as they come
    fn measure(
        &mut self,
        targets: &[Target],
        _window: Duration,
        wanted: &Wanted,
    ) -> Result<Vec<Figures>, SourceError> {
        let (file, id, len) = self.open()?;
        let mut notes = Vec::new();
        let start = match self.position {
            None => {
                self.position = Some((id, len));
                return Err(SourceError::new(
                    "access-log",
                    format!(
                        "{} could not be read when the analysis began: its window starts now",
                        self.path.display()
                    ),
                ));
            }
            Some((old, offset)) if old != id || len < offset => {
                notes.push(format!(
                    "{} was rotated: read from its start",
                    self.path.display()
                ));
                0
            }
            Some((_, offset)) => offset,
        };
        let mut reader = BufReader::with_capacity(64 << 10, file);
        reader
            .seek(SeekFrom::Start(start))
            .map_err(|e| SourceError::new("access-log", format!("{}: {e}", self.path.display())))?;
        let mut tallies: Vec<Tally> = targets.iter().map(|_| Tally::default()).collect();
        let addrs: Vec<String> = targets.iter().map(|t| t.addr.to_string()).collect();
        let mut offset = start;
        let mut line = Vec::with_capacity(512);
        let mut skipped = 0u64;
        loop {
            line.clear();
            // One line, never more than MAX_LINE bytes held.
            let mut too_long = false;
            let mut complete = false;
            let mut consumed = 0u64;
            loop {
                let buf = reader.fill_buf().map_err(|e| {
                    SourceError::new("access-log", format!("{}: {e}", self.path.display()))
                })?;
                if buf.is_empty() {
                    break;
                }
                let (chunk, done) = match buf.iter().position(|&b| b == b'\n') {
                    Some(i) => (&buf[..=i], true),
                    None => (buf, false),
                };
                let n = chunk.len();
                if !too_long {
                    if line.len() + n > MAX_LINE {
                        too_long = true;
                        line.clear();
                    } else {
                        line.extend_from_slice(chunk);
                    }
                }
                reader.consume(n);
                consumed += n as u64;
                if done {
                    complete = true;
                    break;
                }
            }
            if !complete {
                // A line nginx is still writing: read it next time (unless it is too long
                // to ever be read).
                if too_long {
                    offset += consumed;
                }
                break;
            }
            offset += consumed;
            if too_long {
                skipped += 1;
                continue;
            }
            let Ok(serde_json::Value::Object(fields)) =
                serde_json::from_slice::<serde_json::Value>(&line)
            else {
                if line.iter().any(|b| !b.is_ascii_whitespace()) {
                    skipped += 1;
                }
                continue;
            };
            if let Some(uri) = fields.get("uri").and_then(|u| u.as_str())
                && self.ignore.iter().any(|i| i == uri)
            {
                continue;
            }
            let Some(addr) = text(fields.get("upstream_addr")) else {
                continue;
            };
            let status = text(fields.get("upstream_status")).unwrap_or_default();
            let time = text(fields.get("upstream_response_time")).unwrap_or_default();
            let (statuses, times) = (attempts(&status), attempts(&time));
            for (i, a) in attempts(&addr).into_iter().enumerate() {
                let Some(t) = addrs.iter().position(|x| x == a) else {
                    continue;
                };
                let tally = &mut tallies[t];
                tally.requests += 1;
                let code = statuses.get(i).and_then(|s| s.parse::<u16>().ok());
                if code.is_none_or(|c| c >= 500) {
                    tally.errors += 1;
                }
                if let Some(seconds) = times.get(i).and_then(|s| s.parse::<f64>().ok()) {
                    tally.latency.observe(seconds);
                }
            }
        }
        self.position = Some((id, offset));
        if skipped > 0 {
            self.skipped += skipped;
            notes.push(format!(
                "{skipped} lines skipped (not JSON objects, or longer than 16 KiB); {} since the analysis began",
                self.skipped
            ));
        }
        Ok(tallies
            .into_iter()
            .enumerate()
            .map(|(i, t)| Figures {
                requests: Some(t.requests as f64),
                errors: Some(t.errors as f64),
                quantiles: wanted
                    .quantiles
                    .iter()
                    .map(|q| {
                        if t.latency.count() == 0 {
                            None
                        } else {
                            t.latency.quantile(*q)
                        }
                    })
                    .collect(),
                queries: wanted.queries.iter().map(|_| None).collect(),
                // The notes are the file's, not a release's: once.
                notes: if i == 0 { notes.clone() } else { Vec::new() },
            })
            .collect())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod test {
    use std::io::Write as _;

    use super::*;
    use crate::analysis::Role;

    #[test]
    fn only_new_lines_bad_lines_counted_rotation_followed() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("access.json");
        let line = |addr: &str, status: &str, rt: &str, uri: &str| {
            format!(
                "{{\"uri\":\"{uri}\",\"status\":200,\"upstream_addr\":\"{addr}\",\"upstream_status\":\"{status}\",\"upstream_response_time\":\"{rt}\"}}\n"
            )
        };
        std::fs::write(&path, line("127.0.0.1:1", "500", "0.1", "/")).unwrap();
        let config = AnalysisConfig::default();
        let mut s = AccessLogSource::new(&path, &config);
        let targets = [
            Target::new("web-2", "127.0.0.1:2".parse().unwrap(), Role::Canary),
            Target::new("web-1", "127.0.0.1:1".parse().unwrap(), Role::Stable),
        ];
        let wanted = Wanted {
            quantiles: vec![0.5],
            queries: vec![],
        };
        s.begin(&targets, &wanted);
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        for _ in 0..4 {
            f.write_all(line("127.0.0.1:2", "200", "0.010", "/a").as_bytes())
                .unwrap();
        }
        f.write_all(line("127.0.0.1:2", "503", "0.020", "/a").as_bytes())
            .unwrap();
        // Retried on the next upstream: one attempt each.
        f.write_all(line("127.0.0.1:2, 127.0.0.1:1", "502, 200", "0.001, 0.004", "/a").as_bytes())
            .unwrap();
        f.write_all(line("127.0.0.1:2", "200", "0.001", "/health").as_bytes())
            .unwrap();
        f.write_all(b"not json\n").unwrap();
        f.write_all(&vec![b'x'; 20_000]).unwrap();
        f.write_all(b"\n{\"upstream_addr\":\"127.0.0.1:2\",\"upstr")
            .unwrap();
        let figs = s
            .measure(&targets, Duration::from_secs(1), &wanted)
            .unwrap();
        assert_eq!((figs[0].requests, figs[0].errors), (Some(6.0), Some(2.0)));
        assert_eq!((figs[1].requests, figs[1].errors), (Some(1.0), Some(0.0)));
        assert!(figs[0].quantiles[0].unwrap() > 0.005 && figs[0].quantiles[0].unwrap() < 0.02);
        assert_eq!(s.skipped_lines(), 2);
        assert!(
            figs[0].notes[0].starts_with("2 lines skipped"),
            "{:?}",
            figs[0].notes
        );
        // The half-written line is read once it is whole.
        f.write_all(b"eam_status\":\"500\"}\n").unwrap();
        let figs = s
            .measure(&targets, Duration::from_secs(1), &wanted)
            .unwrap();
        assert_eq!((figs[0].requests, figs[0].errors), (Some(1.0), Some(1.0)));
        assert_eq!(figs[0].quantiles[0], None);
        // Rotated: a new, shorter file is read from its start.
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, line("127.0.0.1:2", "200", "0.1", "/")).unwrap();
        let figs = s
            .measure(&targets, Duration::from_secs(1), &wanted)
            .unwrap();
        assert_eq!(figs[0].requests, Some(1.0));
        assert!(figs[0].notes[0].contains("rotated"));
        std::fs::remove_file(&path).unwrap();
        let err = s
            .measure(&targets, Duration::from_secs(1), &wanted)
            .unwrap_err();
        assert!(
            err.to_string().starts_with("access-log: cannot open"),
            "{err}"
        );
    }
}
