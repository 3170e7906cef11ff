//! Federated credentials (docs/federation.md): a client authenticates with the OIDC token its
//! platform already gives it (GitHub Actions, GitLab CI, Kubernetes, AWS), presented as an RFC
//! 7523 §2.2 client assertion, when the token's issuer is the credential's and its claims
//! satisfy the credential's CEL condition.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use super::ClaimMapping;
use crate::clock::UnixTime;

/// The most federated credentials one client holds: each is tried in turn on every request.
pub const MAX_CREDENTIALS: usize = 32;

/// One federated credential of a client.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FederatedCredential {
    /// Names the credential within its client: `[A-Za-z0-9._-]{1,64}`.
    pub name: String,
    /// The exact `iss` of the platform's tokens; its keys come from its discovery document.
    pub issuer: String,
    /// Which guard rails the condition was checked against when it was added.
    pub profile: FederationProfile,
    /// A CEL expression over the verified payload, `claims`; the token authenticates only if
    /// it evaluates to `true`.
    pub condition: String,
    /// The `aud` the platform's tokens must carry. None: tokenmint's issuer identifier, as the
    /// endpoint that checks the token sees it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token_audience: Option<String>,
    /// Platform claims copied, under the claims namespace, into client-credentials tokens.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_map: Vec<ClaimMapping>,
    pub created_at: UnixTime,
}

/// Checks a credential name: `[A-Za-z0-9._-]{1,64}`.
pub fn valid_credential_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The platforms whose tokens tokenmint knows, with the guard rails of each.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FederationProfile {
    /// `https://token.actions.githubusercontent.com` (or a GitHub Enterprise issuer).
    GithubActions,
    /// `https://gitlab.com` (or a self-managed GitLab).
    GitlabCi,
    /// A cluster's service-account token issuer.
    Kubernetes,
    /// Any other OIDC issuer.
    Generic,
}

/// The issuer of GitHub Actions' OIDC tokens.
pub const GITHUB_ACTIONS_ISSUER: &str = "https://token.actions.githubusercontent.com";
/// The issuer of GitLab.com's CI ID tokens.
pub const GITLAB_COM_ISSUER: &str = "https://gitlab.com";

impl FederationProfile {
    pub const ALL: [Self; 4] = [
        Self::GithubActions,
        Self::GitlabCi,
        Self::Kubernetes,
        Self::Generic,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            Self::GithubActions => "github-actions",
            Self::GitlabCi => "gitlab-ci",
            Self::Kubernetes => "kubernetes",
            Self::Generic => "generic",
        }
    }

    /// The profile of a public shared issuer, when `issuer` is one.
    pub fn of_issuer(issuer: &str) -> Option<Self> {
        let i = issuer.trim_end_matches('/');
        // GitHub Enterprise Cloud's customised issuers are paths under the public one.
        if i == GITHUB_ACTIONS_ISSUER
            || i.strip_prefix(GITHUB_ACTIONS_ISSUER)
                .is_some_and(|r| r.starts_with('/'))
        {
            return Some(Self::GithubActions);
        }
        (i == GITLAB_COM_ISSUER).then_some(Self::GitlabCi)
    }

    /// Claims holding immutable ids, one of which a condition on this profile must bind:
    /// anyone can obtain a token from a shared issuer, and a name can be re-registered by
    /// someone else once its owner renames or deletes it.
    pub const fn immutable_ids(self) -> &'static [&'static str] {
        match self {
            Self::GithubActions => &["repository_id", "repository_owner_id"],
            Self::GitlabCi => &["project_id", "namespace_id"],
            Self::Kubernetes | Self::Generic => &[],
        }
    }
}

impl FromStr for FederationProfile {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| {
                format!("profile {s:?}: expected github-actions, gitlab-ci, kubernetes or generic")
            })
    }
}

impl fmt::Display for FederationProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profiles_by_name_and_issuer() {
        for p in FederationProfile::ALL {
            assert_eq!(p.as_str().parse::<FederationProfile>(), Ok(p));
            let json = serde_json::to_string(&p).unwrap();
            assert_eq!(json, format!("\"{p}\""));
        }
        assert!("github".parse::<FederationProfile>().is_err());
        assert_eq!(
            FederationProfile::of_issuer("https://token.actions.githubusercontent.com/"),
            Some(FederationProfile::GithubActions)
        );
        assert_eq!(
            FederationProfile::of_issuer("https://gitlab.com"),
            Some(FederationProfile::GitlabCi)
        );
        assert_eq!(FederationProfile::of_issuer("https://gitlab.example"), None);
    }

    #[test]
    fn credential_names() {
        assert!(valid_credential_name("github-actions.main_2"));
        for bad in ["", "a b", "a/b", &"x".repeat(65)] {
            assert!(!valid_credential_name(bad), "{bad:?}");
        }
    }
}
