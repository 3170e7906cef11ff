//! The attack corpus against token validation, end to end: each crafted token is inactive at
//! introspection (`{"active": false}`) and refused by token exchange (`invalid_request`), and
//! none makes tokenmint read its key store: header fields chosen by an attacker steer no
//! lookup. (Signature-level cases are also run from Project Wycheproof in `wycheproof.rs`.)

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Value, json};
use tokenmint::domain::{KeyMaterial, KeyRecord, KeyStatus};
use tokenmint::jwt::der::ecdsa_jose_to_der;
use tokenmint::signer::local::LocalKey;
use tokenmint::store::sqlite::SqliteStore;
use tokenmint::store::{KeyChange, KeyStore, StoreError, Stores};
use tokenmint::{Clock, SystemClock};

use super::exchange::{exchange, exchanger};
use super::harness::{Creds, Server};

/// Counts every read of the key store.
struct CountingKeys {
    inner: Arc<dyn KeyStore>,
    reads: AtomicU32,
}

#[async_trait::async_trait]
impl KeyStore for CountingKeys {
    async fn list_keys(&self) -> Result<Vec<KeyRecord>, StoreError> {
        self.reads.fetch_add(1, Ordering::SeqCst);
        self.inner.list_keys().await
    }
    async fn init_active_key(&self, key: &KeyRecord) -> Result<KeyRecord, StoreError> {
        self.inner.init_active_key(key).await
    }
    async fn transition(&self, changes: &[KeyChange]) -> Result<(), StoreError> {
        self.inner.transition(changes).await
    }
    async fn remove_retired_key(&self, kid: &str) -> Result<bool, StoreError> {
        self.inner.remove_retired_key(kid).await
    }
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(s).unwrap()
}

fn compact(header: &str, payload: &str, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(payload.as_bytes()),
        b64(sig)
    )
}

/// The server's own signing key, read from its store: to sign tokens that are genuine but for
/// one crafted field.
async fn our_key(s: &Server) -> LocalKey {
    let keys = s.stores.keys.list_keys().await.unwrap();
    let active = keys.iter().find(|k| k.status == KeyStatus::Active).unwrap();
    let KeyMaterial::Local { pkcs8 } = &active.material else {
        panic!("a local key")
    };
    LocalKey::from_pkcs8(active.alg, &unb64(pkcs8)).unwrap()
}

fn signed(key: &LocalKey, header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = key.sign_now(input.as_bytes()).unwrap();
    format!("{input}.{}", b64(&sig))
}

