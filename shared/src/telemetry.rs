//! Log output: JSON lines, one per event, filtered by `RUST_LOG` (default `info`).
//!
//! `RUST_LOG` takes comma-separated `level` and `target=level` directives (`info`,
//! `warn,audit=info`). A value that does not parse leaves the default, `info`.

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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
            Guard { _worker: None }
        }
        Sink::Stderr => {
            let _ = builder
                .with_writer(std::io::stderr)
                .finish()
                .with(filter)
                .try_init();
            Guard { _worker: None }
        }
        Sink::BufferedStdout => {
            let out = std::io::BufWriter::with_capacity(64 * 1024, std::io::stdout());
            let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
                .lossy(false)
                .finish(out);
            let _ = builder.with_writer(writer).finish().with(filter).try_init();
            Guard {
                _worker: Some(guard),
            }
        }
    }
}
