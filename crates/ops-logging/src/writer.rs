//! The background writer: callers append formatted lines to per-stream batches under a short
//! lock; one thread swaps the batches out and writes each with one `write` per run of lines
//! (rotating between lines). Callers never touch the disk and never pay for waking the writer
//! while it is busy.

use std::io::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant, SystemTime};

use crate::open::Notice;
use crate::rotate::RotatingFile;

/// The log streams, each with its own file and rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Stream {
    /// Every event that is not an access or audit event.
    Main,
    /// Requests (`log_request`, target `access`).
    Access,
    /// WARN and above (besides the main log).
    Error,
    /// Audit events (target `audit`): never dropped, files 0600.
    Audit,
}

impl Stream {
    /// Every stream, in the order of [`LogStats::streams`]: main, access, error, audit.
    pub const ALL: [Stream; 4] = [Stream::Main, Stream::Access, Stream::Error, Stream::Audit];

    pub(crate) fn index(self) -> usize {
        match self {
            Stream::Main => 0,
            Stream::Access => 1,
            Stream::Error => 2,
            Stream::Audit => 3,
        }
    }

    /// The stream's name: `main`, `access`, `error`, `audit`.
    pub fn name(self) -> &'static str {
        match self {
            Stream::Main => "main",
            Stream::Access => "access",
            Stream::Error => "error",
            Stream::Audit => "audit",
        }
    }
}

/// What a caller does when the queue is full.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Overflow {
    /// Wait for room: no line is ever dropped (the default).
    #[default]
    Block,
    /// Drop the line and count it; the writer then writes a "dropped N lines" line into the
    /// stream. The audit stream blocks regardless.
    Drop,
}

/// Counters of one stream.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamStats {
    /// Lines accepted into the queue.
    pub accepted: u64,
    /// Lines written to the file.
    pub written: u64,
    /// Lines dropped because the queue was full (drop mode only).
    pub dropped: u64,
    /// Lines lost because the file refused them (disk full, file system error).
    pub lost: u64,
    /// Write or rotation errors.
    pub write_errors: u64,
    /// Rotations done.
    pub rotations: u64,
}

/// Counters of every stream, readable at any time from the guard.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogStats {
    /// Per stream, indexed like [`Stream`]: main, access, error, audit.
    pub streams: [StreamStats; 4],
}

impl LogStats {
    /// The counters of one stream.
    pub fn stream(&self, s: Stream) -> StreamStats {
        self.streams[s.index()]
    }

    /// Sum over the streams.
    pub fn total(&self) -> StreamStats {
        let mut t = StreamStats::default();
        for s in &self.streams {
            t.accepted += s.accepted;
            t.written += s.written;
            t.dropped += s.dropped;
            t.lost += s.lost;
            t.write_errors += s.write_errors;
            t.rotations += s.rotations;
        }
        t
    }
}

#[derive(Default)]
struct Counters {
    accepted: AtomicU64,
    written: AtomicU64,
    dropped: AtomicU64,
    lost: AtomicU64,
    write_errors: AtomicU64,
    rotations: AtomicU64,
}

#[derive(Default)]
struct Batch {
    buf: Vec<u8>,
    lens: Vec<u32>,
    dropped_unreported: u64,
}

#[allow(clippy::struct_excessive_bools)] // independent flags of the writer's state machine
struct State {
    batches: [Batch; 4],
    pending_bytes: usize,
    /// Lines accepted so far (a line's sequence number is the value after its acceptance).
    accepted_seq: u64,
    /// Lines written or lost so far; batches are processed in order, so every line with a
    /// sequence number up to this one is done.
    done_seq: u64,
    /// Flush requests issued, and the last one a writer round has completed (after syncing).
    flush_ticket: u64,
    flush_done: u64,
    writer_sleeping: bool,
    waiting_for_space: usize,
    flush_waiters: usize,
    shutdown: bool,
    writer_done: bool,
}

pub(crate) struct Shared {
    state: Mutex<State>,
    wake_writer: Condvar,
    space: Condvar,
    progress: Condvar,
    counters: [Counters; 4],
    capacity: usize,
    overflow: Overflow,
    service: String,
}

