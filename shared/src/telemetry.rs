//! Log output: JSON lines, one per event, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Where log lines go.
#[derive(Debug, Clone, Copy)]
pub enum Sink {
    /// Standard output, written as each event happens: Lambda, whose process may be frozen
    /// right after an invocation returns, must not hold lines back.
    Stdout,
    /// Standard output through a background writer that batches lines into few writes: the
    /// long-running local server. Lossless: when the queue is full, logging waits.
    BufferedStdout,
    /// Standard error: CLI commands, whose standard output is their result.
    Stderr,
}

/// Keeps the background writer alive; dropping it flushes what is queued.
pub struct Guard {
    _worker: Option<tracing_appender::non_blocking::WorkerGuard>,
}

/// Installs the global JSON subscriber. Calling it twice is harmless.
#[must_use = "dropping the guard stops the background log writer"]
pub fn init(sink: Sink) -> Guard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false);
    match sink {
        Sink::Stdout => {
            let _ = builder.with_writer(std::io::stdout).try_init();
            Guard { _worker: None }
        }
        Sink::Stderr => {
            let _ = builder.with_writer(std::io::stderr).try_init();
            Guard { _worker: None }
        }
        Sink::BufferedStdout => {
            let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .finish(out);
            let _ = builder.with_writer(writer).try_init();
            Guard {
                _worker: Some(guard),
            }
        }
    }
}
