/*!
A stop request that threads can wait on: from SIGINT/SIGTERM ([`Shutdown::on_signals`]) or from
the program itself ([`Shutdown::request`]).

The signal handler only stores to an atomic and writes one byte to a pipe (both
async-signal-safe); a small thread reads the pipe and wakes every waiter, so a wait ends as soon
as the signal arrives, never on the next poll. As PID 1 in a container a process without
handlers ignores SIGTERM; with them, `docker stop` stops it cleanly.

```
use std::time::Duration;
let stop = ops_core::shutdown::Shutdown::new();
let worker = {
    let stop = stop.clone();
    std::thread::spawn(move || while !stop.wait_timeout(Duration::from_millis(50)) {})
};
stop.request();
worker.join().unwrap();
assert!(stop.is_requested());
```
*/

use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
struct Inner {
    requested: AtomicBool,
    signal: AtomicI32,
    lock: Mutex<()>,
    cv: Condvar,
}

impl Inner {
    fn request(&self, signal: i32) {
        let _guard = self.lock.lock().unwrap_or_else(PoisonError::into_inner);
        if !self.requested.swap(true, Ordering::SeqCst) {
            self.signal.store(signal, Ordering::SeqCst);
        }
        self.cv.notify_all();
    }
}

/// A clonable stop request. Clones share it: one `request` (or one signal) wakes them all.
#[derive(Debug, Clone, Default)]
pub struct Shutdown {
    inner: Arc<Inner>,
}

/// The write end of the signal pipe, for the handler (−1 until installed).
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
/// The process-wide handle the signal thread wakes.
static SIGNALS: OnceLock<Shutdown> = OnceLock::new();

extern "C" fn on_signal(signal: libc::c_int) {
    let fd = PIPE_WRITE.load(Ordering::SeqCst);
    if fd >= 0 {
        let byte = u8::try_from(signal).unwrap_or(u8::MAX);
        // SAFETY: write(2) on a non-blocking pipe is async-signal-safe; a full pipe only means a
        // wake-up is already pending.
        unsafe {
            libc::write(fd, (&raw const byte).cast(), 1);
        }
    }
}

impl Shutdown {
    /// A stop request that only [`request`](Self::request) sets (no signal handlers).
    pub fn new() -> Shutdown {
        Shutdown::default()
    }

    /// The process's stop request from SIGINT and SIGTERM. The handlers are installed by the
    /// first call; later calls return a handle to the same request.
    ///
    /// # Errors
    /// The pipe, the handlers or the watcher thread could not be set up.
    pub fn on_signals() -> std::io::Result<Shutdown> {
        static INSTALL: Mutex<()> = Mutex::new(());
        if let Some(s) = SIGNALS.get() {
            return Ok(s.clone());
        }
        let _once = INSTALL.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(s) = SIGNALS.get() {
            return Ok(s.clone());
        }
        let mut fds = [0 as libc::c_int; 2];
        // SAFETY: `fds` has room for the two descriptors pipe2 writes.
        if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC | libc::O_NONBLOCK) } != 0 {
            return Err(std::io::Error::last_os_error());
        }
        let [read_fd, write_fd] = fds;
        // The reading end blocks: the watcher thread sleeps in read(2).
        // SAFETY: fcntl on a descriptor we own.
        unsafe {
            let flags = libc::fcntl(read_fd, libc::F_GETFL);
            libc::fcntl(read_fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
        let shutdown = Shutdown::new();
        let watcher = shutdown.clone();
        std::thread::Builder::new()
            .name("ops-shutdown".into())
            .spawn(move || {
                let mut byte = 0u8;
                loop {
                    // SAFETY: reading one byte into a local from a descriptor we own.
                    let n = unsafe { libc::read(read_fd, (&raw mut byte).cast(), 1) };
                    if n == 1 {
                        watcher.inner.request(i32::from(byte));
                    } else if n == 0
                        || std::io::Error::last_os_error().kind() != std::io::ErrorKind::Interrupted
                    {
                        return;
                    }
                }
            })?;
        PIPE_WRITE.store(write_fd, Ordering::SeqCst);
        let handler: extern "C" fn(libc::c_int) = on_signal;
        for signal in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: a zeroed sigaction with our handler and an empty mask; the handler is
            // async-signal-safe (an atomic load and write(2)).
            let rc = unsafe {
                let mut action: libc::sigaction = std::mem::zeroed();
                action.sa_sigaction = handler as libc::sighandler_t;
                action.sa_flags = libc::SA_RESTART;
                libc::sigemptyset(&raw mut action.sa_mask);
                libc::sigaction(signal, &raw const action, std::ptr::null_mut())
            };
            if rc != 0 {
                return Err(std::io::Error::last_os_error());
            }
        }
        let _ = SIGNALS.set(shutdown.clone());
        Ok(shutdown)
    }

    /// Asks every holder of this request to stop.
    pub fn request(&self) {
        self.inner.request(0);
    }

    /// Whether a stop was asked for.
    pub fn is_requested(&self) -> bool {
        self.inner.requested.load(Ordering::SeqCst)
    }

    /// The signal that asked for the stop (`SIGINT` 2, `SIGTERM` 15), if one did.
    pub fn signal(&self) -> Option<i32> {
        match self.inner.signal.load(Ordering::SeqCst) {
            0 => None,
            s => Some(s),
        }
    }

    /// Waits up to `timeout` for a stop request; returns whether one came.
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self
            .inner
            .lock
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        while !self.is_requested() {
            let left = match deadline {
                Some(d) => d.saturating_duration_since(Instant::now()),
                None => Duration::from_hours(1),
            };
            if left.is_zero() {
                return false;
            }
            guard = self
                .inner
                .cv
                .wait_timeout(guard, left)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
        }
        true
    }

    /// Waits until a stop is requested.
    pub fn wait(&self) {
        while !self.wait_timeout(Duration::from_hours(1)) {}
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn a_signal_wakes_the_waiters_at_once() {
        let stop = Shutdown::on_signals().expect("handlers");
        let again = Shutdown::on_signals().expect("same handle");
        let waiter = std::thread::spawn(move || again.wait_timeout(Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        // SAFETY: raising SIGTERM in our own process, whose handler is installed above.
        unsafe {
            libc::raise(libc::SIGTERM);
        }
        assert!(waiter.join().expect("waiter"));
        assert_eq!(stop.signal(), Some(libc::SIGTERM));
    }

    #[test]
    fn a_timeout_without_request_is_false() {
        let stop = Shutdown::new();
        assert!(!stop.wait_timeout(Duration::from_millis(10)));
        stop.request();
        assert!(stop.wait_timeout(Duration::ZERO));
        assert_eq!(stop.signal(), None);
    }
}
