/// A configuration value that could not be used. The message names the variable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

impl From<crate::domain::InvalidIssuer> for ConfigError {
    fn from(e: crate::domain::InvalidIssuer) -> Self {
        Self(e.0)
    }
}
