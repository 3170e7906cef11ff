//! Configuration as code: make the store match a file of clients, trusted issuers and step-up
//! rules ([`file::Document`]), or write the store as such a file. Delegations are business
//! data and stay out.
//!
//! [`plan`] reads the store and checks the whole file before anything is written; [`apply`]
//! then writes each entry in one conditional write (a client only if it is still the version
//! the plan read), so a failure part-way leaves no entry half-changed. Secrets never live in
//! the file: a new secret client's secret comes from [`Plan::issue_secrets`], once.

mod build;
pub mod file;

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::admin::AdminError;
use crate::clock::UnixTime;
use crate::config::Config;
use crate::domain::{Client, ClientId, ClientSecret, ScopeRule, SecretEntry, TrustedIssuer};
use crate::store::{StoreError, Stores};
use file::{ClientEntry, Document, IssuerEntry, ScopeEntry};

/// What the store needs to match the file, in the order it is written.
#[derive(Debug, Default)]
pub struct Plan {
    changes: Vec<Change>,
}

#[derive(Debug)]
struct Change {
    /// `+`, `~` or `-`.
    sign: char,
    /// `client SOME-ID`, `issuer URL`, `scope NAME`.
    entry: String,
    /// The fields a `~` changes.
    fields: Vec<String>,
    action: Action,
}

#[derive(Debug)]
enum Action {
    CreateClient(Client),
    UpdateClient(Client),
    DeleteClient(ClientId, u64),
    PutIssuer(TrustedIssuer),
    RemoveIssuer(String),
    PutScope(ScopeRule),
    RemoveScope(String),
}

