//! A fake upstream identity provider on loopback: it serves a JWKS and signs tokens with
//! `jsonwebtoken`, as Auth0, Okta or Cognito would, so token exchange meets tokens tokenmint
//! did not make.

use std::convert::Infallible;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use http_body_util::Full;
use hyper_util::rt::TokioIo;
use jsonwebtoken::{EncodingKey, Header};
use serde_json::{Value, json};
use tokenmint::domain::Algorithm;
use tokenmint::signer::Signer;
use tokenmint::signer::local::LocalKey;
use tokenmint::trust::{self, NewIssuer};
use tokenmint::{Clock, SystemClock};

use super::harness::Server;

pub struct Idp {
    /// The `iss` of its tokens.
    pub issuer: String,
    pub jwks_uri: String,
    /// How many times the JWKS was fetched.
    pub fetches: Arc<AtomicU32>,
    /// How many times the OIDC discovery document was fetched.
    pub discoveries: Arc<AtomicU32>,
    /// While set, every request is answered 503.
    pub down: Arc<AtomicBool>,
    keys: Arc<Mutex<Vec<(String, EncodingKey, Value)>>>,
}

impl Idp {
    pub async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let idp = Self {
            issuer: format!("{base}/"),
            jwks_uri: format!("{base}/.well-known/jwks.json"),
            fetches: Arc::new(AtomicU32::new(0)),
            discoveries: Arc::new(AtomicU32::new(0)),
            down: Arc::new(AtomicBool::new(false)),
            keys: Arc::new(Mutex::new(vec![])),
        };
        idp.add_key();
        let (keys, fetches) = (idp.keys.clone(), idp.fetches.clone());
        let (discoveries, down) = (idp.discoveries.clone(), idp.down.clone());
        let discovery = json!({"issuer": idp.issuer, "jwks_uri": idp.jwks_uri}).to_string();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                let (keys, fetches) = (keys.clone(), fetches.clone());
                let (discoveries, down, discovery) =
                    (discoveries.clone(), down.clone(), discovery.clone());
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let body = if down.load(Ordering::SeqCst) {
                        None
                    } else if req.uri().path() == "/.well-known/openid-configuration" {
                        discoveries.fetch_add(1, Ordering::SeqCst);
                        Some(discovery.clone())
                    } else {
                        fetches.fetch_add(1, Ordering::SeqCst);
                        let jwks: Vec<Value> =
                            keys.lock().unwrap().iter().map(|k| k.2.clone()).collect();
                        Some(json!({ "keys": jwks }).to_string())
                    };
                    async move {
                        let mut r = http::Response::new(Full::new(bytes::Bytes::from(
                            body.clone().unwrap_or_default(),
                        )));
                        if body.is_none() {
                            *r.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                        }
                        Ok::<_, Infallible>(r)
                    }
                });
                tokio::spawn(
                    hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service),
                );
            }
        });
        idp
    }

    /// Generates a signing key; tokens are signed with the newest. `publish`: whether the JWKS
    /// shows it.
    pub fn add_key(&self) -> String {
        self.add_key_published(true)
    }

    pub fn add_key_published(&self, publish: bool) -> String {
        let (key, pkcs8) = LocalKey::generate(Algorithm::ES256).unwrap();
        let mut jwk = serde_json::to_value(key.public_jwk()).unwrap();
        // Like most providers: no `alg` member.
        jwk.as_object_mut().unwrap().remove("alg");
        let kid = key.kid().to_owned();
        let published = if publish { jwk } else { json!({"kty": "none"}) };
        self.keys
            .lock()
            .unwrap()
            .push((kid.clone(), EncodingKey::from_ec_der(&pkcs8), published));
        kid
    }

    /// A token with `typ` and these claims over the defaults (`iss`, `sub` u1, `aud` the
    /// test API, one hour, scope "read:builds update:builds").
    pub fn token_typ(&self, typ: Option<&str>, claims: Value) -> String {
        let now = SystemClock.now();
        let mut c = json!({
            "iss": self.issuer, "sub": "u1", "aud": [super::harness::API],
            "iat": now, "exp": now + 3600,
            "scope": "read:builds update:builds",
        });
        for (k, v) in claims.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        let keys = self.keys.lock().unwrap();
        let (kid, key, _) = keys.last().unwrap();
        let mut header = Header::new(jsonwebtoken::Algorithm::ES256);
        header.typ = typ.map(String::from);
        header.kid = Some(kid.clone());
        let token = jsonwebtoken::encode(&header, &c, key).unwrap();
        super::harness::canary(&token);
        token
    }

    /// `header.payload` as given, signed (ES256, `r‖s`) by the newest key: for tokens no
    /// library would make.
    pub fn sign_raw(&self, header: &Value, payload: &Value) -> String {
        use base64::Engine as _;
        let enc =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let input = format!("{}.{}", enc(header), enc(payload));
        let keys = self.keys.lock().unwrap();
        let (_, key, _) = keys.last().unwrap();
        let sig = jsonwebtoken::crypto::sign(input.as_bytes(), key, jsonwebtoken::Algorithm::ES256)
            .unwrap();
        let token = format!("{input}.{sig}");
        super::harness::canary(&token);
        token
    }

    /// An RFC 9068 access token (`typ` at+jwt).
    pub fn token(&self, claims: Value) -> String {
        self.token_typ(Some("at+jwt"), claims)
    }

    /// Trusts this IdP on `server`, with `f` adjusting the profile.
    pub async fn trust_on(&self, server: &Server, f: impl FnOnce(&mut NewIssuer)) {
        let mut spec = NewIssuer {
            issuer: self.issuer.clone(),
            jwks_uri: self.jwks_uri.clone(),
            ..Default::default()
        };
        f(&mut spec);
        trust::add_issuer(
            server.stores.issuers.as_ref(),
            &server.config,
            spec,
            SystemClock.now(),
        )
        .await
        .unwrap();
    }
}
