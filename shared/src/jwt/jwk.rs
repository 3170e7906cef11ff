//! Public JSON Web Keys (RFC 7517) with RFC 7638 thumbprints as key ids.

use aws_lc_rs::digest;
use aws_lc_rs::signature::{self, RsaPublicKeyComponents, UnparsedPublicKey};

use super::{b64, unb64};
use crate::domain::{Algorithm, PublicJwk};

/// A key that verifies signatures of exactly one algorithm.
#[derive(Debug, Clone)]
pub struct VerifyingKey {
    alg: Algorithm,
    material: Material,
}

#[derive(Debug, Clone)]
enum Material {
    /// Uncompressed SEC1 point.
    Ec(Vec<u8>),
    Rsa {
        n: Vec<u8>,
        e: Vec<u8>,
    },
}

impl PublicJwk {
    /// A P-256 key from its affine coordinates; the `kid` is its RFC 7638 thumbprint.
    pub fn ec_p256(x: &[u8], y: &[u8], alg: Algorithm) -> Self {
        let mut jwk = Self {
            kty: "EC".into(),
            crv: Some("P-256".into()),
            x: Some(b64(x)),
            y: Some(b64(y)),
            n: None,
            e: None,
            kid: String::new(),
            alg,
            use_: "sig".into(),
        };
        jwk.kid = jwk.thumbprint();
        jwk
    }

    /// An RSA key from its modulus and exponent (big-endian, no leading zeros).
    pub fn rsa(n: &[u8], e: &[u8], alg: Algorithm) -> Self {
        let mut jwk = Self {
            kty: "RSA".into(),
            crv: None,
            x: None,
            y: None,
            n: Some(b64(n)),
            e: Some(b64(e)),
            kid: String::new(),
            alg,
            use_: "sig".into(),
        };
        jwk.kid = jwk.thumbprint();
        jwk
    }

    /// The RFC 7638 thumbprint: SHA-256 over the required members in lexicographic order.
    pub fn thumbprint(&self) -> String {
        let s = |o: &Option<String>| o.clone().unwrap_or_default();
        let canonical = if self.kty == "EC" {
            format!(
                r#"{{"crv":"{}","kty":"EC","x":"{}","y":"{}"}}"#,
                s(&self.crv),
                s(&self.x),
                s(&self.y)
            )
        } else {
            format!(
                r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
                s(&self.e),
                s(&self.n)
            )
        };
        b64(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    }

    /// The verifying key, checking that the members fit the key type and algorithm.
    pub fn verifying_key(&self) -> Result<VerifyingKey, String> {
        let field = |o: &Option<String>, name: &str| {
            o.as_deref()
                .and_then(unb64)
                .ok_or_else(|| format!("JWK member {name} is missing or not base64url"))
        };
        let material = match (self.kty.as_str(), self.alg) {
            ("EC", Algorithm::ES256) if self.crv.as_deref() == Some("P-256") => {
                let (x, y) = (field(&self.x, "x")?, field(&self.y, "y")?);
                if x.len() != 32 || y.len() != 32 {
                    return Err("P-256 coordinates are 32 bytes".into());
                }
                let mut point = Vec::with_capacity(65);
                point.push(4);
                point.extend_from_slice(&x);
                point.extend_from_slice(&y);
                Material::Ec(point)
            }
            ("RSA", Algorithm::RS256 | Algorithm::PS256) => Material::Rsa {
                n: field(&self.n, "n")?,
                e: field(&self.e, "e")?,
            },
            (kty, alg) => return Err(format!("key type {kty} cannot be used with {alg}")),
        };
        Ok(VerifyingKey {
            alg: self.alg,
            material,
        })
    }
}

impl VerifyingKey {
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// Verifies `sig` over `msg`, only if `alg` (from the token header) is this key's own
    /// algorithm: the header never chooses how a signature is checked.
    pub fn verify(&self, alg: &str, msg: &[u8], sig: &[u8]) -> bool {
        if alg != self.alg.as_str() {
            return false;
        }
        match (&self.material, self.alg) {
            (Material::Ec(point), Algorithm::ES256) => {
                // The FIXED algorithm accepts only the 64-byte r || s form: DER is refused.
                UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, point)
                    .verify(msg, sig)
                    .is_ok()
            }
            (Material::Rsa { n, e }, alg) => {
                let params = match alg {
                    Algorithm::PS256 => &signature::RSA_PSS_2048_8192_SHA256,
                    _ => &signature::RSA_PKCS1_2048_8192_SHA256,
                };
                RsaPublicKeyComponents { n, e }
                    .verify(params, msg, sig)
                    .is_ok()
            }
            _ => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 7638 §3.1: the thumbprint of the example RSA key.
    #[test]
    fn rfc7638_example_thumbprint() {
        let jwk = PublicJwk {
            kty: "RSA".into(),
            crv: None,
            x: None,
            y: None,
            n: Some("0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw".into()),
            e: Some("AQAB".into()),
            kid: String::new(),
            alg: Algorithm::RS256,
            use_: "sig".into(),
        };
        assert_eq!(
            jwk.thumbprint(),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }

    #[test]
    fn key_type_must_fit_the_algorithm() {
        let mut jwk = PublicJwk::ec_p256(&[1; 32], &[2; 32], Algorithm::ES256);
        assert!(jwk.verifying_key().is_ok());
        jwk.alg = Algorithm::RS256;
        assert!(jwk.verifying_key().is_err());
        let mut rsa = PublicJwk::rsa(&[0xc5; 256], &[1, 0, 1], Algorithm::RS256);
        assert!(rsa.verifying_key().is_ok());
        rsa.alg = Algorithm::ES256;
        assert!(rsa.verifying_key().is_err());
    }
}