impl Plan {
    /// One line per change: `+ client a`, `~ client b: scope, audience`, `- scope c`.
    pub fn lines(&self) -> Vec<String> {
        self.changes
            .iter()
            .map(|c| match c.fields.is_empty() {
                true => format!("{} {}", c.sign, c.entry),
                false => format!("{} {}: {}", c.sign, c.entry, c.fields.join(", ")),
            })
            .collect()
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// The new clients that authenticate with a secret (no keys, no federated credential).
    pub fn secret_clients(&self) -> Vec<&ClientId> {
        self.changes
            .iter()
            .filter_map(|c| match &c.action {
                Action::CreateClient(new) if needs_secret(new) => Some(&new.id),
                _ => None,
            })
            .collect()
    }

    /// Makes the secret of every new secret client: the plan keeps only its hash.
    pub fn issue_secrets(&mut self, now: UnixTime) -> Vec<(ClientId, ClientSecret)> {
        let mut issued = Vec::new();
        for c in &mut self.changes {
            if let Action::CreateClient(new) = &mut c.action {
                if needs_secret(new) && new.secrets.is_empty() {
                    let secret = ClientSecret::generate();
                    new.secrets.push(SecretEntry {
                        hash: secret.hash(),
                        created_at: now,
                        expires_at: None,
                    });
                    issued.push((new.id.clone(), secret));
                }
            }
        }
        issued
    }
}

fn needs_secret(c: &Client) -> bool {
    c.keys.is_none() && c.federated.is_empty()
}

/// Checks the whole of `doc` and compares it with the store. Entries in the store but not in
/// the file are deleted only with `prune`.
pub async fn plan(
    stores: &Stores,
    config: &Config,
    doc: &Document,
    prune: bool,
    now: UnixTime,
) -> Result<Plan, AdminError> {
    let store = |e: StoreError| AdminError::Store(e);
    let mut plan = Plan::default();
    let existing = stores.clients.list_clients().await.map_err(store)?;
    plan_clients(&mut plan, config, doc, existing, prune, now)?;
    let existing = stores.issuers.list_issuers().await.map_err(store)?;
    plan_issuers(&mut plan, config, doc, existing, prune, now)?;
    let existing = stores.scope_rules.list_scope_rules().await.map_err(store)?;
    plan_scopes(&mut plan, doc, existing, prune, now)?;
    // Deletions last: a run cut short has then at least added what the file adds.
    plan.changes.sort_by_key(|c| c.sign == '-');
    Ok(plan)
}

fn plan_clients(
    plan: &mut Plan,
    config: &Config,
    doc: &Document,
    existing: Vec<Client>,
    prune: bool,
    now: UnixTime,
) -> Result<(), AdminError> {
    let mut stored: BTreeMap<String, Client> = existing
        .into_iter()
        .map(|c| (c.id.to_string(), c))
        .collect();
    unique(doc.clients.iter().map(|c| c.id.as_str()), "client")?;
    for e in &doc.clients {
        let target = build::client(config, e, now)?;
        let entry = format!("client {}", e.id);
        let Some(old) = stored.remove(&e.id) else {
            plan.push('+', entry, vec![], Action::CreateClient(target));
            continue;
        };
        let fields = differing(&ClientEntry::of(&old), &ClientEntry::of(&target));
        if fields.is_empty() {
            continue;
        }
        let updated = updated_client(&entry, old, target)?;
        plan.push('~', entry, fields, Action::UpdateClient(updated));
    }
    if prune {
        for (id, c) in stored {
            plan.push(
                '-',
                format!("client {id}"),
                vec![],
                Action::DeleteClient(c.id, c.version),
            );
        }
    }
    Ok(())
}

/// The stored client with the file's fields: its secrets, creation time and the creation
/// times of unchanged credentials stay.
fn updated_client(entry: &str, old: Client, new: Client) -> Result<Client, AdminError> {
    let invalid = |m: &str| Err(AdminError::Invalid(format!("{entry}: {m}")));
    if old.keys.is_some() != new.keys.is_some() {
        return invalid(
            "jwks: a client's way of authenticating (a secret or public keys) cannot change; \
             delete the client and create it again",
        );
    }
    if old.secrets.is_empty() && needs_secret(&new) {
        return invalid(
            "federated: the client has no secret, and without a federated credential it could \
             not authenticate at all",
        );
    }
    let mut federated = new.federated;
    for f in &mut federated {
        let same = |o: &&crate::domain::FederatedCredential| {
            file::CredentialEntry::of(o) == file::CredentialEntry::of(f)
        };
        if let Some(o) = old.federated.iter().find(same) {
            f.created_at = o.created_at;
        }
    }
    Ok(Client {
        scopes: new.scopes,
        default_scopes: new.default_scopes,
        audiences: new.audiences,
        token_ttl: new.token_ttl,
        grants: new.grants,
        max_exchange_ttl: new.max_exchange_ttl,
        keys: new.keys,
        federated,
        introspect: new.introspect,
        hook: new.hook,
        attributes: new.attributes,
        disabled: new.disabled,
        version: old.version + 1,
        ..old
    })
}

fn plan_issuers(
    plan: &mut Plan,
    config: &Config,
    doc: &Document,
    existing: Vec<TrustedIssuer>,
    prune: bool,
    now: UnixTime,
) -> Result<(), AdminError> {
    unique(doc.issuers.iter().map(|i| i.issuer.as_str()), "issuer")?;
    let targets = doc
        .issuers
        .iter()
        .map(|e| build::issuer(config, e, now))
        .collect::<Result<Vec<_>, _>>()?;
    let declared: BTreeSet<String> = targets.iter().map(|t| t.issuer.clone()).collect();
    // The subject-prefix rule holds for the set that will be trusted afterwards.
    let kept: Vec<&TrustedIssuer> = existing
        .iter()
        .filter(|i| !prune && !declared.contains(&i.issuer))
        .collect();
    for t in &targets {
        let others: Vec<TrustedIssuer> = targets
            .iter()
            .filter(|o| o.issuer != t.issuer)
            .chain(kept.iter().copied())
            .cloned()
            .collect();
        crate::trust::check_prefixes(t.subject_prefix.as_deref(), &others)
            .map_err(|e| AdminError::Invalid(format!("issuer {}: {e}", t.issuer)))?;
    }
    for mut t in targets {
        let entry = format!("issuer {}", t.issuer);
        match existing.iter().find(|o| o.issuer == t.issuer) {
            None => plan.push('+', entry, vec![], Action::PutIssuer(t)),
            Some(old) => {
                let fields = differing(&IssuerEntry::of(old), &IssuerEntry::of(&t));
                if !fields.is_empty() {
                    t.created_at = old.created_at;
                    plan.push('~', entry, fields, Action::PutIssuer(t));
                }
            }
        }
    }
    if prune {
        for old in existing.iter().filter(|o| !declared.contains(&o.issuer)) {
            let entry = format!("issuer {}", old.issuer);
            plan.push('-', entry, vec![], Action::RemoveIssuer(old.issuer.clone()));
        }
    }
    Ok(())
}

fn plan_scopes(
    plan: &mut Plan,
    doc: &Document,
    existing: Vec<ScopeRule>,
    prune: bool,
    now: UnixTime,
) -> Result<(), AdminError> {
    unique(doc.scopes.iter().map(|s| s.scope.as_str()), "scope")?;
    for e in &doc.scopes {
        let t = build::scope(e, now)?;
        let entry = format!("scope {}", e.scope);
        match existing.iter().find(|o| o.scope == t.scope) {
            None => plan.push('+', entry, vec![], Action::PutScope(t)),
            Some(old) => {
                let fields = differing(&ScopeEntry::of(old), &ScopeEntry::of(&t));
                if !fields.is_empty() {
                    plan.push('~', entry, fields, Action::PutScope(t));
                }
            }
        }
    }
    if prune {
        for old in existing {
            let name = old.scope.as_str().to_owned();
            if !doc.scopes.iter().any(|e| e.scope == name) {
                plan.push(
                    '-',
                    format!("scope {name}"),
                    vec![],
                    Action::RemoveScope(name),
                );
            }
        }
    }
    Ok(())
}

impl Plan {
    fn push(&mut self, sign: char, entry: String, fields: Vec<String>, action: Action) {
        self.changes.push(Change {
            sign,
            entry,
            fields,
            action,
        });
    }
}

/// Each entry once.
fn unique<'a>(names: impl Iterator<Item = &'a str>, kind: &str) -> Result<(), AdminError> {
    let mut seen = BTreeSet::new();
    for n in names {
        if !seen.insert(n) {
            return Err(AdminError::Invalid(format!(
                "{kind} {n} is declared twice in the file"
            )));
        }
    }
    Ok(())
}

