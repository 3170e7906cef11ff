//! What a command that touches the service's state starts from: logging, the configuration
//! (the CLI's flags over the environment) and the stores, each set up once, in one place.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use tokenmint::config::StoreConfig;
use tokenmint::store::Stores;
use tokenmint::telemetry::{self, Sink};
use tokenmint::{Config, setup};

use crate::error::Result;

/// The issuer the administrative commands configure when none is set: the one `serve` uses
/// on its default address.
const DEFAULT_ISSUER: &str = "http://127.0.0.1:8080";

/// The CLI's flags that stand for environment variables. Each one set takes the place of its
/// variable; the others are read from the environment.
pub struct Flags {
    /// `TOKENMINT_DATA`; clap already falls back to the variable and to `.tokenmint`.
    pub data: PathBuf,
    /// `TOKENMINT_ISSUER`, defaulting to [`DEFAULT_ISSUER`].
    pub issuer: Option<String>,
    /// `TOKENMINT_HOOK` and `TOKENMINT_HOOK_SECRET`.
    pub hook: Option<String>,
    pub hook_secret: Option<String>,
}

impl Flags {
    /// The flags of a command that has only `--data`.
    pub fn data(data: &Path) -> Self {
        Self {
            data: data.to_owned(),
            issuer: None,
            hook: None,
            hook_secret: None,
        }
    }

    /// A configuration lookup: these flags over `base`.
    fn over<'a>(
        &'a self,
        base: impl Fn(&str) -> Option<String> + 'a,
    ) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| match k {
            "TOKENMINT_DATA" => Some(self.data.display().to_string()),
            "TOKENMINT_ISSUER" => self
                .issuer
                .clone()
                .or_else(|| base(k))
                .or_else(|| Some(DEFAULT_ISSUER.into())),
            "TOKENMINT_HOOK" => self.hook.clone().or_else(|| base(k)),
            "TOKENMINT_HOOK_SECRET" => self.hook_secret.clone().or_else(|| base(k)),
            _ => base(k),
        }
    }
}

/// The configuration and stores of one command, and the log it writes to.
pub struct Context {
    pub config: Arc<Config>,
    pub stores: Stores,
    _log: telemetry::Guard,
}

impl Context {
    /// Starts logging to `sink`, reads the configuration and opens its stores.
    pub async fn open(flags: &Flags, sink: Sink) -> Result<Self> {
        let (config, log) = configure(flags, sink)?;
        let stores = setup::open_stores(&config).await?;
        Ok(Self {
            config: Arc::new(config),
            stores,
            _log: log,
        })
    }
}

/// Starts logging to `sink` and reads the configuration, without opening the stores: for
/// `store init`, which creates them. Keep the guard for as long as the command logs.
pub fn configure(flags: &Flags, sink: Sink) -> Result<(Config, telemetry::Guard)> {
    let log = telemetry::init(sink);
    let config = Config::from_lookup(flags.over(|k| std::env::var(k).ok()))?;
    // SqliteStore::open logs this too, but RUST_LOG may filter it out, and `serve` writes its
    // log to standard output.
    if let StoreConfig::Sqlite(path) = &config.store {
        if let Some(warning) = tokenmint::store::sqlite::permission_warning(path) {
            eprintln!("warning: {warning}");
        }
    }
    Ok((config, log))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn env(pairs: &[(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        let vars: HashMap<_, _> = pairs.iter().copied().collect();
        move |k| vars.get(k).map(|v| (*v).to_owned())
    }

    #[test]
    fn flags_take_the_place_of_their_variables() {
        let flags = Flags {
            issuer: Some("https://flag.example".into()),
            hook: Some("default".into()),
            ..Flags::data(Path::new("/d"))
        };
        let get = flags.over(env(&[
            ("TOKENMINT_DATA", "/env"),
            ("TOKENMINT_ISSUER", "https://env.example"),
            ("TOKENMINT_HOOK", "https://hook.example"),
            ("TOKENMINT_HOOK_SECRET", "from the environment"),
            ("TOKENMINT_MAX_TTL", "1h"),
        ]));
        assert_eq!(get("TOKENMINT_DATA").as_deref(), Some("/d"));
        assert_eq!(
            get("TOKENMINT_ISSUER").as_deref(),
            Some("https://flag.example")
        );
        assert_eq!(get("TOKENMINT_HOOK").as_deref(), Some("default"));
        assert_eq!(
            get("TOKENMINT_HOOK_SECRET").as_deref(),
            Some("from the environment")
        );
        assert_eq!(get("TOKENMINT_MAX_TTL").as_deref(), Some("1h"));
    }

    #[test]
    fn without_flags_the_environment_or_the_default_issuer_holds() {
        let flags = Flags::data(Path::new("/d"));
        let get = flags.over(env(&[("TOKENMINT_HOOK", "lambda:arn")]));
        assert_eq!(get("TOKENMINT_ISSUER").as_deref(), Some(DEFAULT_ISSUER));
        assert_eq!(get("TOKENMINT_HOOK").as_deref(), Some("lambda:arn"));
        assert_eq!(get("TOKENMINT_HOOK_SECRET"), None);
        let config = Config::from_lookup(flags.over(env(&[]))).unwrap();
        assert_eq!(
            config.store,
            StoreConfig::Sqlite(Path::new("/d").join("tokenmint.db"))
        );
    }
}
