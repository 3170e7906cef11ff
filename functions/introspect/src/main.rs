//! Wiring only: see `tokenmint::lambda::run`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    tokenmint::lambda::run(tokenmint_fn_introspect::SERVES).await
}
