//! Replaying a recording: the JSON lines `ops metrics --watch` writes, evaluated as if they
//! were being measured. Memory stays bounded whatever the input; a stop request ends the replay
//! at once even while the input blocks (a FIFO, a terminal).

use std::io::{BufRead, BufReader, Read};
use std::sync::mpsc::{Receiver, RecvTimeoutError, SyncSender};
use std::time::Duration;

use ops_core::shutdown::Shutdown;
use ops_metrics::SystemMetrics;

use super::Monitor;
use crate::error::{Error, Result};

/// The longest line a replay reads: 1 MiB. A sample is a few kilobytes; a longer line is
/// skipped (and counted) without being held in memory.
pub const MAX_REPLAY_LINE: usize = 1 << 20;

/// What a replay read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ReplayStats {
    /// Lines read (blank ones included).
    pub lines: u64,
    /// Samples evaluated.
    pub samples: u64,
    /// Lines that are not a sample (bad JSON, wrong shape), skipped.
    pub invalid: u64,
    /// Lines that are not UTF-8, skipped.
    pub not_utf8: u64,
    /// Lines longer than [`MAX_REPLAY_LINE`], skipped.
    pub too_long: u64,
    /// Whether a stop request ended the replay before the end of the input.
    pub stopped: bool,
}

impl ReplayStats {
    /// Lines skipped for any reason.
    pub fn skipped(&self) -> u64 {
        self.invalid + self.not_utf8 + self.too_long
    }
}

enum Line {
    Text(u64, String),
    NotUtf8(u64),
    TooLong(u64),
    Failed(std::io::Error),
}

/// Reads lines of at most `max` bytes; longer ones are reported and skipped to their end.
fn read_lines<R: Read>(input: R, max: usize, tx: &SyncSender<Line>) {
    let mut reader = BufReader::with_capacity(64 * 1024, input);
    let mut buf: Vec<u8> = Vec::with_capacity(8 * 1024);
    let mut number = 0u64;
    loop {
        buf.clear();
        let mut overflow = false;
        let mut ended = false;
        loop {
            let chunk = match reader.fill_buf() {
                Ok(c) => c,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    let _ = tx.send(Line::Failed(e));
                    return;
                }
            };
            if chunk.is_empty() {
                ended = true;
                break;
            }
            let (take, done) = match chunk.iter().position(|&b| b == b'\n') {
                Some(i) => (i + 1, true),
                None => (chunk.len(), false),
            };
            if !overflow {
                let content = if done { take - 1 } else { take };
                if buf.len() + content > max {
                    overflow = true;
                    buf.clear();
                } else {
                    buf.extend_from_slice(&chunk[..content]);
                }
            }
            reader.consume(take);
            if done {
                break;
            }
        }
        if ended && buf.is_empty() && !overflow {
            return;
        }
        number += 1;
        let line = if overflow {
            Line::TooLong(number)
        } else {
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
            match String::from_utf8(std::mem::take(&mut buf)) {
                Ok(text) => Line::Text(number, text),
                Err(_) => Line::NotUtf8(number),
            }
        };
        if tx.send(line).is_err() || ended {
            return;
        }
    }
}

