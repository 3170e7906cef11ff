//! Property tests of the code that reads untrusted input: the form body, the `Authorization`
//! header, scopes, JWTs and the ECDSA signature encodings.
//!
//! Each property says what it checks in its doc comment. Case counts are kept low so the module
//! runs in a few seconds in a debug build; failures print their seed and minimal input rather
//! than writing regression files into the checkout.

use std::fmt::Write as _;
use std::sync::OnceLock;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use proptest::prelude::*;
use proptest::sample::{Index, select};
use serde_json::json;

use crate::clock::UnixTime;
use crate::domain::Algorithm;
use crate::domain::{AccessTokenClaims, Scope, ScopeSet};
use crate::jwt::der::{ecdsa_der_to_jose, ecdsa_jose_to_der};
use crate::jwt::verify::{self, Expectations, Invalid};
use crate::jwt::{VerifyingKey, b64, mint, unb64};
use crate::oauth::client_auth::{self, Method};
use crate::oauth::form::Form;
use crate::signer::Signer;
use crate::signer::local::LocalKey;

const ISS: &str = "https://issuer.example";

/// `cases` cases, and no regression file (the failing input is in the test output).
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

/// Encodes as a strict client would (WHATWG URL §5.2): every byte but the RFC 3986 unreserved
/// characters percent-encoded, a space as `+`; hex digits in either case.
fn form_encode(s: &str, lower_hex: bool) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for &b in s.as_bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ if lower_hex => write!(out, "%{b:02x}").unwrap(),
            _ => write!(out, "%{b:02X}").unwrap(),
        }
    }
    out
}

/// Bytes that steer the form and Basic parsers: separators, escapes, hex digits, non-hex
/// letters, and bytes that start or break UTF-8 sequences.
fn parser_bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    let alphabet = b"&=%+:09afAFgz \x80\xc3\xa9\xff".to_vec();
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..max),
        prop::collection::vec(select(alphabet), 0..max),
    ]
}

/// A scope token (RFC 6749 §3.3). Half come from a two-letter alphabet so that generated sets
/// overlap.
fn scope_token() -> impl Strategy<Value = String> {
    prop_oneof!["[ab]{1,2}", "[\\x21\\x23-\\x5b\\x5d-\\x7e]{1,16}"]
}

fn scope_set() -> impl Strategy<Value = ScopeSet> {
    prop::collection::vec(scope_token(), 0..8)
        .prop_map(|tokens| tokens.iter().map(|t| Scope::new(t).unwrap()).collect())
}

/// The grammar of a scope token, written independently of [`Scope::new`].
fn is_scope_token(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| matches!(c, '\x21' | '\x23'..='\x5b' | '\x5d'..='\x7e'))
}

/// One ES256 key for the properties that only need some key; the signing properties generate
/// their own.
fn shared_key() -> &'static LocalKey {
    static KEY: OnceLock<LocalKey> = OnceLock::new();
    KEY.get_or_init(|| LocalKey::generate(Algorithm::ES256).unwrap().0)
}

fn claims(sub: String, scope: String, iat: UnixTime, ttl: u64) -> AccessTokenClaims {
    AccessTokenClaims {
        iss: ISS.into(),
        client_id: sub.clone(),
        sub,
        aud: "https://api.example".into(),
        exp: iat + ttl,
        iat,
        nbf: iat,
        jti: "j1".into(),
        scope,
        dlg: vec![],
        act: None,
        chain: None,
        acr: None,
        amr: None,
        auth_time: None,
        extra: Default::default(),
    }
}

fn mint_now(key: &LocalKey, c: &AccessTokenClaims) -> String {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let header = mint::encoded_header(key.alg(), key.kid());
    rt.block_on(mint::mint(key, &header, c)).unwrap()
}

/// Everything a resource server does with a token: parse, verify, check the claims at `now`.
fn validate(token: &str, vk: &VerifyingKey, now: UnixTime) -> Result<AccessTokenClaims, Invalid> {
    let want = Expectations {
        issuer: ISS,
        now,
        leeway: 0,
        check_times: true,
    };
    verify::parse(token)?.verify(vk)?.claims(&want)
}

