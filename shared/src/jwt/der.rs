//! ECDSA signature encodings: ASN.1 DER `ECDSA-Sig-Value` (what KMS returns, RFC 3279 §2.2.3)
//! and the fixed-width `r || s` that JWS requires (RFC 7518 §3.4).

/// Converts a DER `SEQUENCE { r INTEGER, s INTEGER }` into `r || s`, each left-padded to
/// `width` bytes (32 for P-256). Refuses anything that is not strict, minimal DER or whose
/// integers do not fit.
pub fn ecdsa_der_to_jose(der: &[u8], width: usize) -> Option<Vec<u8>> {
    let body = match der {
        [0x30, len, rest @ ..] if usize::from(*len) == rest.len() && *len < 0x80 => rest,
        _ => return None,
    };
    let (r, rest) = integer(body)?;
    let (s, rest) = integer(rest)?;
    if !rest.is_empty() || r.len() > width || s.len() > width {
        return None;
    }
    let mut out = vec![0u8; 2 * width];
    out[width - r.len()..width].copy_from_slice(r);
    out[2 * width - s.len()..].copy_from_slice(s);
    Some(out)
}

/// One DER INTEGER that must be positive and minimally encoded; returns its magnitude without
/// leading zeros, and the bytes after it.
fn integer(input: &[u8]) -> Option<(&[u8], &[u8])> {
    let [0x02, len, rest @ ..] = input else {
        return None;
    };
    let len = usize::from(*len);
    if len == 0 || len >= 0x80 || rest.len() < len {
        return None;
    }
    let (value, rest) = rest.split_at(len);
    match value {
        // Negative.
        [first, ..] if first & 0x80 != 0 => None,
        // A leading zero is only allowed (and required) before a byte with the high bit set.
        [0, next, ..] if next & 0x80 == 0 => None,
        [0, magnitude @ ..] if !magnitude.is_empty() => Some((magnitude, rest)),
        [0] => Some((&value[1..], rest)),
        _ => Some((value, rest)),
    }
}

/// Converts `r || s` into DER; the inverse of [`ecdsa_der_to_jose`], for tests and tools.
pub fn ecdsa_jose_to_der(jose: &[u8]) -> Option<Vec<u8>> {
    if jose.is_empty() || jose.len() % 2 != 0 || jose.len() > 2 * 60 {
        return None;
    }
    let (r, s) = jose.split_at(jose.len() / 2);
    let encode = |v: &[u8]| {
        let v: Vec<u8> = v.iter().copied().skip_while(|&b| b == 0).collect();
        let mut out = vec![0x02];
        if v.first().is_none_or(|b| b & 0x80 != 0) {
            out.push(u8::try_from(v.len() + 1).unwrap_or(0));
            out.push(0);
        } else {
            out.push(u8::try_from(v.len()).unwrap_or(0));
        }
        out.extend_from_slice(&v);
        out
    };
    let body = [encode(r), encode(s)].concat();
    let mut der = vec![0x30, u8::try_from(body.len()).ok()?];
    der.extend_from_slice(&body);
    Some(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pads_short_components() {
        // r = 1, s = 0x80 (needs a leading zero in DER).
        let der = [0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80];
        let jose = ecdsa_der_to_jose(&der, 32).unwrap();
        assert_eq!(jose.len(), 64);
        assert_eq!(jose[31], 1);
        assert_eq!(jose[63], 0x80);
        assert!(jose[..31].iter().all(|&b| b == 0));
        assert_eq!(ecdsa_jose_to_der(&jose).unwrap(), der);
    }

    #[test]
    fn refuses_non_strict_der() {
        let cases: &[&[u8]] = &[
            &[],
            &[0x30, 0x00],
            &[0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // wrong length
            &[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01], // negative r
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01], // non-minimal r
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00], // trailing byte
            &[0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01], // not a SEQUENCE
        ];
        for c in cases {
            assert!(ecdsa_der_to_jose(c, 32).is_none(), "{c:02x?}");
        }
        // Too wide for P-256.
        let mut wide = vec![0x30, 0x26, 0x02, 0x21];
        wide.extend([0x7f; 33]);
        wide.extend([0x02, 0x01, 0x01]);
        assert!(ecdsa_der_to_jose(&wide, 32).is_none());
    }

    #[test]
    fn round_trips_real_signatures() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED, EcdsaKeyPair, KeyPair,
            UnparsedPublicKey,
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let public =
            UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref().to_vec());
        for i in 0..500u32 {
            let msg = i.to_be_bytes();
            let der = key.sign(&rng, &msg).unwrap();
            let jose = ecdsa_der_to_jose(der.as_ref(), 32).unwrap();
            public.verify(&msg, &jose).unwrap();
            assert_eq!(ecdsa_jose_to_der(&jose).unwrap(), der.as_ref());
        }
    }
}