/// The names of the fields whose values differ, as the file spells them.
fn differing<T: Serialize>(old: &T, new: &T) -> Vec<String> {
    let as_map = |v: &T| match serde_json::to_value(v) {
        Ok(serde_json::Value::Object(m)) => m,
        _ => serde_json::Map::new(),
    };
    let (old, new) = (as_map(old), as_map(new));
    let keys: BTreeSet<&String> = old.keys().chain(new.keys()).collect();
    let mut fields: Vec<String> = keys
        .into_iter()
        .filter(|k| old.get(*k) != new.get(*k))
        .cloned()
        .collect();
    // In the file's order of fields rather than alphabetically would need the schema twice;
    // alphabetical is stable, which is what a plan diffed in review needs.
    fields.sort();
    fields
}

/// Writes the plan: creations and changes first, deletions last, each one conditional write.
/// The number of entries written.
pub async fn apply(stores: &Stores, plan: Plan) -> Result<usize, AdminError> {
    let store = AdminError::Store;
    let mut written = 0;
    for c in plan.changes {
        match c.action {
            Action::CreateClient(new) => {
                crate::admin::store_new(stores.clients.as_ref(), &new, new.id.as_str()).await?;
            }
            Action::UpdateClient(new) => {
                stores
                    .clients
                    .update_client(&new)
                    .await
                    .map_err(|e| raced(e, &new.id))?;
                let fields = c.fields.join(" ");
                crate::audit!("client_updated", client_id = %new.id, fields = %fields);
            }
            Action::DeleteClient(id, version) => {
                stores
                    .clients
                    .delete_client(&id, version)
                    .await
                    .map_err(|e| raced(e, &id))?;
                crate::audit!("client_deleted", client_id = %id);
            }
            Action::PutIssuer(i) => {
                stores.issuers.put_issuer(&i).await.map_err(store)?;
                crate::audit!("issuer_trusted", issuer = %i.issuer, jwks_uri = %i.jwks_uri);
            }
            Action::RemoveIssuer(i) => {
                stores.issuers.remove_issuer(&i).await.map_err(store)?;
                crate::audit!("issuer_removed", issuer = %i);
            }
            Action::PutScope(r) => {
                stores.scope_rules.put_scope_rule(&r).await.map_err(store)?;
                crate::audit!("scope_rule_set", scope = %r.scope.as_str(), acr = %r.acr.join(" "));
            }
            Action::RemoveScope(s) => {
                stores
                    .scope_rules
                    .remove_scope_rule(&s)
                    .await
                    .map_err(store)?;
                crate::audit!("scope_rule_removed", scope = %s);
            }
        }
        written += 1;
    }
    Ok(written)
}

fn raced(e: StoreError, id: &ClientId) -> AdminError {
    match e {
        StoreError::Conflict(_) | StoreError::NotFound(_) => AdminError::Raced(id.to_string()),
        other => AdminError::Store(other),
    }
}

/// The store as a file: every client (never a secret or its hash), trusted issuer and
/// step-up rule, each section in a stable order.
pub async fn export(stores: &Stores) -> Result<Document, AdminError> {
    let store = AdminError::Store;
    let mut clients = stores.clients.list_clients().await.map_err(store)?;
    clients.sort_by(|a, b| a.id.cmp(&b.id));
    let mut issuers = stores.issuers.list_issuers().await.map_err(store)?;
    issuers.sort_by(|a, b| a.issuer.cmp(&b.issuer));
    let mut scopes = stores.scope_rules.list_scope_rules().await.map_err(store)?;
    scopes.sort_by(|a, b| a.scope.as_str().cmp(b.scope.as_str()));
    Ok(Document {
        clients: clients.iter().map(ClientEntry::of).collect(),
        issuers: issuers.iter().map(IssuerEntry::of).collect(),
        scopes: scopes.iter().map(ScopeEntry::of).collect(),
    })
}
