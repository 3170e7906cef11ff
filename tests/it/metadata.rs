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
        serde_json::json!([
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "refresh_token"
        ])
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

#[tokio::test]
async fn an_issuer_with_a_path_serves_under_it() {
    for issuer in ["{base}/tenant", "{base}/tenant/"] {
        let s = Server::start_with(&[("TOKENMINT_ISSUER", issuer)]).await;
        let iss = issuer.replace("{base}", &s.base);
        // RFC 8414 §3: the well-known segment goes between the host and the issuer's path;
        // OpenID discovery appends it to the issuer.
        let a = s
            .get("/.well-known/oauth-authorization-server/tenant")
            .await;
        let b = s.get("/tenant/.well-known/openid-configuration").await;
        assert_eq!(a.status, 200, "{issuer}");
        assert_eq!(a.text, b.text);
        assert_eq!(a.json["issuer"], iss.as_str());
        let endpoint = format!("{}/tenant/oauth2/token", s.base);
        assert_eq!(a.json["token_endpoint"], endpoint.as_str());
        let c = s.client("svc").await;
        let r = s
            .post(
                "/tenant/oauth2/token",
                "grant_type=client_credentials",
                Some(&c),
            )
            .await;
        assert_eq!(r.status, 200, "{}", r.text);
        let token = r.json["access_token"].as_str().unwrap();
        assert_eq!(
            s.verify_independently(token, super::harness::API).await["iss"],
            iss.as_str()
        );
        let jwks = s.get("/tenant/.well-known/jwks.json").await;
        assert_eq!(jwks.status, 200);
    }
}

#[tokio::test]
async fn key_ids_are_rfc7638_thumbprints() {
    use jsonwebtoken::jwk::{JwkSet, ThumbprintHash};
    for alg in ["ES256", "RS256"] {
        let s = Server::start_with(&[("TOKENMINT_SIGNING_ALG", alg)]).await;
        let set: JwkSet =
            serde_json::from_str(&s.get("/.well-known/jwks.json").await.text).unwrap();
        let jwk = &set.keys[0];
        assert_eq!(
            jwk.common.key_id.as_deref(),
            Some(jwk.thumbprint(ThumbprintHash::SHA256).unwrap().as_str()),
            "{alg}"
        );
        let raw = s.get("/.well-known/jwks.json").await.json;
        let kty = if alg == "ES256" { "EC" } else { "RSA" };
        assert_eq!(raw["keys"][0]["kty"], kty);
    }
}
