//! Project Wycheproof vectors (tests/fixtures/wycheproof, Apache-2.0) against the signature
//! verification tokenmint uses for its own tokens and for trusted issuers' tokens: every
//! `invalid` vector must be refused and every `valid` one accepted. `acceptable` vectors (legal
//! but discouraged encodings) may go either way and are counted apart.

use std::path::PathBuf;

use serde_json::Value;
use tokenmint::domain::Algorithm;
use tokenmint::domain::PublicJwk;
use tokenmint::jwt::VerifyingKey;
use tokenmint::jwt::der::ecdsa_der_to_jose;
use tokenmint::jwt::verify::{self, Invalid};
use tokenmint::upstream::parse_jwks;

fn load(name: &str) -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/wycheproof")
        .join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

/// An unsigned big-endian integer without its leading zero bytes (a hex value from the vectors).
fn magnitude(s: &str) -> Vec<u8> {
    let bytes = hex(s);
    let first = bytes.iter().position(|b| *b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

#[derive(Default, Debug)]
struct Tally {
    valid: usize,
    invalid: usize,
    acceptable: usize,
}

/// Runs every test of every group of `file` through `check`, which says whether tokenmint
/// accepts it, and asserts the expected result.
fn run(
    file: &str,
    key_of: impl Fn(&Value) -> VerifyingKey,
    check: impl Fn(&VerifyingKey, &Value) -> bool,
) -> Tally {
    let doc = load(file);
    let mut tally = Tally::default();
    for group in doc["testGroups"].as_array().unwrap() {
        let key = key_of(group);
        for t in group["tests"].as_array().unwrap() {
            let accepted = check(&key, t);
            let id = (&t["tcId"], &t["comment"]);
            match t["result"].as_str().unwrap() {
                "valid" => {
                    assert!(accepted, "{file} {id:?}: a valid signature was refused");
                    tally.valid += 1;
                }
                "invalid" => {
                    assert!(
                        !accepted,
                        "{file} {id:?}: an invalid signature was accepted"
                    );
                    tally.invalid += 1;
                }
                _ => tally.acceptable += 1,
            }
        }
    }
    tally
}

fn ec_key(group: &Value) -> VerifyingKey {
    let point = hex(group["publicKey"]["uncompressed"].as_str().unwrap());
    assert_eq!((point.len(), point[0]), (65, 4));
    PublicJwk::ec_p256(&point[1..33], &point[33..], Algorithm::ES256)
        .verifying_key()
        .unwrap()
}

fn rsa_key(alg: Algorithm) -> impl Fn(&Value) -> VerifyingKey {
    move |group| {
        let n = magnitude(group["publicKey"]["modulus"].as_str().unwrap());
        let e = magnitude(group["publicKey"]["publicExponent"].as_str().unwrap());
        PublicJwk::rsa(&n, &e, alg).verifying_key().unwrap()
    }
}

fn msg_sig(t: &Value) -> (Vec<u8>, Vec<u8>) {
    (
        hex(t["msg"].as_str().unwrap()),
        hex(t["sig"].as_str().unwrap()),
    )
}

#[test]
fn es256_raw_signatures() {
    let tally = run("ecdsa_secp256r1_sha256_p1363_test.json", ec_key, |k, t| {
        let (msg, sig) = msg_sig(t);
        k.verify("ES256", &msg, &sig)
    });
    assert!(tally.valid > 100 && tally.invalid > 80, "{tally:?}");
}

#[test]
fn kms_der_signatures_convert_strictly() {
    // What the KMS signer does with KMS's DER output: convert to r || s, then the token is
    // verified as any other. A DER form the converter refuses is a refused signature.
    let tally = run("ecdsa_secp256r1_sha256_test.json", ec_key, |k, t| {
        let (msg, der) = msg_sig(t);
        ecdsa_der_to_jose(&der, 32).is_some_and(|jose| k.verify("ES256", &msg, &jose))
    });
    assert!(tally.valid > 0 && tally.invalid > 100, "{tally:?}");
}

#[test]
fn rs256_signatures() {
    let tally = run(
        "rsa_signature_2048_sha256_test.json",
        rsa_key(Algorithm::RS256),
        |k, t| {
            let (msg, sig) = msg_sig(t);
            k.verify("RS256", &msg, &sig)
        },
    );
    assert!(tally.valid > 0 && tally.invalid > 100, "{tally:?}");
}

#[test]
fn ps256_signatures() {
    let tally = run(
        "rsa_pss_2048_sha256_mgf1_32_test.json",
        rsa_key(Algorithm::PS256),
        |k, t| {
            let (msg, sig) = msg_sig(t);
            k.verify("PS256", &msg, &sig)
        },
    );
    assert!(tally.valid > 0 && tally.invalid > 20, "{tally:?}");
}

/// Whole JWS tokens: the header rules (no `none`, no HMAC, no key-pointing headers, `kid`
/// required), then the signature with the group's public key as a trusted issuer would
/// publish it. Valid vectors may be refused only by tokenmint's stricter header policy, never
/// by signature checking; invalid ones must always be refused.
#[test]
fn jws_tokens() {
    let doc = load("json_web_signature_test.json");
    let (mut accepted_valid, mut refused_by_policy, mut refused_invalid) = (0, 0, 0);
    for group in doc["testGroups"].as_array().unwrap() {
        // Groups with only a private (symmetric) key: HMAC is never accepted.
        let keys = group
            .get("public")
            .map(|jwk| {
                parse_jwks(serde_json::json!({"keys": [jwk]}).to_string().as_bytes()).unwrap()
            })
            .unwrap_or_default();
        for t in group["tests"].as_array().unwrap() {
            let Some(jws) = t["jws"].as_str() else {
                continue;
            };
            // An algorithm tokenmint does not take (HMAC, none, PS384, …), or one that is not
            // the key's: refused by policy before any signature is computed.
            let header_alg = jws
                .split('.')
                .next()
                .and_then(|h| {
                    use base64::Engine as _;
                    base64::engine::general_purpose::URL_SAFE_NO_PAD
                        .decode(h)
                        .ok()
                })
                .and_then(|h| serde_json::from_slice::<Value>(&h).ok())
                .and_then(|h| h["alg"].as_str().map(String::from))
                .unwrap_or_default();
            let outcome = verify::parse_with(jws, |_| true).and_then(|u| {
                let key = keys.get(u.kid()).ok_or(Invalid::UnknownKey)?;
                u.verify(key).map(|_| ())
            });
            let id = (&t["tcId"], &t["comment"]);
            match (t["result"].as_str().unwrap(), outcome) {
                ("valid", Ok(())) => accepted_valid += 1,
                ("valid", Err(e)) => {
                    let by_policy =
                        keys.is_empty() || !keys.values().any(|k| k.alg().as_str() == header_alg);
                    assert!(
                        !matches!(e, Invalid::Signature) || by_policy,
                        "{id:?}: a valid signature was refused: {e}"
                    );
                    refused_by_policy += 1;
                }
                ("invalid", Ok(())) => panic!("{id:?}: an invalid token was accepted"),
                ("invalid", Err(_)) => refused_invalid += 1,
                _ => {}
            }
        }
    }
    assert!(
        accepted_valid > 10 && refused_invalid > 100,
        "{accepted_valid} {refused_invalid}"
    );
    // HMAC and other algorithms tokenmint never accepts.
    assert!(refused_by_policy > 0);
}