/// A JWS header: arbitrary bytes, or a JSON object with arbitrary or plausible members.
fn jws_header() -> impl Strategy<Value = Vec<u8>> {
    let alg = prop_oneof![
        select(vec!["ES256", "RS256", "PS256", "HS256", "none"]).prop_map(str::to_owned),
        "(?s).{0,8}",
    ];
    let kid = prop_oneof![
        Just(shared_key().kid().to_owned()),
        "[A-Za-z0-9_-]{43}",
        "(?s).{0,48}",
    ];
    let typ = prop::option::of(prop_oneof![
        select(vec!["at+jwt", "Application/AT+JWT", "JWT"]).prop_map(str::to_owned),
        "(?s).{0,8}",
    ]);
    let extra = prop::option::of(select(vec!["jku", "x5u", "jwk", "x5c", "crit", "zip"]));
    prop_oneof![
        prop::collection::vec(any::<u8>(), 0..64),
        (alg, kid, typ, extra).prop_map(|(alg, kid, typ, extra)| {
            let mut h = json!({ "alg": alg, "kid": kid });
            if let Some(typ) = typ {
                h["typ"] = typ.into();
            }
            if let Some(name) = extra {
                h[name] = "x".into();
            }
            serde_json::to_vec(&h).unwrap()
        }),
    ]
}

/// A DER `SEQUENCE { INTEGER, INTEGER }` whose three lengths may be off by one either way and
/// whose integers may be empty, negative or carry leading zeros.
fn der_like() -> impl Strategy<Value = Vec<u8>> {
    let int = prop::collection::vec(any::<u8>(), 0..36);
    (int.clone(), int, [-1i8..=1, -1..=1, -1..=1]).prop_map(|(r, s, [dr, ds, dseq])| {
        let len = |n: usize, d: i8| u8::try_from(n).unwrap().wrapping_add_signed(d);
        let mut body = vec![0x02, len(r.len(), dr)];
        body.extend(&r);
        body.extend([0x02, len(s.len(), ds)]);
        body.extend(&s);
        let mut der = vec![0x30, len(body.len(), dseq)];
        der.extend(body);
        der
    })
}

/// 64 bytes of `r || s`, with either half often short (leading zeros) or zero.
fn jose_p256() -> impl Strategy<Value = Vec<u8>> {
    (
        prop::collection::vec(any::<u8>(), 64),
        prop_oneof![Just(0usize), 0usize..=32],
        prop_oneof![Just(0usize), 0usize..=32],
    )
        .prop_map(|(mut x, zr, zs)| {
            x[..zr].fill(0);
            x[32..32 + zs].fill(0);
            x
        })
}

