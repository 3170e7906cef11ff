//! Log output: JSON lines, one per event, filtered by `RUST_LOG` (default `info`).

use tracing_subscriber::EnvFilter;

/// Where log lines go.
#[derive(Debug, Clone, Copy)]
pub enum Sink {
    /// Standard output: Lambda (CloudWatch) and the local server.
    Stdout,
    /// Standard error: CLI commands, whose standard output is their result.
    Stderr,
}

/// Installs the global JSON subscriber. Calling it twice is harmless.
pub fn init(sink: Sink) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_ansi(false);
    let _ = match sink {
        Sink::Stdout => builder.with_writer(std::io::stdout).try_init(),
        Sink::Stderr => builder.with_writer(std::io::stderr).try_init(),
    };
}
