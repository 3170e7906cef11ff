//! Signing-key rotation.
//!
//! Each run takes at most these steps, in order, and is safe to repeat or to race (every
//! change is conditional: [`KeyStore::transition`], [`KeyStore::remove_retired_key`]):
//! 0. **Remove** the records of keys retired in an earlier run once [`Schedule::publish_lead`]
//!    has passed since they could retire, so the key-ring query stays small. Nothing verifies
//!    with a retired key; a KMS key whose record is removed can still come round again as a
//!    next key (it is registered afresh from KMS).
//! 1. **Retire** retiring keys whose tokens have all expired: unpublished.
//! 2. **Promote** a next key published for at least [`Schedule::publish_lead`]: it signs from
//!    now on, and the active key becomes retiring for [`Schedule::retire_lag`].
//! 3. **Publish** a next key when none is waiting and the active key is due (or when forced):
//!    it appears in the JWKS before it signs anything.
//!
//! Verifiers therefore always know a key before they see tokens signed with it (API Gateway's
//! JWT authorizers cache keys for two hours), and tokens signed by a retiring key keep
//! verifying until they expire.

use serde::Serialize;

use crate::clock::UnixTime;
use crate::config::Config;
use crate::domain::{KeyRecord, KeyStatus};
use crate::signer::{NextKey, SignError};
use crate::store::{KeyChange, KeyStore, StoreError};

/// API Gateway HTTP API JWT authorizers cache a JWKS for up to two hours.
pub const AUTHORIZER_KEY_CACHE_SECS: u64 = 2 * 3600;

/// The timing of rotation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Schedule {
    /// How long a next key is published before it signs: max(JWKS max-age, 2 h).
    pub publish_lead: u64,
    /// How long a retired-from-signing key stays published: the longest lifetime any token it
    /// signs can have (an access token's `TOKENMINT_MAX_TTL`, an exchanged token's
    /// `TOKENMINT_MAX_EXCHANGE_TTL`, which bounds refreshed ones too) plus the validation leeway.
    pub retire_lag: u64,
    /// The age at which an active key is replaced (`TOKENMINT_KEY_ROTATION_PERIOD`).
    pub period: u64,
}

impl Schedule {
    pub fn from_config(c: &Config) -> Self {
        Self {
            publish_lead: c.jwks_max_age.as_secs().max(AUTHORIZER_KEY_CACHE_SECS),
            retire_lag: c.longest_token_ttl().saturating_add(c.leeway.as_secs()),
            period: c.key_rotation_period.as_secs(),
        }
    }
}

