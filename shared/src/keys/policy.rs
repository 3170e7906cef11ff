//! Which stored key records this process trusts (docs/kms.md).

use crate::config::{Config, SignerConfig};
use crate::domain::{KeyMaterial, KeyRecord};

/// Which stored key records this process trusts (docs/kms.md). Any function that can write
/// to the table could plant a record, so every published record's `kid` must be the RFC 7638
/// thumbprint of its public key, and the record that signs must hold material of the kind,
/// and under the KMS key, this deployment signs with.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyPolicy {
    /// Plaintext keys from the store may sign: a `local` signer (on DynamoDB only with
    /// `TOKENMINT_INSECURE_LOCAL_KEY=1`), or that setting itself.
    pub local: bool,
    /// The KMS keys that may sign (`kms` mode): `TOKENMINT_SIGNER`'s and `TOKENMINT_KMS_KEYS`.
    pub kms_keys: Vec<String>,
    /// The KMS key that may wrap signing keys (`kms-wrapped` mode).
    pub wrapping_key: Option<String>,
}

impl KeyPolicy {
    pub fn from_config(c: &Config) -> Self {
        match &c.signer {
            SignerConfig::Local => Self {
                local: true,
                ..Self::default()
            },
            SignerConfig::Kms(key) => Self {
                local: c.insecure_local_key,
                kms_keys: std::iter::once(key.clone())
                    .chain(c.kms_rotation_keys.iter().cloned())
                    .collect(),
                wrapping_key: None,
            },
            SignerConfig::KmsWrapped(key) => Self {
                local: c.insecure_local_key,
                kms_keys: vec![],
                wrapping_key: Some(key.clone()),
            },
        }
    }

    /// Whether `r` may be published and verify tokens: its `kid` is the thumbprint of its key.
    pub fn check_published(r: &KeyRecord) -> Result<(), String> {
        if r.public_jwk.kid != r.kid || r.public_jwk.thumbprint() != r.kid {
            return Err(format!(
                "key {} is not the RFC 7638 thumbprint of its public key",
                r.kid
            ));
        }
        Ok(())
    }

    /// Whether `r` holds material of a kind this deployment ever writes: a plaintext key only
    /// where plaintext keys are allowed. Every published record must pass it.
    pub fn check_kind(&self, r: &KeyRecord) -> Result<(), String> {
        match (&r.material, self.local) {
            (KeyMaterial::Local { .. }, false) => Err(format!(
                "key {} is a plaintext key, which this deployment never writes",
                r.kid
            )),
            _ => Ok(()),
        }
    }

    /// Whether `r` is of the kind, and under the KMS key, this deployment signs with: only then
    /// does it sign.
    pub fn check_signing(&self, r: &KeyRecord) -> Result<(), String> {
        let ok = match &r.material {
            KeyMaterial::Local { .. } => self.local,
            KeyMaterial::Kms { key_id } => self.kms_keys.contains(key_id),
            KeyMaterial::KmsWrapped { wrapping_key, .. } => {
                self.wrapping_key.as_deref() == Some(wrapping_key.as_str())
            }
        };
        match ok {
            true => Ok(()),
            false => Err(format!(
                "key {} holds {} material this deployment does not sign with",
                r.kid,
                r.material.kind()
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::domain::Algorithm;
    use crate::domain::KeyStatus;
    use crate::signer::local::LocalKey;

    fn record(material: KeyMaterial) -> KeyRecord {
        let (key, pkcs8) = LocalKey::generate(Algorithm::ES256).unwrap();
        KeyRecord {
            material,
            ..key.record(&pkcs8, KeyStatus::Active, 1)
        }
    }

    #[test]
    fn only_records_this_deployment_writes_are_trusted() {
        let kms = |id: &str| KeyMaterial::Kms { key_id: id.into() };
        let local = record(KeyMaterial::Local { pkcs8: "x".into() });
        let config = |pairs: &[(&str, &str)]| {
            let map: HashMap<String, String> = pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            KeyPolicy::from_config(&Config::from_lookup(|k| map.get(k).cloned()).unwrap())
        };
        let in_kms = config(&[
            ("TOKENMINT_SIGNER", "kms:alias/a"),
            ("TOKENMINT_KMS_KEYS", "alias/b"),
        ]);
        assert!(
            in_kms.check_signing(&local).is_err(),
            "plaintext key in kms mode"
        );
        assert!(in_kms.check_signing(&record(kms("alias/a"))).is_ok());
        assert!(in_kms.check_signing(&record(kms("alias/b"))).is_ok());
        assert!(in_kms.check_signing(&record(kms("alias/planted"))).is_err());
        let wrapped = |key: &str| {
            record(KeyMaterial::KmsWrapped {
                wrapping_key: key.into(),
                ciphertext: "c".into(),
            })
        };
        let in_wrapped = config(&[("TOKENMINT_SIGNER", "kms-wrapped:alias/w")]);
        assert!(in_wrapped.check_signing(&wrapped("alias/w")).is_ok());
        assert!(in_wrapped.check_signing(&wrapped("alias/other")).is_err());
        assert!(in_wrapped.check_signing(&record(kms("alias/w"))).is_err());
        let insecure = config(&[
            ("TOKENMINT_SIGNER", "kms:alias/a"),
            ("TOKENMINT_INSECURE_LOCAL_KEY", "1"),
        ]);
        assert!(insecure.check_signing(&local).is_ok());
        assert!(config(&[]).check_signing(&local).is_ok());
        // The kid must be the thumbprint of the public key.
        let mut renamed = record(kms("alias/a"));
        assert!(KeyPolicy::check_published(&renamed).is_ok());
        renamed.kid = "A".repeat(43);
        assert!(KeyPolicy::check_published(&renamed).is_err());
        let mut swapped = record(kms("alias/a"));
        swapped.public_jwk = record(kms("alias/a")).public_jwk;
        assert!(KeyPolicy::check_published(&swapped).is_err());
    }
}
