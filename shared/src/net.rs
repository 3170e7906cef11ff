//! Outbound HTTP(S): the one client set-up used for webhooks and upstream JWKS.

use std::sync::Arc;

use hyper_util::client::legacy::connect::HttpConnector;

/// An HTTPS (and plain HTTP, for loopback) connector with the platform's root certificates.
pub type Https = hyper_rustls::HttpsConnector<HttpConnector>;

/// Builds the connector. The rustls provider is named: with more than one provider in the
/// build, relying on a process default would panic.
pub fn https() -> Result<Https, String> {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(hyper_rustls::HttpsConnectorBuilder::new()
        .with_provider_and_native_roots(provider)
        .map_err(|e| format!("no TLS root certificates: {e}"))?
        .https_or_http()
        .enable_http1()
        .build())
}
