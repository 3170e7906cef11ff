/// A configuration value that could not be used. The message names the variable; the error
/// that made the value unusable, if any, is kept as the [`std::error::Error::source`].
#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct ConfigError {
    message: String,
    #[source]
    source: Option<Box<dyn std::error::Error + Send + Sync>>,
}

impl ConfigError {
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            source: None,
        }
    }

    /// A refusal of a value because of `source`.
    pub fn caused(
        message: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        Self {
            message: message.into(),
            source: Some(source.into()),
        }
    }
}

impl From<crate::domain::InvalidIssuer> for ConfigError {
    fn from(e: crate::domain::InvalidIssuer) -> Self {
        Self::caused(e.to_string(), e)
    }
}
