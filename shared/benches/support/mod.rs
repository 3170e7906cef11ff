//! What the in-process benchmarks share: the app over the in-memory store, and a loopback
//! HTTP server on its own thread.

use std::sync::Arc;

use bytes::Bytes;
use tokenmint::store::Stores;
use tokenmint::store::memory::MemoryStore;
use tokenmint::{App, Config, SystemClock, setup};

pub const ISSUER: &str = "https://auth.example.com";

/// A current-thread runtime and an app with issuer [`ISSUER`] and extra configuration
/// variables, over a fresh in-memory store.
pub fn app(extra: &[(&str, &str)]) -> (tokio::runtime::Runtime, Arc<Config>, Stores, App) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let stores = Stores::from_one(Arc::new(MemoryStore::new()));
    let (config, app) = app_on(&rt, &stores, extra);
    (rt, config, stores, app)
}

/// Another app over the same stores, with other configuration variables.
pub fn app_on(
    rt: &tokio::runtime::Runtime,
    stores: &Stores,
    extra: &[(&str, &str)],
) -> (Arc<Config>, App) {
    let config = Arc::new(
        Config::from_lookup(|k| {
            extra
                .iter()
                .find(|(name, _)| *name == k)
                .map(|(_, v)| (*v).to_owned())
                .or_else(|| (k == "TOKENMINT_ISSUER").then(|| ISSUER.into()))
        })
        .expect("config"),
    );
    let app = rt
        .block_on(setup::build_app(
            Arc::clone(&config),
            stores,
            Arc::new(SystemClock),
        ))
        .expect("app");
    (config, app)
}

/// Serves `answer(path)` on 127.0.0.1, on its own thread and runtime; its `http://ADDR`.
pub fn loopback(answer: impl Fn(&str) -> Bytes + Clone + Send + 'static) -> String {
    let std_listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let base = format!("http://{}", std_listener.local_addr().expect("addr"));
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(async move {
            std_listener.set_nonblocking(true).expect("nonblocking");
            let listener = tokio::net::TcpListener::from_std(std_listener).expect("listener");
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let answer = answer.clone();
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let body = answer(req.uri().path());
                    async move {
                        Ok::<_, std::convert::Infallible>(http::Response::new(
                            http_body_util::Full::new(body),
                        ))
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(hyper_util::rt::TokioIo::new(stream), service),
                );
            }
        });
    });
    base
}