fn lock(m: &Mutex<State>) -> MutexGuard<'_, State> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    /// Queues one line (ending in `\n`) for `stream`.
    pub(crate) fn enqueue(&self, stream: Stream, line: &[u8]) {
        let i = stream.index();
        let mut st = lock(&self.state);
        loop {
            if st.shutdown || st.writer_done {
                // The guard is gone: nothing will write this line. Count it, never block.
                self.counters[i].lost.fetch_add(1, Ordering::Relaxed);
                return;
            }
            if st.pending_bytes == 0 || st.pending_bytes + line.len() <= self.capacity {
                break;
            }
            if self.overflow == Overflow::Drop && stream != Stream::Audit {
                st.batches[i].dropped_unreported += 1;
                self.counters[i].dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            st.waiting_for_space += 1;
            if st.writer_sleeping {
                self.wake_writer.notify_one();
            }
            st = self.space.wait(st).unwrap_or_else(PoisonError::into_inner);
            st.waiting_for_space -= 1;
        }
        let b = &mut st.batches[i];
        b.buf.extend_from_slice(line);
        b.lens.push(u32::try_from(line.len()).unwrap_or(u32::MAX));
        st.pending_bytes += line.len();
        st.accepted_seq += 1;
        self.counters[i].accepted.fetch_add(1, Ordering::Relaxed);
        if st.writer_sleeping {
            st.writer_sleeping = false;
            self.wake_writer.notify_one();
        }
    }

    pub(crate) fn stats(&self) -> LogStats {
        let mut out = LogStats::default();
        for (s, c) in out.streams.iter_mut().zip(&self.counters) {
            *s = StreamStats {
                accepted: c.accepted.load(Ordering::Relaxed),
                written: c.written.load(Ordering::Relaxed),
                dropped: c.dropped.load(Ordering::Relaxed),
                lost: c.lost.load(Ordering::Relaxed),
                write_errors: c.write_errors.load(Ordering::Relaxed),
                rotations: c.rotations.load(Ordering::Relaxed),
            };
        }
        out
    }

    /// Waits on the writer's progress until `done` holds or `deadline` passes.
    fn wait_progress<'a>(
        &self,
        mut st: MutexGuard<'a, State>,
        deadline: Option<Instant>,
        done: impl Fn(&State) -> bool,
    ) -> MutexGuard<'a, State> {
        while !done(&st) {
            st = match deadline {
                None => self
                    .progress
                    .wait(st)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(d) => {
                    let now = Instant::now();
                    if now >= d {
                        break;
                    }
                    self.progress
                        .wait_timeout(st, d - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
        st
    }

    /// Waits until every line accepted before the call is written (or lost) and, with
    /// `fsync_on_flush`, synced; or until `timeout`. Lines logged meanwhile by other threads do
    /// not hold it up. Returns how many of those lines are still unwritten (0 on success).
    pub(crate) fn flush(&self, timeout: Option<Duration>) -> u64 {
        let deadline = timeout.map(|t| Instant::now() + t);
        let mut st = lock(&self.state);
        let target = st.accepted_seq;
        st.flush_ticket += 1;
        let ticket = st.flush_ticket;
        st.flush_waiters += 1;
        st.writer_sleeping = false;
        self.wake_writer.notify_one();
        st = self.wait_progress(st, deadline, |st| {
            (st.done_seq >= target && st.flush_done >= ticket) || st.writer_done
        });
        st.flush_waiters -= 1;
        target.saturating_sub(st.done_seq)
    }

    /// Asks the writer to finish and waits (up to `timeout`) until it has written everything.
    /// Returns the lines it could not write in time.
    pub(crate) fn shutdown(&self, timeout: Option<Duration>) -> u64 {
        {
            let mut st = lock(&self.state);
            st.shutdown = true;
            self.wake_writer.notify_one();
        }
        let deadline = timeout.map(|t| Instant::now() + t);
        let st = self.wait_progress(lock(&self.state), deadline, |st| st.writer_done);
        st.accepted_seq - st.done_seq
    }
}

pub(crate) struct WriterConfig {
    pub(crate) files: [Option<RotatingFile>; 4],
    pub(crate) capacity: usize,
    pub(crate) overflow: Overflow,
    pub(crate) service: String,
    pub(crate) fsync_on_flush: bool,
}

/// Starts the writer thread.
pub(crate) fn start(config: WriterConfig) -> std::io::Result<(Arc<Shared>, JoinHandle<()>)> {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            batches: Default::default(),
            pending_bytes: 0,
            accepted_seq: 0,
            done_seq: 0,
            flush_ticket: 0,
            flush_done: 0,
            writer_sleeping: false,
            waiting_for_space: 0,
            flush_waiters: 0,
            shutdown: false,
            writer_done: false,
        }),
        wake_writer: Condvar::new(),
        space: Condvar::new(),
        progress: Condvar::new(),
        counters: Default::default(),
        capacity: config.capacity,
        overflow: config.overflow,
        service: config.service,
    });
    let thread_shared = Arc::clone(&shared);
    let mut files = config.files;
    let fsync = config.fsync_on_flush;
    let handle = std::thread::Builder::new()
        .name("ops-logging-writer".into())
        .spawn(move || run(&thread_shared, &mut files, fsync))?;
    Ok((shared, handle))
}