proptest! {
    #![proptest_config(config(256))]

    /// `Form::parse` answers `Ok` or `Err` for any body: it never panics.
    #[test]
    fn form_parse_never_panics(body in parser_bytes(128)) {
        let _ = Form::parse(&body);
    }

    /// A form of distinct names, each encoded as a strict client would, parses back to the same
    /// value for every name; an empty value counts as absent (RFC 6749 §3.2), and nothing else
    /// appears.
    #[test]
    fn form_round_trips(
        params in prop::collection::btree_map("(?s).{1,12}", "(?s).{0,24}", 0..8),
        lower_hex in any::<bool>(),
    ) {
        let body = params
            .iter()
            .map(|(k, v)| format!("{}={}", form_encode(k, lower_hex), form_encode(v, lower_hex)))
            .collect::<Vec<_>>()
            .join("&");
        let form = Form::parse(body.as_bytes())
            .map_err(|e| TestCaseError::fail(format!("{e} for {body:?}")))?;
        for (k, v) in &params {
            prop_assert_eq!(form.get(k), Some(v.as_str()).filter(|v| !v.is_empty()));
        }
        let present = params.values().filter(|v| !v.is_empty()).count();
        prop_assert_eq!(form.pairs().count(), present);
    }

    /// `credentials` answers `Ok` or `Err` for any `Authorization` header, whatever the body's
    /// `client_id` and `client_secret`: it never panics.
    #[test]
    fn credentials_never_panic(
        header in "(?s).{0,64}",
        body in select(vec!["", "client_id=a", "client_secret=b", "client_id=a&client_secret=b"]),
    ) {
        let form = Form::parse(body.as_bytes()).unwrap();
        let _ = client_auth::credentials(&form, Some(&header));
    }

    /// Neither does it panic on a `Basic` header whose base64 decodes to arbitrary bytes, which
    /// reaches the split at `:` and the form-decoding of each half.
    #[test]
    fn basic_payloads_never_panic(raw in parser_bytes(64), padded in any::<bool>()) {
        let mut encoded = STANDARD.encode(&raw);
        if !padded {
            encoded.truncate(encoded.trim_end_matches('=').len());
        }
        let _ = client_auth::credentials(&Form::default(), Some(&format!("Basic {encoded}")));
    }

    /// A `client_secret_basic` header built per RFC 6749 §2.3.1 (each of id and secret
    /// form-urlencoded, joined by `:`, base64), with the scheme in any case and padding or
    /// not, gives back the same id and secret; a body `client_id` equal to it is accepted.
    #[test]
    fn basic_credentials_round_trip(
        id in "[\\x21-\\x7e]{1,32}",
        secret in "[\\x21-\\x7e]{1,48}",
        scheme in select(vec!["Basic", "basic", "BASIC", "bAsIc"]),
        lower_hex in any::<bool>(),
        padded in any::<bool>(),
    ) {
        let raw = format!("{}:{}", form_encode(&id, lower_hex), form_encode(&secret, lower_hex));
        let mut encoded = STANDARD.encode(raw);
        if !padded {
            encoded.truncate(encoded.trim_end_matches('=').len());
        }
        let header = format!("{scheme} {encoded}");
        let c = client_auth::credentials(&Form::default(), Some(&header))
            .map_err(|e| TestCaseError::fail(format!("{e:?} for {header:?}")))?;
        prop_assert_eq!(c.method, Method::Basic);
        prop_assert_eq!(&c.client_id, &id);
        prop_assert_eq!(c.secret().map(|s| s.expose()), Some(secret.as_str()));

        let same_id = Form::parse(format!("client_id={}", form_encode(&id, false)).as_bytes())
            .unwrap();
        let c = client_auth::credentials(&same_id, Some(&header))
            .map_err(|e| TestCaseError::fail(format!("{e:?} with body client_id")))?;
        prop_assert_eq!(&c.client_id, &id);
    }

    /// `Scope::new` and `ScopeSet::parse` never panic; `Scope::new` accepts exactly the
    /// RFC 6749 §3.3 scope tokens; whatever `ScopeSet::parse` accepts prints to a string that
    /// parses back to the same set.
    #[test]
    fn scope_parsing_is_total_and_exact(s in prop_oneof!["(?s).{0,48}", "[ab \\x21-\\x7e]{0,48}"]) {
        prop_assert_eq!(Scope::new(&s).is_ok(), is_scope_token(&s));
        if let Ok(set) = ScopeSet::parse(&s) {
            prop_assert!(set.iter().all(|t| is_scope_token(t.as_str())));
            prop_assert_eq!(ScopeSet::parse(&set.to_string()), Ok(set));
        }
    }

    /// A set of valid tokens round-trips through its string form, and parsing the tokens in
    /// any order, repeated, between runs of spaces gives the same set.
    #[test]
    fn scope_set_round_trips(
        tokens in prop::collection::vec((scope_token(), 1usize..4), 0..8),
        lead in 0usize..3,
    ) {
        let set: ScopeSet = tokens.iter().map(|(t, _)| Scope::new(t).unwrap()).collect();
        prop_assert_eq!(ScopeSet::parse(&set.to_string()), Ok(set.clone()));
        let mut loose = " ".repeat(lead);
        for (t, spaces) in tokens.iter().rev() {
            loose.push_str(t);
            loose.push_str(&" ".repeat(*spaces));
        }
        prop_assert_eq!(ScopeSet::parse(&loose), Ok(set));
    }

    /// `a ∩ b` is a subset of both `a` and `b`; `a \ b` is empty exactly when `a ⊆ b`, and holds
    /// only scopes of `a` that `b` lacks.
    #[test]
    fn scope_set_algebra(a in scope_set(), b in scope_set()) {
        let both = a.intersection(&b);
        prop_assert!(both.is_subset(&a));
        prop_assert!(both.is_subset(&b));
        prop_assert_eq!(a.difference(&b).next().is_none(), a.is_subset(&b));
        for s in a.difference(&b) {
            prop_assert!(a.contains(s.as_str()) && !b.contains(s.as_str()));
        }
    }

    /// `verify::parse` and `parse_with` answer `Ok` or `Err` for any string: they never panic.
    #[test]
    fn jwt_parse_never_panics_on_strings(token in prop_oneof!["(?s).{0,128}", "[A-Za-z0-9_.=+/-]{0,128}"]) {
        let _ = verify::parse(&token);
        let _ = verify::parse_with(&token, |_| true);
    }

    /// Nor on three base64url segments: an arbitrary or JSON header, an arbitrary payload
    /// and signature. Whatever parses, a random signature does not verify under our key.
    #[test]
    fn jwt_parse_never_panics_on_segments(
        header in jws_header(),
        payload in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            "(?s).{0,16}".prop_map(|iss| serde_json::to_vec(&json!({ "iss": iss })).unwrap()),
        ],
        signature in prop_oneof![
            prop::collection::vec(any::<u8>(), 64),
            prop::collection::vec(any::<u8>(), 0..80),
        ],
    ) {
        let token = format!("{}.{}.{}", b64(&header), b64(&payload), b64(&signature));
        let vk = shared_key().public_jwk().verifying_key().unwrap();
        let strict = verify::parse(&token);
        let lax = verify::parse_with(&token, |_| true);
        for u in [strict, lax].into_iter().flatten() {
            let _ = u.kid();
            let _ = u.unverified_issuer();
            prop_assert_eq!(u.verify(&vk).map(|_| ()), Err(Invalid::Signature));
        }
    }

    /// `ecdsa_der_to_jose` answers for any bytes and any plausible width: it never panics.
    /// What it accepts is strict DER, so converting back gives the same bytes.
    #[test]
    fn der_to_jose_never_panics(
        der in prop_oneof![prop::collection::vec(any::<u8>(), 0..80), der_like()],
        width in prop_oneof![Just(32usize), 0usize..=66],
    ) {
        if let Some(jose) = ecdsa_der_to_jose(&der, width) {
            prop_assert_eq!(jose.len(), 2 * width);
            // `ecdsa_jose_to_der` takes halves of 1 to 60 bytes.
            if (1..=60).contains(&width) {
                prop_assert_eq!(ecdsa_jose_to_der(&jose), Some(der));
            }
        }
    }

    /// `ecdsa_jose_to_der` answers for any bytes: it never panics. What it accepts (even
    /// lengths up to 120 bytes) converts back to the same `r || s` at half its width.
    #[test]
    fn jose_to_der_never_panics(jose in prop::collection::vec(any::<u8>(), 0..140)) {
        if let Some(der) = ecdsa_jose_to_der(&jose) {
            prop_assert_eq!(ecdsa_der_to_jose(&der, jose.len() / 2), Some(jose));
        }
    }

    /// For any 64-byte `r || s` (zero halves included: the conversion is defined for them),
    /// JOSE → DER → JOSE at width 32 is the identity.
    #[test]
    fn p256_jose_der_round_trip(x in jose_p256()) {
        let der = ecdsa_jose_to_der(&x);
        prop_assert!(der.is_some(), "no DER for {:02x?}", x);
        prop_assert_eq!(ecdsa_der_to_jose(&der.unwrap(), 32), Some(x));
    }
}

