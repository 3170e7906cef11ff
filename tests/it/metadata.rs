//! Discovery documents: RFC 8414 metadata and the JWKS (RFC 7517).

use super::harness::Server;

#[tokio::test]
async fn metadata_is_served_at_both_well_known_paths() {
    let s = Server::start().await;
    let a = s.get("/.well-known/oauth-authorization-server").await;
    let b = s.get("/.well-known/openid-configuration").await;
    assert_eq!(a.status, 200);
    assert_eq!(a.text, b.text);
    let m = &a.json;
    assert_eq!(m["issuer"], s.base.as_str());
    assert!(!m["issuer"].as_str().unwrap().ends_with('/'));
    assert_eq!(m["token_endpoint"], format!("{}/oauth2/token", s.base));
    assert_eq!(m["jwks_uri"], format!("{}/.well-known/jwks.json", s.base));
    assert_eq!(
        m["introspection_endpoint"],
        format!("{}/oauth2/introspect", s.base)
    );
    assert_eq!(
        m["revocation_endpoint"],
        format!("{}/oauth2/revoke", s.base)
    );
    assert_eq!(m["response_types_supported"], serde_json::json!([]));
    assert_eq!(
        m["grant_types_supported"],
        serde_json::json!(["client_credentials"])
    );
    assert!(
        a.header("cache-control")
            .unwrap()
            .starts_with("public, max-age=")
    );
    // Every advertised endpoint answers.
    for k in [
        "token_endpoint",
        "introspection_endpoint",
        "revocation_endpoint",
    ] {
        let path = m[k]
            .as_str()
            .unwrap()
            .strip_prefix(&s.base)
            .unwrap()
            .to_owned();
        assert_ne!(s.post(&path, "", None).await.status, 404, "{k}");
    }
}

#[tokio::test]
async fn jwks_publishes_public_keys_only() {
    for alg in ["ES256", "RS256"] {
        let s = Server::start_with(&[("TOKENMINT_SIGNING_ALG", alg)]).await;
        let r = s.get("/.well-known/jwks.json").await;
        assert_eq!(r.status, 200);
        assert_eq!(r.header("content-type"), Some("application/jwk-set+json"));
        assert!(
            r.header("cache-control")
                .unwrap()
                .starts_with("public, max-age=")
        );
        let keys = r.json["keys"].as_array().unwrap();
        assert_eq!(keys.len(), 1);
        let k = &keys[0];
        assert_eq!(k["alg"], alg);
        assert_eq!(k["use"], "sig");
        assert!(
            k["kid"].as_str().unwrap().len() == 43,
            "RFC 7638 SHA-256 thumbprint"
        );
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(
                k.get(private).is_none(),
                "{private} must never be published"
            );
        }
        assert_eq!(s.post("/.well-known/jwks.json", "", None).await.status, 405);
    }
}

#[tokio::test]
async fn unknown_paths_are_404() {
    let s = Server::start().await;
    assert_eq!(s.get("/nope").await.status, 404);
    assert_eq!(s.get("/oauth2/tokens").await.status, 404);
}