/// What a rotation run did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// A retired key's record was deleted.
    Removed {
        kid: String,
    },
    Retired {
        kid: String,
    },
    Promoted {
        kid: String,
        previous: Option<String>,
    },
    Published {
        kid: String,
    },
    /// A fresh registry got its first active key.
    Registered {
        kid: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Signer(#[from] SignError),
    #[error("{0}")]
    NoNextKey(String),
}

/// Runs one rotation. `force` publishes a next key even if the active one is not yet due.
pub async fn rotate(
    keys: &dyn KeyStore,
    source: &dyn NextKey,
    schedule: &Schedule,
    now: UnixTime,
    force: bool,
) -> Result<Vec<Step>, RotationError> {
    let mut records = keys.list_keys().await?;
    let mut steps = remove_retired(keys, &mut records, schedule, now).await;
    steps.extend(retire(keys, &records, now).await?);

    let active = records.iter().find(|k| k.status == KeyStatus::Active);
    let next = records.iter().find(|k| k.status == KeyStatus::Next);
    if active.is_none() {
        steps.push(start(keys, source, schedule, &records, next, now).await?);
        return Ok(steps);
    }
    if let Some(next) = next {
        let published = next.published_at.unwrap_or(next.created_at);
        if now >= published.saturating_add(schedule.publish_lead) {
            steps.push(promote(keys, schedule, next, active, now).await?);
        }
        return Ok(steps);
    }

    let due = active.is_none_or(|a| {
        let since = a.activated_at.unwrap_or(a.created_at);
        now.saturating_add(schedule.publish_lead) >= since.saturating_add(schedule.period)
    });
    if force || due {
        steps.push(publish(keys, source, &records, now).await?);
    }
    Ok(steps)
}

/// Deletes the records of keys that were already retired when the run began and could retire
/// at least [`Schedule::publish_lead`] ago, and drops them from `records`. Best effort: a
/// failed delete is logged and tried again next run.
async fn remove_retired(
    keys: &dyn KeyStore,
    records: &mut Vec<KeyRecord>,
    schedule: &Schedule,
    now: UnixTime,
) -> Vec<Step> {
    let old: Vec<String> = records
        .iter()
        .filter(|k| k.status == KeyStatus::Retired)
        .filter(|k| {
            let since = k.retire_after.unwrap_or(k.created_at);
            since.saturating_add(schedule.publish_lead) <= now
        })
        .map(|k| k.kid.clone())
        .collect();
    let mut steps = Vec::new();
    for kid in old {
        match keys.remove_retired_key(&kid).await {
            Ok(true) => {
                crate::audit!("signing_key_removed", kid = %kid);
                records.retain(|k| k.kid != kid);
                steps.push(Step::Removed { kid });
            }
            // Changed or removed by a concurrent run.
            Ok(false) => {}
            Err(e) => tracing::warn!(kid = %kid, error = %e, "removing a retired key failed"),
        }
    }
    steps
}

/// Unpublishes retiring keys whose tokens have all expired.
async fn retire(
    keys: &dyn KeyStore,
    records: &[KeyRecord],
    now: UnixTime,
) -> Result<Vec<Step>, RotationError> {
    let done: Vec<KeyChange> = records
        .iter()
        .filter(|k| k.status == KeyStatus::Retiring && k.retire_after.is_some_and(|t| t <= now))
        .map(|k| change(k, KeyStatus::Retired, |_| {}))
        .collect();
    if !done.is_empty() {
        keys.transition(&done).await?;
    }
    Ok(done
        .into_iter()
        .map(|c| Step::Retired { kid: c.record.kid })
        .collect())
}

/// The next key signs from now on; the active key, if any, becomes retiring.
async fn promote(
    keys: &dyn KeyStore,
    schedule: &Schedule,
    next: &KeyRecord,
    active: Option<&KeyRecord>,
    now: UnixTime,
) -> Result<Step, RotationError> {
    let mut changes = vec![change(next, KeyStatus::Active, |k| {
        k.activated_at = Some(now);
        k.retire_lag = Some(schedule.retire_lag);
    })];
    if let Some(active) = active {
        // The longer of the lag when it began to sign and today's: tokens it signed
        // under a cap since lowered still verify until they expire.
        let lag = active.retire_lag.unwrap_or(0).max(schedule.retire_lag);
        changes.push(change(active, KeyStatus::Retiring, |k| {
            k.retire_after = Some(now.saturating_add(lag));
        }));
    }
    keys.transition(&changes).await?;
    crate::audit!("signing_key_promoted", kid = %next.kid);
    Ok(Step::Promoted {
        kid: next.kid.clone(),
        previous: active.map(|a| a.kid.clone()),
    })
}

/// Publishes the source's next key: new, or a retired one coming round again.
async fn publish(
    keys: &dyn KeyStore,
    source: &dyn NextKey,
    records: &[KeyRecord],
    now: UnixTime,
) -> Result<Step, RotationError> {
    let mut record = source.next_key(records, now).await?;
    record.status = KeyStatus::Next;
    record.published_at = Some(now);
    record.activated_at = None;
    record.retire_after = None;
    let expected = records
        .iter()
        .find(|k| k.kid == record.kid)
        .map(|k| k.status);
    if expected.is_some_and(|s| s != KeyStatus::Retired) {
        return Err(RotationError::NoNextKey(format!(
            "key {} is still in use; it cannot be the next key",
            record.kid
        )));
    }
    let kid = record.kid.clone();
    keys.transition(&[KeyChange { expected, record }]).await?;
    crate::audit!("signing_key_published", kid = %kid);
    Ok(Step::Published { kid })
}

/// A registry without an active key (rotation ran before any function started): nothing has
/// been signed, so a key signs at once, exactly as a starting token function would make it. A
/// next key waiting is promoted; otherwise the source's key is registered.
async fn start(
    keys: &dyn KeyStore,
    source: &dyn NextKey,
    schedule: &Schedule,
    records: &[KeyRecord],
    next: Option<&KeyRecord>,
    now: UnixTime,
) -> Result<Step, RotationError> {
    let activate = |k: &mut KeyRecord| {
        k.activated_at = Some(now);
        k.retire_lag = Some(schedule.retire_lag);
    };
    if let Some(next) = next {
        keys.transition(&[change(next, KeyStatus::Active, activate)])
            .await?;
        crate::audit!("signing_key_promoted", kid = %next.kid);
        return Ok(Step::Promoted {
            kid: next.kid.clone(),
            previous: None,
        });
    }
    let mut record = source.next_key(records, now).await?;
    record.status = KeyStatus::Active;
    record.published_at = Some(now);
    record.retire_after = None;
    activate(&mut record);
    let active = keys.init_active_key(&record).await?;
    crate::audit!("signing_key_registered", kid = %active.kid, alg = %active.alg);
    Ok(Step::Registered { kid: active.kid })
}

fn change(k: &KeyRecord, to: KeyStatus, edit: impl FnOnce(&mut KeyRecord)) -> KeyChange {
    let mut record = k.clone();
    record.status = to;
    edit(&mut record);
    KeyChange {
        expected: Some(k.status),
        record,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Algorithm;
    use crate::signer::local::LocalNextKey;
    use crate::store::memory::MemoryStore;
    use async_trait::async_trait;

    const H: u64 = 3600;

    fn schedule() -> Schedule {
        Schedule {
            publish_lead: 2 * H,
            retire_lag: 25 * H,
            period: 30 * 24 * H,
        }
    }

    fn statuses(keys: &[KeyRecord]) -> Vec<KeyStatus> {
        keys.iter().map(|k| k.status).collect()
    }

    #[tokio::test]
    async fn a_rotation_before_any_start_gives_the_registry_a_key_that_signs() {
        let s = schedule();
        let source = LocalNextKey(Algorithm::ES256);
        // An empty registry: the run registers an active key, as a starting function would.
        let store = MemoryStore::new();
        let steps = rotate(&store, &source, &s, 100, false).await.unwrap();
        let [Step::Registered { kid }] = steps.as_slice() else {
            panic!("{steps:?}");
        };
        let keys = store.list_keys().await.unwrap();
        assert_eq!(statuses(&keys), [KeyStatus::Active]);
        assert_eq!(&keys[0].kid, kid);
        assert_eq!(keys[0].retire_lag, Some(s.retire_lag));
        // A next key waiting with none active (what an earlier run left): promoted at once.
        let store = MemoryStore::new();
        let waiting = source.next_key(&[], 0).await.unwrap();
        store
            .transition(&[KeyChange {
                expected: None,
                record: waiting.clone(),
            }])
            .await
            .unwrap();
        let steps = rotate(&store, &source, &s, 100, false).await.unwrap();
        assert!(
            matches!(steps.as_slice(), [Step::Promoted { kid, previous: None }] if *kid == waiting.kid),
            "{steps:?}"
        );
        assert_eq!(
            statuses(&store.list_keys().await.unwrap()),
            [KeyStatus::Active]
        );
    }

    #[tokio::test]
    async fn a_full_rotation_in_three_runs() {
        let store = MemoryStore::new();
        let source = LocalNextKey(Algorithm::ES256);
        let first = source.next_key(&[], 0).await.unwrap();
        store
            .init_active_key(&KeyRecord {
                status: KeyStatus::Active,
                activated_at: Some(0),
                ..first.clone()
            })
            .await
            .unwrap();
        let s = schedule();

        // Not due yet: nothing happens unless forced.
        assert!(
            rotate(&store, &source, &s, 10 * H, false)
                .await
                .unwrap()
                .is_empty()
        );
        // Due (period minus the lead): a next key is published, not yet signing.
        let t1 = s.period - s.publish_lead;
        let steps = rotate(&store, &source, &s, t1, false).await.unwrap();
        assert!(matches!(steps.as_slice(), [Step::Published { .. }]));
        assert_eq!(
            statuses(&store.list_keys().await.unwrap()),
            [KeyStatus::Active, KeyStatus::Next]
        );
        // Before the lead has passed, it is not promoted, and no second key is published.
        assert!(
            rotate(&store, &source, &s, t1 + s.publish_lead - 1, true)
                .await
                .unwrap()
                .is_empty()
        );
        // After the lead: promoted; the old key retires later.
        let t2 = t1 + s.publish_lead;
        let steps = rotate(&store, &source, &s, t2, false).await.unwrap();
        assert!(matches!(
            steps.as_slice(),
            [Step::Promoted {
                previous: Some(_),
                ..
            }]
        ));
        let keys = store.list_keys().await.unwrap();
        assert_eq!(statuses(&keys), [KeyStatus::Retiring, KeyStatus::Active]);
        assert_eq!(keys[0].retire_after, Some(t2 + s.retire_lag));
        // The retiring key stays published until every token it signed has expired.
        assert!(
            rotate(&store, &source, &s, t2 + s.retire_lag - 1, false)
                .await
                .unwrap()
                .is_empty()
        );
        let steps = rotate(&store, &source, &s, t2 + s.retire_lag, false)
            .await
            .unwrap();
        assert!(matches!(steps.as_slice(), [Step::Retired { .. }]));
        assert_eq!(
            statuses(&store.list_keys().await.unwrap()),
            [KeyStatus::Retired, KeyStatus::Active]
        );
        // Retired for the publish lead, its record is removed.
        let t3 = t2 + s.retire_lag;
        assert!(
            rotate(&store, &source, &s, t3 + s.publish_lead - 1, false)
                .await
                .unwrap()
                .is_empty()
        );
        let steps = rotate(&store, &source, &s, t3 + s.publish_lead, false)
            .await
            .unwrap();
        assert!(
            matches!(steps.as_slice(), [Step::Removed { kid }] if *kid == first.kid),
            "{steps:?}"
        );
        assert_eq!(
            statuses(&store.list_keys().await.unwrap()),
            [KeyStatus::Active]
        );
    }

    /// Next keys from a fixed set, the first not in use, as [`crate::signer::kms::KmsNextKey`]
    /// picks among the configured KMS keys.
    struct FixedKeys(Vec<KeyRecord>);

    #[async_trait]
    impl NextKey for FixedKeys {
        async fn next_key(
            &self,
            existing: &[KeyRecord],
            now: UnixTime,
        ) -> Result<KeyRecord, SignError> {
            let in_use = |kid: &str| {
                existing
                    .iter()
                    .any(|k| k.kid == kid && k.status != KeyStatus::Retired)
            };
            let k = self.0.iter().find(|k| !in_use(&k.kid));
            let k = k.ok_or_else(|| SignError::NoNextKey("all in use".into()))?;
            Ok(KeyRecord {
                created_at: now,
                ..k.clone()
            })
        }
    }

    #[tokio::test]
    async fn a_key_comes_round_again_whether_or_not_its_record_was_removed() {
        let s = schedule();
        let (a, b) = (
            LocalNextKey(Algorithm::ES256)
                .next_key(&[], 0)
                .await
                .unwrap(),
            LocalNextKey(Algorithm::ES256)
                .next_key(&[], 0)
                .await
                .unwrap(),
        );
        let source = FixedKeys(vec![a.clone(), b.clone()]);
        let store = MemoryStore::new();
        let mut t = 0;
        rotate(&store, &source, &s, t, false).await.unwrap();
        let active = |keys: Vec<KeyRecord>| {
            keys.into_iter()
                .find(|k| k.status == KeyStatus::Active)
                .map(|k| k.kid)
        };
        let mut signed = vec![active(store.list_keys().await.unwrap()).unwrap()];
        // Four rotations, each publishing the key that has just retired, whose record is
        // still there: a, b, a, b, a sign in turn.
        for _ in 0..4 {
            let steps = rotate(&store, &source, &s, t, true).await.unwrap();
            assert!(
                matches!(steps.as_slice(), [Step::Published { .. }]),
                "{steps:?}"
            );
            t += s.publish_lead;
            rotate(&store, &source, &s, t, false).await.unwrap();
            t += s.retire_lag;
            let steps = rotate(&store, &source, &s, t, false).await.unwrap();
            assert!(
                matches!(steps.as_slice(), [Step::Retired { .. }]),
                "{steps:?}"
            );
            signed.push(active(store.list_keys().await.unwrap()).unwrap());
        }
        assert_eq!(
            signed,
            [&a.kid, &b.kid, &a.kid, &b.kid, &a.kid].map(String::clone)
        );
        // A retired record removed before its key comes round: registered afresh.
        t += s.publish_lead;
        let steps = rotate(&store, &source, &s, t, true).await.unwrap();
        assert!(
            matches!(steps.as_slice(), [Step::Removed { kid }, Step::Published { kid: next }]
                if *kid == b.kid && *next == b.kid),
            "{steps:?}"
        );
        t += s.publish_lead;
        rotate(&store, &source, &s, t, false).await.unwrap();
        assert_eq!(
            active(store.list_keys().await.unwrap()),
            Some(b.kid.clone())
        );
    }

    #[test]
    fn the_publish_lead_covers_authorizer_caches() {
        let mut c = Config::from_lookup(|_| None).unwrap();
        assert_eq!(Schedule::from_config(&c).publish_lead, 2 * H);
        c.jwks_max_age = std::time::Duration::from_secs(3 * H);
        assert_eq!(Schedule::from_config(&c).publish_lead, 3 * H);
        // Exchanged tokens live longest by default: 7 days.
        assert_eq!(
            Schedule::from_config(&c).retire_lag,
            (c.max_exchange_ttl + c.leeway).as_secs()
        );
        c.max_exchange_ttl = std::time::Duration::from_secs(H);
        assert_eq!(
            Schedule::from_config(&c).retire_lag,
            c.max_ttl.as_secs() + c.leeway.as_secs()
        );
    }
}
