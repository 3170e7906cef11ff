//! A Lambda Runtime API peer on loopback, so the function binaries run as they do on Lambda:
//! as processes that poll `/runtime/invocation/next` and post their answers back.
//! <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::sync::{mpsc, oneshot};

type Waiters = Arc<Mutex<HashMap<String, oneshot::Sender<Outcome>>>>;

/// What a function answered for one invocation.
#[derive(Debug)]
pub enum Outcome {
    Response(serde_json::Value),
    Error(String),
}

/// The Runtime API endpoint and the function process polling it.
pub struct Function {
    pub name: String,
    events: mpsc::Sender<(String, String)>,
    waiters: Waiters,
    child: Child,
    next_id: u64,
    lines: Arc<Mutex<Vec<String>>>,
}

impl Drop for Function {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The directory holding the function binaries (`target/debug`); `infra/test` builds them
/// before the tests run.
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    // target/debug/deps/it-<hash> -> target/debug
    exe.parent().and_then(|d| d.parent()).unwrap().to_path_buf()
}

impl Function {
    /// Starts the Runtime API on 127.0.0.1 and the function binary `name` against it.
    pub async fn start(name: &str, env: &[(&str, &str)]) -> Self {
        let bin = bin_dir().join(name);
        assert!(
            bin.exists(),
            "{} is missing: run infra/test, which builds the function binaries first",
            bin.display()
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (events, rx) = mpsc::channel::<(String, String)>(16);
        let waiters: Waiters = Arc::default();
        tokio::spawn(serve(
            listener,
            Arc::new(tokio::sync::Mutex::new(rx)),
            waiters.clone(),
        ));
        let mut cmd = Command::new(bin);
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("AWS_LAMBDA_RUNTIME_API", addr.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{name}"))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "test")
            .env("RUST_LOG", "warn");
        for k in [
            "AWS_ENDPOINT_URL",
            "AWS_REGION",
            "AWS_ACCESS_KEY_ID",
            "AWS_SECRET_ACCESS_KEY",
        ] {
            if let Ok(v) = std::env::var(k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in env {
            cmd.env(k, v);
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let lines: Arc<Mutex<Vec<String>>> = Arc::default();
        let out = child.stdout.take().unwrap();
        let sink = lines.clone();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            for line in std::io::BufReader::new(out).lines().map_while(Result::ok) {
                sink.lock().unwrap().push(line);
            }
        });
        Self {
            name: name.to_owned(),
            events,
            waiters,
            child,
            next_id: 0,
            lines,
        }
    }

    /// The lines the function has written to standard output (its log) so far.
    // The benchmarks include this file and read no log.
    #[allow(dead_code)]
    pub fn stdout(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    /// Sends one event and waits for the function's answer.
    pub async fn invoke(&mut self, event: serde_json::Value) -> Outcome {
        self.next_id += 1;
        let id = format!("{}-{}", self.name, self.next_id);
        let (tx, rx) = oneshot::channel();
        self.waiters.lock().unwrap().insert(id.clone(), tx);
        self.events.send((id, event.to_string())).await.unwrap();
        tokio::time::timeout(Duration::from_secs(30), rx)
            .await
            .expect("the function answered within 30 s")
            .unwrap()
    }
}

async fn serve(
    listener: tokio::net::TcpListener,
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, String)>>>,
    waiters: Waiters,
) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let (events, waiters) = (events.clone(), waiters.clone());
        let service = hyper::service::service_fn(move |req| {
            let (events, waiters) = (events.clone(), waiters.clone());
            async move { Ok::<_, Infallible>(route(req, events, waiters).await) }
        });
        tokio::spawn(async move {
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn route(
    req: http::Request<Incoming>,
    events: Arc<tokio::sync::Mutex<mpsc::Receiver<(String, String)>>>,
    waiters: Waiters,
) -> http::Response<Full<Bytes>> {
    let path = req.uri().path().to_owned();
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let accepted = || {
        http::Response::builder()
            .status(202)
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    };
    if path == "/2018-06-01/runtime/invocation/next" {
        let Some((id, event)) = events.lock().await.recv().await else {
            return http::Response::builder()
                .status(500)
                .body(Full::default())
                .unwrap();
        };
        let deadline = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis()
            + 30_000;
        return http::Response::builder()
            .header("lambda-runtime-aws-request-id", &id)
            .header("lambda-runtime-deadline-ms", deadline.to_string())
            .header(
                "lambda-runtime-invoked-function-arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:test",
            )
            .header(
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000",
            )
            .body(Full::new(Bytes::from(event)))
            .unwrap();
    }
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if let ["2018-06-01", "runtime", "invocation", id, kind] = parts.as_slice() {
        let outcome = match *kind {
            "response" => Outcome::Response(serde_json::from_slice(&body).unwrap_or_default()),
            _ => Outcome::Error(String::from_utf8_lossy(&body).into_owned()),
        };
        if let Some(tx) = waiters.lock().unwrap().remove(*id) {
            let _ = tx.send(outcome);
        }
        return accepted();
    }
    if path.ends_with("/init/error") {
        eprintln!("function init error: {}", String::from_utf8_lossy(&body));
        return accepted();
    }
    http::Response::builder()
        .status(404)
        .body(Full::default())
        .unwrap()
}