impl Monitor {
    /// Evaluates the samples of a recording (`ops metrics --watch` JSON lines), in order, until
    /// the end of `input` or until `stop` is requested. Bad lines are skipped, counted (in the
    /// result and in `ops_monitor_replay_errors_total`) and logged at WARN with their number;
    /// a line over [`MAX_REPLAY_LINE`] is skipped without being held in memory.
    ///
    /// The input is read on a thread of its own, so a stop request ends the replay even while
    /// a read blocks; that thread then ends with the read.
    ///
    /// # Errors
    /// [`Error::Replay`] when reading fails (the samples before it were evaluated), or
    /// [`Error::Start`] when the reading thread cannot start.
    ///
    /// ```
    /// use ops_core::shutdown::Shutdown;
    /// use ops_thresholds::Monitor;
    ///
    /// let monitor = Monitor::builder().log(false).build()?;
    /// let sample = serde_json::to_string(&ops_metrics::SystemMetrics::empty(std::time::SystemTime::now()))?;
    /// let input = format!("{sample}\nnot json\n{sample}\n");
    /// let stats = monitor.replay(std::io::Cursor::new(input), &Shutdown::new())?;
    /// assert_eq!((stats.samples, stats.invalid), (2, 1));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn replay<R: Read + Send + 'static>(
        &self,
        input: R,
        stop: &Shutdown,
    ) -> Result<ReplayStats> {
        let (tx, rx) = std::sync::mpsc::sync_channel(64);
        std::thread::Builder::new()
            .name("ops-replay-reader".into())
            .spawn(move || read_lines(input, MAX_REPLAY_LINE, &tx))
            .map_err(|source| Error::Start {
                what: "the replay reader",
                source,
            })?;
        self.replay_from(&rx, stop)
    }

    fn replay_from(&self, rx: &Receiver<Line>, stop: &Shutdown) -> Result<ReplayStats> {
        let mut stats = ReplayStats::default();
        let skip = |line: u64, why: &str| {
            self.shared.lock().replay_skipped += 1;
            tracing::warn!(target: "ops_thresholds", line, reason = why, "replay: skipping a line that is not a sample");
        };
        loop {
            if stop.is_requested() {
                stats.stopped = true;
                return Ok(stats);
            }
            let line = match rx.recv_timeout(Duration::from_millis(50)) {
                Ok(line) => line,
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => return Ok(stats),
            };
            match line {
                Line::Text(n, text) => {
                    stats.lines += 1;
                    if text.trim().is_empty() {
                        continue;
                    }
                    match serde_json::from_str::<SystemMetrics>(&text) {
                        Ok(sample) => {
                            stats.samples += 1;
                            self.observe(sample);
                        }
                        Err(e) => {
                            stats.invalid += 1;
                            skip(n, &e.to_string());
                        }
                    }
                }
                Line::NotUtf8(n) => {
                    stats.lines += 1;
                    stats.not_utf8 += 1;
                    skip(n, "not UTF-8");
                }
                Line::TooLong(n) => {
                    stats.lines += 1;
                    stats.too_long += 1;
                    skip(n, "longer than 1 MiB");
                }
                Line::Failed(source) => {
                    return Err(Error::Replay {
                        line: stats.lines + 1,
                        source,
                    });
                }
            }
        }
    }
}

#[cfg(test)]
mod test {
    use proptest::prelude::*;

    use super::*;

    fn lines(input: &[u8], max: usize) -> Vec<String> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1024);
        read_lines(input, max, &tx);
        drop(tx);
        rx.iter()
            .map(|l| match l {
                Line::Text(n, t) => format!("{n}:{t}"),
                Line::NotUtf8(n) => format!("{n}:not utf-8"),
                Line::TooLong(n) => format!("{n}:too long"),
                Line::Failed(e) => format!("failed {e}"),
            })
            .collect()
    }

    #[test]
    fn long_lines_and_bad_bytes_are_skipped_and_numbered() {
        let mut input = b"a\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 100));
        input.extend(b"\n\xff\xfe\r\nlast");
        assert_eq!(
            lines(&input, 10),
            ["1:a", "2:too long", "3:not utf-8", "4:last"]
        );
        assert_eq!(lines(b"exact10chr\n", 10), ["1:exact10chr"]);
        assert_eq!(lines(b"eleven char\n", 10), ["1:too long"]);
        assert!(lines(b"", 10).is_empty());
    }

    proptest! {
        /// Any bytes: no panic, every line kept is at most the cap, lines are numbered 1, 2, 3…
        /// with none lost, and a line kept is exactly the input's line.
        #[test]
        fn any_input_is_split_into_bounded_numbered_lines(
            input in proptest::collection::vec(
                prop_oneof![Just(b'\n'), Just(b'\r'), Just(0xffu8), any::<u8>(), Just(b'a')],
                0..400,
            ),
            max in 1usize..40,
        ) {
            let (tx, rx) = std::sync::mpsc::sync_channel(1024);
            read_lines(&input[..], max, &tx);
            drop(tx);
            let expected: Vec<&[u8]> = {
                let mut parts: Vec<&[u8]> = input.split(|&b| b == b'\n').collect();
                if input.last() == Some(&b'\n') || input.is_empty() {
                    parts.pop();
                }
                parts
            };
            let got: Vec<Line> = rx.iter().collect();
            prop_assert_eq!(got.len(), expected.len());
            for (i, (line, raw)) in got.iter().zip(&expected).enumerate() {
                let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
                match line {
                    Line::Text(n, text) => {
                        prop_assert_eq!(*n, i as u64 + 1);
                        prop_assert!(text.len() <= max);
                        prop_assert_eq!(text.as_bytes(), raw);
                    }
                    Line::TooLong(n) => {
                        prop_assert_eq!(*n, i as u64 + 1);
                        prop_assert!(raw.len() > max || raw.len() + 1 > max);
                    }
                    Line::NotUtf8(n) => {
                        prop_assert_eq!(*n, i as u64 + 1);
                        prop_assert!(std::str::from_utf8(raw).is_err());
                    }
                    Line::Failed(e) => prop_assert!(false, "read failed: {e}"),
                }
            }
        }
    }
}
