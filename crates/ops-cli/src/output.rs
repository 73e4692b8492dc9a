//! Writing to stdout: a closed pipe (`ops metrics --watch 1s | head`) ends the command quietly.

use std::io::{self, Write};

/// Writes `text` to stdout and flushes. `Ok(false)` means the reader went away.
pub(crate) fn emit(text: &str) -> io::Result<bool> {
    let mut out = io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => Ok(false),
        Err(e) => Err(e),
    }
}

/// Bytes as a short human figure (binary units).
pub(crate) fn bytes(n: u64) -> String {
    const UNITS: [&str; 6] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"];
    let mut value = n as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit + 1 < UNITS.len() {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// The width of a table column: its widest cell, at least its header.
pub(crate) fn column_width(header: &str, cells: impl IntoIterator<Item = usize>) -> usize {
    cells.into_iter().fold(header.len(), usize::max)
}

/// Seconds as `3d 4h 5m`.
pub(crate) fn uptime(seconds: f64) -> String {
    let s = seconds.max(0.0) as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3600, s % 3600 / 60);
    if d > 0 {
        format!("{d}d {h}h {m}m")
    } else if h > 0 {
        format!("{h}h {m}m")
    } else {
        format!("{m}m {}s", s % 60)
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn human_bytes() {
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(8 * 1024 * 1024 * 1024), "8.0 GiB");
    }

    #[test]
    fn column_widths() {
        assert_eq!(column_width("MOUNT", []), 5);
        assert_eq!(column_width("MOUNT", [1, 3]), 5);
        assert_eq!(column_width("MOUNT", [1, 12, 3]), 12);
    }

    #[test]
    fn human_uptime() {
        assert_eq!(uptime(59.0), "0m 59s");
        assert_eq!(uptime(3_700.0), "1h 1m");
        assert_eq!(uptime(273_900.0), "3d 4h 5m");
    }
}
