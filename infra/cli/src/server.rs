//! The local HTTP server: every endpoint on one listener.

use std::future::Future;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use tokenmint::App;
use tokenmint::oauth::OAuthError;
use tokenmint::oauth::request::MAX_BODY_BYTES;

/// Serves `app` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Arc<App>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let router = axum::Router::new().fallback(move |req: Request| {
        let app = Arc::clone(&app);
        async move { handle(&app, req).await }
    });
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}

async fn handle(app: &App, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    // Read at most one byte past the cap: enough to know the body is too large.
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_BODY_BYTES + 1).await {
        Ok(b) => b,
        Err(_) => {
            let e = OAuthError::invalid_request(format!(
                "the request body exceeds {MAX_BODY_BYTES} bytes or could not be read"
            ))
            .with_status(http::StatusCode::PAYLOAD_TOO_LARGE);
            return e.to_response().map(Body::from);
        }
    };
    app.handle(http::Request::from_parts(parts, bytes))
        .await
        .map(Body::from)
}
