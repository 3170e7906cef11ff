//! Log output: JSON lines, one per event, filtered by `RUST_LOG` (default `info`).
//!
//! `RUST_LOG` takes comma-separated `level` and `target=level` directives (`info`,
//! `warn,audit=info`). A value that does not parse leaves the default, `info`.

use std::io::{BufWriter, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

/// Where log lines go.
#[derive(Debug, Clone, Copy)]
pub enum Sink {
    /// Standard output, written as each event happens: Lambda, whose process may be frozen
    /// right after an invocation returns, must not hold lines back.
    Stdout,
    /// Standard output through a shared buffer that a background thread flushes every
    /// [`FLUSH_EVERY`]: the long-running local server. A line costs a copy into the buffer, no
    /// wake-up of another thread; a full buffer is written out by whoever filled it, so
    /// nothing is dropped. Dropping the [`Guard`] flushes what is left.
    BufferedStdout,
    /// Standard error: CLI commands, whose standard output is their result.
    Stderr,
}

/// How long a line may wait in the local server's buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Keeps the buffered writer's flushing alive; dropping it flushes what is buffered.
pub struct Guard {
    batch: Option<Arc<Batch<std::io::Stdout>>>,
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(b) = &self.batch {
            b.stop.store(true, Ordering::Relaxed);
            b.flush();
        }
    }
}

/// Lines gathered from every thread into one buffer, written out in large writes.
struct Batch<W: Write> {
    out: Mutex<BufWriter<W>>,
    stop: AtomicBool,
}

impl<W: Write> Batch<W> {
    fn new(out: W) -> Self {
        Self {
            out: Mutex::new(BufWriter::with_capacity(64 * 1024, out)),
            stop: AtomicBool::new(false),
        }
    }

    fn lock(&self) -> MutexGuard<'_, BufWriter<W>> {
        // A panic while a line was copied in leaves at worst a partial line: keep logging.
        self.out.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn flush(&self) {
        let _ = self.lock().flush();
    }
}

/// One event's writer: the buffer, locked while the event's line is copied in.
struct Locked<'a, W: Write>(MutexGuard<'a, BufWriter<W>>);

impl<W: Write> Write for Locked<'_, W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    // The background thread flushes; an event never does.
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

struct Shared<W: Write>(Arc<Batch<W>>);

impl<'a, W: Write + 'a> MakeWriter<'a> for Shared<W> {
    type Writer = Locked<'a, W>;
    fn make_writer(&'a self) -> Self::Writer {
        Locked(self.0.lock())
    }
}

/// Flushes `batch` every [`FLUSH_EVERY`] until it is stopped.
fn flush_in_background<W: Write + Send + 'static>(batch: &Arc<Batch<W>>) {
    let batch = Arc::clone(batch);
    let spawned = std::thread::Builder::new()
        .name("log-flush".into())
        .spawn(move || {
            while !batch.stop.load(Ordering::Relaxed) {
                std::thread::sleep(FLUSH_EVERY);
                batch.flush();
            }
        });
    if let Err(e) = spawned {
        eprintln!(
            "warning: no background log flushing ({e}); lines are written when 64 KiB gather"
        );
    }
}

/// Installs the global JSON subscriber. Calling it twice is harmless.
#[must_use = "dropping the guard stops the background log writer"]
pub fn init(sink: Sink) -> Guard {
    // `Targets` rather than `EnvFilter`: the same directives without span and field filters,
    // and without the regex engine, which keeps the Lambda artefacts smaller.
    let filter = std::env::var("RUST_LOG")
        .ok()
        .and_then(|v| v.parse::<Targets>().ok())
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let builder = tracing_subscriber::fmt()
        .json()
        .with_current_span(false)
        .with_ansi(false);
    match sink {
        Sink::Stdout => {
            let _ = builder
                .with_writer(std::io::stdout)
                .finish()
                .with(filter)
                .try_init();
            Guard { batch: None }
        }
        Sink::Stderr => {
            let _ = builder
                .with_writer(std::io::stderr)
                .finish()
                .with(filter)
                .try_init();
            Guard { batch: None }
        }
        Sink::BufferedStdout => {
            let batch = Arc::new(Batch::new(std::io::stdout()));
            let installed = builder
                .with_writer(Shared(Arc::clone(&batch)))
                .finish()
                .with(filter)
                .try_init();
            if installed.is_err() {
                return Guard { batch: None };
            }
            flush_in_background(&batch);
            Guard { batch: Some(batch) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A writer whose bytes the test can read, counting the writes that reach it.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            let mut s = self.0.lock().unwrap();
            s.0.extend_from_slice(buf);
            s.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_every_thread_arrive_whole_in_few_writes() {
        let sink = Sink::default();
        let shared = Shared(Arc::new(Batch::new(sink.clone())));
        std::thread::scope(|s| {
            for t in 0..4 {
                let shared = &shared;
                s.spawn(move || {
                    for i in 0..5000 {
                        let line = format!("{{\"thread\":{t},\"line\":{i}}}\n");
                        shared.make_writer().write_all(line.as_bytes()).unwrap();
                    }
                });
            }
        });
        // Nothing waits for a flush: most lines are still buffered until one comes.
        shared.0.flush();
        let (bytes, writes) = sink.0.lock().unwrap().clone();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000);
        assert!(lines.iter().all(|l| l.starts_with('{') && l.ends_with('}')));
        assert!(writes < 20, "{writes} writes for 20,000 lines");
    }
}
