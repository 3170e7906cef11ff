//! The local HTTP/1.1 server: every endpoint on one listener, each connection served by hyper
//! and each request answered by [`App::handle`], the same code path the Lambda functions run.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokenmint::App;
use tokenmint::oauth::OAuthError;
use tokenmint::oauth::request::MAX_BODY_BYTES;

/// How long open connections may take to finish their requests after shutdown begins.
const DRAIN: Duration = Duration::from_secs(10);

/// How long a client may take to send a request's headers, and then its body. A client that
/// trickles bytes is cut off instead of holding a connection open.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Serves `app` on `listener` until `shutdown` completes, then lets open connections finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(READ_TIMEOUT);
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let app = Arc::clone(&app);
        let service = hyper::service::service_fn(move |req| {
            let app = Arc::clone(&app);
            async move { Ok::<_, Infallible>(handle(&app, peer, req).await) }
        });
        let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
        tokio::spawn(async move {
            // A client that goes away mid-request is not an error of ours.
            let _ = connection.await;
        });
    }
    let _ = tokio::time::timeout(DRAIN, graceful.shutdown()).await;
    Ok(())
}

async fn handle(
    app: &App,
    peer: std::net::SocketAddr,
    req: http::Request<Incoming>,
) -> http::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    // Read at most one byte past the cap: enough to know the body is too large.
    let read = tokio::time::timeout(
        READ_TIMEOUT,
        Limited::new(body, MAX_BODY_BYTES + 1).collect(),
    );
    let bytes = match read.await {
        Ok(Ok(collected)) => collected.to_bytes(),
        _ => {
            let e = OAuthError::invalid_request(format!(
                "the request body exceeds {MAX_BODY_BYTES} bytes or could not be read"
            ))
            .with_status(http::StatusCode::PAYLOAD_TOO_LARGE);
            return e.to_response().map(Full::new);
        }
    };
    let mut req = http::Request::from_parts(parts, bytes);
    // The peer address, never a forwarding header: the local server sits behind no proxy.
    req.extensions_mut()
        .insert(tokenmint::app::SourceAddr(peer.ip()));
    app.handle(req).await.map(Full::new)
}
