//! Hostile input never panics the server or earns a 5xx.

use super::harness::Server;

#[tokio::test]
async fn hostile_bodies_get_4xx() {
    let s = Server::start().await;
    let c = s.client("target").await;
    let long_scope = format!("grant_type=client_credentials&scope={}", "a".repeat(30_000));
    let bodies: Vec<String> = vec![
        String::new(),
        "=".into(),
        "&&&&".into(),
        "%00=%00".into(),
        "grant_type=%00".into(),
        "grant_type=client_credentials&resource=%00".into(),
        "grant_type=client_credentials&audience=%20".into(),
        "grant_type=client_credentials&resource=http://[::1".into(),
        "grant_type=client_credentials&scope=%E2%80%AE".into(),
        long_scope,
        "grant_type=".repeat(1000),
    ];
    for path in ["/oauth2/token", "/oauth2/introspect", "/oauth2/revoke"] {
        for b in &bodies {
            for creds in [Some(&c), None] {
                let r = s.post(path, b, creds).await;
                assert!(
                    (200..500).contains(&r.status),
                    "{path} {b:.60}: {} {}",
                    r.status,
                    r.text
                );
            }
        }
    }
}
