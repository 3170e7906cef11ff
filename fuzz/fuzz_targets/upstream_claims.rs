//! A trusted issuer's profile applied to arbitrary JSON claims, and arbitrary JWKS documents:
//! no panic.
#![no_main]
use libfuzzer_sys::fuzz_target;
use tokenmint::domain::{ScopeClaim, TrustedIssuer, TypRule};
use tokenmint::oauth::grants::token_exchange::subject::upstream_subject;

fuzz_target!(|data: &[u8]| {
    let _ = tokenmint::upstream::parse_jwks(data);
    let Ok(serde_json::Value::Object(claims)) = serde_json::from_slice(data) else {
        return;
    };
    for scope_claim in [ScopeClaim::Scope, ScopeClaim::Scp] {
        let profile = TrustedIssuer {
            issuer: "https://idp.example/".into(),
            jwks_uri: "https://idp.example/jwks".into(),
            audiences: vec![],
            typ: TypRule::Any,
            scope_claim,
            max_scope: None,
            id_tokens: true,
            subject_prefix: Some("idp|".into()),
            claim_map: vec!["groups=roles".parse().unwrap()],
            created_at: 0,
        };
        let _ = upstream_subject(
            &profile,
            claims.clone(),
            1_000,
            30,
            "https://t/claims/",
            false,
        );
    }
});