/// How long the writer keeps polling for new lines, without being woken, after it last found
/// work. While it polls, callers never pay for a wake-up.
const POLL: Duration = Duration::from_millis(1);
const POLL_ROUNDS: u32 = 50;

fn run(shared: &Shared, files: &mut [Option<RotatingFile>; 4], fsync: bool) {
    let mut spare: [Batch; 4] = Default::default();
    let mut reported_error = [false; 4];
    let mut idle_rounds = 0u32;
    // What the file policy did when opening (a mode tightened) goes into the files at once.
    for (i, file) in files.iter_mut().enumerate() {
        if let Some(file) = file {
            write_notices(shared, i, file);
        }
    }
    loop {
        let (flush_ticket, flush, shutdown, had_work);
        {
            let mut st = lock(&shared.state);
            loop {
                let work =
                    st.pending_bytes > 0 || st.batches.iter().any(|b| b.dropped_unreported > 0);
                if work || st.shutdown || st.flush_ticket > st.flush_done {
                    break;
                }
                if idle_rounds < POLL_ROUNDS {
                    idle_rounds += 1;
                    st = shared
                        .wake_writer
                        .wait_timeout(st, POLL)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                } else {
                    st.writer_sleeping = true;
                    st = shared
                        .wake_writer
                        .wait(st)
                        .unwrap_or_else(PoisonError::into_inner);
                    st.writer_sleeping = false;
                }
            }
            for (b, s) in st.batches.iter_mut().zip(spare.iter_mut()) {
                std::mem::swap(b, s);
            }
            had_work = st.pending_bytes > 0;
            st.pending_bytes = 0;
            flush_ticket = st.flush_ticket;
            flush = flush_ticket > st.flush_done;
            shutdown = st.shutdown;
            if st.waiting_for_space > 0 {
                shared.space.notify_all();
            }
        }
        if had_work {
            idle_rounds = 0;
        }
        let mut done = 0u64;
        for stream in Stream::ALL {
            let i = stream.index();
            done += write_stream(
                shared,
                i,
                &mut spare[i],
                files[i].as_mut(),
                &mut reported_error[i],
            );
        }
        if flush && fsync {
            // Every file, whether or not this round wrote to it: a flush promises durability.
            for file in files.iter_mut().flatten() {
                let _ = file.sync();
            }
        }
        let mut st = lock(&shared.state);
        st.done_seq += done;
        if flush {
            st.flush_done = st.flush_done.max(flush_ticket);
        }
        if st.flush_waiters > 0 {
            shared.progress.notify_all();
        }
        if shutdown && st.pending_bytes == 0 && st.batches.iter().all(|b| b.dropped_unreported == 0)
        {
            st.writer_done = true;
            shared.progress.notify_all();
            shared.space.notify_all();
            return;
        }
    }
}

/// Writes one stream's batch (with a "dropped N lines" notice first if lines were dropped).
/// Returns how many queued lines it took care of (written or lost).
fn write_stream(
    shared: &Shared,
    i: usize,
    batch: &mut Batch,
    file: Option<&mut RotatingFile>,
    reported_error: &mut bool,
) -> u64 {
    let c = &shared.counters[i];
    let mut notices = 0u64;
    if batch.dropped_unreported > 0 {
        let n = std::mem::take(&mut batch.dropped_unreported);
        let line = dropped_line(&shared.service, n);
        batch
            .lens
            .push(u32::try_from(line.len()).unwrap_or(u32::MAX));
        batch.buf.extend_from_slice(&line);
        // The notice is not a caller's line: count it as accepted so the totals balance.
        c.accepted.fetch_add(1, Ordering::Relaxed);
        notices = 1;
    }
    if batch.lens.is_empty() {
        return 0;
    }
    let lines = batch.lens.len() as u64;
    match file {
        Some(file) => {
            let before = file.rotations;
            let (written, result) = file.write_lines(&batch.buf, &batch.lens);
            write_notices(shared, i, file);
            c.rotations
                .fetch_add(file.rotations - before, Ordering::Relaxed);
            c.written.fetch_add(written as u64, Ordering::Relaxed);
            match result {
                Ok(()) => *reported_error = false,
                Err(e) => {
                    c.write_errors.fetch_add(1, Ordering::Relaxed);
                    c.lost.fetch_add(lines - written as u64, Ordering::Relaxed);
                    if !*reported_error {
                        *reported_error = true;
                        report_error(file.path(), &e);
                    }
                }
            }
        }
        None => {
            c.lost.fetch_add(lines, Ordering::Relaxed);
        }
    }
    batch.buf.clear();
    batch.lens.clear();
    lines - notices
}