/// P-256's group order n, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// n - s: the other, equally valid, ECDSA signature (r, n - s) of the same message.
fn high_s(sig: &[u8]) -> Vec<u8> {
    let (r, s) = sig.split_at(32);
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(N[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = u8::try_from(d).unwrap();
    }
    [r, &out[..]].concat()
}

async fn start(dir: &std::path::Path) -> (Server, Arc<CountingKeys>) {
    let sqlite = Arc::new(SqliteStore::open(&dir.join("t.db")).unwrap());
    let mut stores = Stores::from_one(sqlite);
    let counting = Arc::new(CountingKeys {
        inner: stores.keys.clone(),
        reads: AtomicU32::new(0),
    });
    stores.keys = counting.clone();
    (Server::start_on(&[], Some(stores)).await, counting)
}

async fn refused(s: &Server, rs: &Creds, ex: &Creds, name: &str, token: &str) {
    let r = s
        .post(
            "/oauth2/introspect",
            &format!("token={}", super::harness::url_encode(token)),
            Some(rs),
        )
        .await;
    assert_eq!(
        (r.status, r.text.as_str()),
        (200, r#"{"active":false}"#),
        "{name}"
    );
    let r = exchange(s, ex, &super::harness::url_encode(token), "").await;
    assert_eq!(r.status, 400, "{name}: {}", r.text);
    assert_eq!(r.json["error"], "invalid_request", "{name}: {}", r.text);
}

#[tokio::test]
async fn the_attack_corpus_is_refused_and_steers_no_lookup() {
    let dir = std::env::temp_dir().join(format!("tokenmint-attacks-{}", std::process::id()));
    let (s, counting) = start(&dir).await;
    let rs = s.introspector("rs").await;
    let ex = exchanger(&s, "ex", "read", |_| {}).await;
    let token = s.token(&rs, "").await;
    let parts: Vec<&str> = token.split('.').collect();
    let (h, p, sig) = (parts[0], parts[1], unb64(parts[2]));
    let header: Value = serde_json::from_slice(&unb64(h)).unwrap();
    let payload: Value = serde_json::from_slice(&unb64(p)).unwrap();
    let kid = header["kid"].as_str().unwrap().to_owned();
    let key = our_key(&s).await;
    let body = payload.to_string();
    let jwks = s.get("/.well-known/jwks.json").await.text;
    let jwk = serde_json::from_str::<Value>(&jwks).unwrap()["keys"][0].to_string();
    let hdr = |extra: Value| {
        let mut v = json!({"alg": "ES256", "typ": "at+jwt", "kid": kid});
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v.to_string()
    };
    let claims = |extra: Value| {
        let mut v = payload.clone();
        for (k, val) in extra.as_object().unwrap() {
            v[k] = val.clone();
        }
        v.to_string()
    };
    let now = SystemClock.now();
    let mut cases: Vec<(String, String)> = Vec::new();
    let mut add = |name: &str, t: String| cases.push((name.to_owned(), t));

    // alg: none in every casing, with and without the real signature.
    for alg in ["none", "None", "NONE", "nOnE"] {
        add(alg, compact(&hdr(json!({"alg": alg})), &body, b""));
        add(alg, compact(&hdr(json!({"alg": alg})), &body, &sig));
    }
    // HMAC keyed with our public key (algorithm confusion), as the JWKS text and as one JWK.
    for secret in [jwks.as_str(), jwk.as_str()] {
        let mut hs = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        hs.kid = Some(kid.clone());
        hs.typ = Some("at+jwt".into());
        let t = jsonwebtoken::encode(
            &hs,
            &payload,
            &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
        )
        .unwrap();
        add("HS256 with the public key", t);
    }
    // Algorithms not on the list, and RSA against our EC key.
    for alg in [
        "ES384", "ES512", "RS512", "EdDSA", "RS256", "PS256", "HS512",
    ] {
        add(alg, compact(&hdr(json!({"alg": alg})), &body, &sig));
    }
    // kid injection.
    for bad in [
        "../../../../etc/passwd",
        "' OR '1'='1",
        "KEYS\" OR pk <> \"",
        "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
        "alias/tokenmint-signing",
        &"k".repeat(10 * 1024),
        "kid\u{0}",
        "",
    ] {
        add(
            "kid injection",
            signed(&key, &hdr(json!({"kid": bad})), &body),
        );
    }
    // Headers that would point verification elsewhere, or demand extensions.
    for (name, v) in [
        ("jku", json!("https://evil.example/jwks")),
        ("x5u", json!("https://evil.example/cert")),
        ("jwk", serde_json::from_str::<Value>(&jwk).unwrap()),
        ("x5c", json!(["MIIB"])),
        ("crit", json!(["exp"])),
    ] {
        add(name, signed(&key, &hdr(json!({ name: v })), &body));
    }
    // Psychic signatures and encodings.
    add("r = s = 0", compact(&hdr(json!({})), &body, &[0u8; 64]));
    add(
        "r = s = n",
        compact(&hdr(json!({})), &body, &[N, N].concat()),
    );
    add(
        "DER signature",
        compact(&hdr(json!({})), &body, &ecdsa_jose_to_der(&sig).unwrap()),
    );
    add(
        "signature of another token",
        format!(
            "{h}.{}.{}",
            b64(claims(json!({"scope": "admin"})).as_bytes()),
            parts[2]
        ),
    );
    // Claims, honestly signed.
    for (name, c) in [
        ("expired", json!({"exp": now - 1})),
        ("nbf in the future", json!({"nbf": now + 3600})),
        ("iat in the future", json!({"iat": now + 3600})),
        ("wrong iss", json!({"iss": "https://evil.example"})),
        ("array iss", json!({"iss": [payload["iss"].clone()]})),
        ("string exp", json!({"exp": (now + 60).to_string()})),
        ("float exp", json!({"exp": (now + 60) as f64 + 0.5})),
        ("aud not ours", json!({"aud": "https://other.example"})),
    ] {
        add(name, signed(&key, &hdr(json!({})), &claims(c)));
    }
    add(
        "an ID token",
        signed(&key, &hdr(json!({"typ": "JWT"})), &body),
    );
    add(
        "no typ",
        signed(
            &key,
            &json!({"alg": "ES256", "kid": kid}).to_string(),
            &body,
        ),
    );
    // Structure.
    add("bad base64", format!("{h}.{p}.*{}", parts[2]));
    add("padding", format!("{h}.{p}.{}=", parts[2]));
    add("too many dots", format!("{token}.{}", parts[2]));
    add("two segments", format!("{h}.{p}"));
    add(
        "invalid UTF-8",
        format!("{}.{p}.{}", b64(b"{\"alg\":\"ES256\xff\"}"), parts[2]),
    );
    add(
        "duplicate members",
        signed(
            &key,
            &format!(r#"{{"alg":"ES256","alg":"none","typ":"at+jwt","kid":"{kid}"}}"#),
            &body,
        ),
    );
    add(
        "duplicate claims",
        signed(
            &key,
            &hdr(json!({})),
            &format!(r#"{{"sub":"x",{}"#, &body[1..]),
        ),
    );
    add(
        "deep nesting",
        signed(
            &key,
            &hdr(json!({})),
            &format!(
                "{{\"nest\":{}{},{}",
                "[".repeat(5000),
                "]".repeat(5000),
                &body[1..]
            ),
        ),
    );
    add(
        "20 KiB",
        signed(
            &key,
            &hdr(json!({})),
            &claims(json!({"pad": "x".repeat(20 * 1024)})),
        ),
    );

    let reads_before = counting.reads.load(Ordering::SeqCst);
    for (name, t) in &cases {
        refused(&s, &rs, &ex, name, t).await;
    }
    assert_eq!(
        counting.reads.load(Ordering::SeqCst),
        reads_before,
        "a crafted header steered a key lookup"
    );
    assert!(cases.len() >= 50, "{}", cases.len());

    // The genuine token is active, so every refusal above is the attack's doing.
    let r = s
        .post("/oauth2/introspect", &format!("token={token}"), Some(&rs))
        .await;
    assert_eq!(r.json["active"], true);
    // Its high-S twin verifies as ECDSA, but revocation is by jti: revoked, both stay revoked.
    let twin = format!("{h}.{p}.{}", b64(&high_s(&sig)));
    assert_eq!(
        s.post("/oauth2/revoke", &format!("token={token}"), Some(&rs))
            .await
            .status,
        200
    );
    refused(&s, &rs, &ex, "high-S twin of a revoked token", &twin).await;
    refused(&s, &rs, &ex, "the revoked token", &token).await;
    // A token larger than any request body: refused before it is read.
    let huge = format!("token={}", "a".repeat(1024 * 1024));
    assert_eq!(
        s.post("/oauth2/introspect", &huge, Some(&rs)).await.status,
        413
    );
    drop(s);
    let _ = std::fs::remove_dir_all(&dir);
}
