//! The one place that reads the system clock. Everything else asks an injected [`Clock`].

use std::time::{SystemTime, UNIX_EPOCH};

/// Seconds since the Unix epoch, the unit of every JWT time claim (RFC 7519 §2 NumericDate).
pub type UnixTime = u64;

/// A source of the current time.
pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now(&self) -> UnixTime;
}

/// The system wall clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> UnixTime {
        // A clock before 1970 is a broken host; treating it as the epoch makes every token
        // look expired, which fails closed.
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to; for tests and simulations (test support).
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug)]
pub struct ManualClock(std::sync::atomic::AtomicU64);

#[cfg(any(test, feature = "test-support"))]
impl ManualClock {
    pub fn new(start: UnixTime) -> Self {
        Self(std::sync::atomic::AtomicU64::new(start))
    }

    pub fn set(&self, t: UnixTime) {
        self.0.store(t, std::sync::atomic::Ordering::SeqCst);
    }

    pub fn advance(&self, secs: u64) {
        self.0.fetch_add(secs, std::sync::atomic::Ordering::SeqCst);
    }
}

#[cfg(any(test, feature = "test-support"))]
impl Clock for ManualClock {
    fn now(&self) -> UnixTime {
        self.0.load(std::sync::atomic::Ordering::SeqCst)
    }
}