proptest! {
    // Each case generates a key and signs; a debug build of aws-lc is slow at both.
    #![proptest_config(config(32))]

    /// A token minted with a freshly generated ES256 key, for any `sub` and `scope`, validates
    /// against that key's JWK to exactly the claims minted.
    #[test]
    fn minted_tokens_validate(
        sub in "(?s).{0,40}",
        scope in "(?s).{0,40}",
        iat in 0u64..(1 << 40),
        ttl in 1u64..86_400,
    ) {
        let (key, _) = LocalKey::generate(Algorithm::ES256).unwrap();
        let c = claims(sub, scope, iat, ttl);
        let token = mint_now(&key, &c);
        let vk = key.public_jwk().verifying_key().unwrap();
        prop_assert_eq!(validate(&token, &vk, iat), Ok(c));
    }

    /// Changing any one byte of a minted token's text (signing input or signature, to another
    /// ASCII byte) makes validation fail.
    #[test]
    fn any_changed_token_byte_fails(
        sub in "(?s).{0,16}",
        at in any::<Index>(),
        mask in 1u8..0x80,
    ) {
        let key = shared_key();
        let token = mint_now(key, &claims(sub, "read".into(), 1000, 60));
        let vk = key.public_jwk().verifying_key().unwrap();
        let mut bytes = token.into_bytes();
        let i = at.index(bytes.len());
        bytes[i] ^= mask;
        // ASCII XOR a mask below 0x80 is ASCII.
        let changed = String::from_utf8(bytes).unwrap();
        prop_assert!(validate(&changed, &vk, 1000).is_err(), "accepted {}", changed);
    }

    /// Flipping bits of any one byte of the decoded signature makes verification fail.
    #[test]
    fn any_changed_signature_byte_fails(at in any::<Index>(), mask in 1u8..=0xff) {
        let key = shared_key();
        let token = mint_now(key, &claims("c1".into(), "read".into(), 1000, 60));
        let vk = key.public_jwk().verifying_key().unwrap();
        let (input, sig) = token.rsplit_once('.').unwrap();
        let mut sig = unb64(sig).unwrap();
        prop_assert_eq!(sig.len(), 64);
        let i = at.index(sig.len());
        sig[i] ^= mask;
        let changed = format!("{input}.{}", b64(&sig));
        prop_assert_eq!(validate(&changed, &vk, 1000), Err(Invalid::Signature));
    }

    /// A condition's evaluation is total over any payload a platform could sign: `true` only
    /// when the claims it tests hold, never a panic, whatever the claims' types and sizes.
    #[test]
    fn conditions_never_panic_and_hold_only_when_their_claims_do(
        claims in json_claims(),
        repository_id in prop_oneof![Just(json!("42")), Just(json!(42)), Just(json!(null)), any::<String>().prop_map(|s| json!(s))],
    ) {
        let conditions = crate::federation::Conditions::new();
        let mut claims = claims;
        claims.insert("repository_id".into(), repository_id.clone());
        for source in [
            r#"claims.repository_id == "42" && claims.ref == "refs/heads/main""#,
            r#"claims.repository_id in ["42", "43"] && claims.ids.exists(i, i == "x")"#,
            r#"has(claims.environment) ? claims.environment == "x" && claims.repository_id == "42" : claims.repository_id == "42""#,
            r#"claims.repository_id == "42" && size(claims.sub) < 100 && claims.sub.matches("^repo:")"#,
            "size(claims) > 0 && claims.all(k, k != \"\")",
        ] {
            let c = conditions.get(source).unwrap();
            let passed = c.evaluate(&claims) == crate::federation::condition::Outcome::True;
            if passed && !source.starts_with("size(claims)") {
                prop_assert_eq!(&repository_id, &json!("42"), "{} passed", source);
            }
        }
    }
}

/// Payloads of up to 8 claims of any JSON shape, `ref`, `sub`, `ids` and `environment` among
/// the names.
fn json_claims() -> impl Strategy<Value = serde_json::Map<String, serde_json::Value>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        "(?s).{0,12}".prop_map(serde_json::Value::from),
        Just(json!("refs/heads/main")),
        Just(json!("x")),
    ];
    let value = leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            prop::collection::btree_map("[a-z]{1,3}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    let name = prop_oneof![
        Just("ref".to_owned()),
        Just("sub".to_owned()),
        Just("ids".to_owned()),
        Just("environment".to_owned()),
        "[a-z_]{1,8}",
    ];
    prop::collection::btree_map(name, value, 0..8).prop_map(|m| m.into_iter().collect())
}