/// Writes the file policy's notices for one stream as `warn` lines into that stream (counted as
/// accepted and written, like the "dropped N lines" notice), and says each once on stderr.
fn write_notices(shared: &Shared, i: usize, file: &mut RotatingFile) {
    let c = &shared.counters[i];
    // A reopen while writing a notice can bring another (bounded: one per open).
    for _ in 0..4 {
        let notices = file.take_notices();
        if notices.is_empty() {
            return;
        }
        for notice in notices {
            report_notice(&notice);
            let line = notice_line(&shared.service, &notice);
            c.accepted.fetch_add(1, Ordering::Relaxed);
            let len = u32::try_from(line.len()).unwrap_or(u32::MAX);
            let (written, result) = file.write_lines(&line, &[len]);
            c.written.fetch_add(written as u64, Ordering::Relaxed);
            if result.is_err() {
                c.write_errors.fetch_add(1, Ordering::Relaxed);
                c.lost.fetch_add(1 - written as u64, Ordering::Relaxed);
            }
        }
    }
}

#[allow(clippy::print_stderr)]
fn report_notice(notice: &Notice) {
    let error = notice
        .error
        .as_ref()
        .map_or_else(String::new, |e| format!(": {e}"));
    let _ = writeln!(
        std::io::stderr(),
        "ops-logging: {}: {} (mode {:04o}, now {:04o}){error}",
        notice.path.display(),
        notice.message,
        notice.mode_was,
        notice.mode,
    );
}

/// `{"timestamp":…,"level":"warn","message":"log file mode tightened","service":…,"path":…,
/// "mode_was":"0666","mode":"0600"}` (and `"error"` when the mode could not be changed).
fn notice_line(service: &str, notice: &Notice) -> Vec<u8> {
    let mut out = Vec::with_capacity(192);
    out.extend_from_slice(b"{\"timestamp\":\"");
    crate::time::write_rfc3339(SystemTime::now(), &mut out);
    out.extend_from_slice(b"\",\"level\":\"warn\",\"message\":");
    crate::json::string(&mut out, notice.message);
    out.extend_from_slice(b",\"service\":");
    crate::json::string(&mut out, service);
    out.extend_from_slice(b",\"path\":");
    crate::json::string(&mut out, &notice.path.to_string_lossy());
    out.extend_from_slice(b",\"mode_was\":");
    crate::json::string(&mut out, &format!("{:04o}", notice.mode_was));
    out.extend_from_slice(b",\"mode\":");
    crate::json::string(&mut out, &format!("{:04o}", notice.mode));
    if let Some(e) = &notice.error {
        out.extend_from_slice(b",\"error\":");
        crate::json::string(&mut out, e);
    }
    out.extend_from_slice(b"}\n");
    out
}

#[allow(clippy::print_stderr)]
fn report_error(path: &std::path::Path, e: &std::io::Error) {
    let _ = writeln!(
        std::io::stderr(),
        "ops-logging: cannot write to {}: {e} (lines are counted as lost; writing goes on)",
        path.display()
    );
}

/// `{"timestamp":…,"level":"warn","message":"dropped N lines","service":…,"dropped":N}`.
fn dropped_line(service: &str, n: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    out.extend_from_slice(b"{\"timestamp\":\"");
    crate::time::write_rfc3339(SystemTime::now(), &mut out);
    out.extend_from_slice(b"\",\"level\":\"warn\",\"message\":\"dropped ");
    crate::json::int(&mut out, n);
    out.extend_from_slice(b" lines\",\"service\":");
    crate::json::string(&mut out, service);
    out.extend_from_slice(b",\"dropped\":");
    crate::json::int(&mut out, n);
    out.extend_from_slice(b"}\n");
    out
}
