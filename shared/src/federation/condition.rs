//! Conditions of federated credentials: CEL expressions over a verified platform token's
//! payload, bound to the one variable `claims` (docs/federation.md).
//!
//! The `cel` crate parses and evaluates but has no type checker, so a condition is checked
//! here when it is added: it parses, is at most [`MAX_CONDITION_BYTES`], names no variable but
//! `claims` (and the variables of its own macros), calls only the standard functions, has a
//! boolean result by its shape, and matches only literal patterns. A macro (`all`, `exists`,
//! …) iterates over one claim and its body sees only its own variables and literals: no other
//! macro, no claim. Those rules bound the cost of an evaluation by the size of the expression
//! times the size of the token (at most 16 KiB): CEL has no other loops.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use cel::common::ast::{EntryExpr, Expr, IdedExpr, LiteralValue, operators as op};
use cel::{Context, Env, Program, Value};
use serde_json::{Map, Value as Json};

use crate::domain::FederationProfile;

/// The longest condition accepted.
pub const MAX_CONDITION_BYTES: usize = 4096;
/// The name the verified payload is bound to.
pub const CLAIMS: &str = "claims";

/// Why a condition cannot be stored: one sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConditionError(pub String);

/// Calls of the CEL standard definitions whose result is a boolean, whatever their operands.
const BOOLEAN_CALLS: &[&str] = &[
    op::LOGICAL_AND,
    op::LOGICAL_OR,
    op::LOGICAL_NOT,
    op::EQUALS,
    op::NOT_EQUALS,
    op::LESS,
    op::LESS_EQUALS,
    op::GREATER,
    op::GREATER_EQUALS,
    op::IN,
    op::NOT_STRICTLY_FALSE,
    "contains",
    "startsWith",
    "endsWith",
    "matches",
    "bool",
];

/// The other standard functions and operators a condition may call.
const OTHER_CALLS: &[&str] = &[
    op::CONDITIONAL,
    op::ADD,
    op::SUBSTRACT,
    op::MULTIPLY,
    op::DIVIDE,
    op::MODULO,
    op::NEGATE,
    op::INDEX,
    "size",
    "int",
    "uint",
    "string",
    "double",
];

fn callable(name: &str) -> bool {
    BOOLEAN_CALLS.contains(&name) || OTHER_CALLS.contains(&name)
}

/// A compiled, checked condition.
pub struct Condition {
    program: Program,
    env: Arc<Env>,
    /// The top-level claims it reads, in the order written.
    reads: Vec<String>,
    /// Whether it uses `claims` as a whole (`size(claims)`, `claims.exists(…)`), not only
    /// claims of it by name: then the whole payload is bound, else only the claims it reads.
    whole: bool,
}

impl std::fmt::Debug for Condition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Condition")
            .field("reads", &self.reads)
            .finish_non_exhaustive()
    }
}

/// What an evaluation came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    True,
    /// Anything but `true`: `false`, another value, or an error (a missing claim, a type
    /// mismatch), with what it was.
    NotTrue(String),
}

impl Condition {
    /// The top-level claims the condition reads (`claims.x`, `claims["x"]`), each once.
    pub fn reads(&self) -> &[String] {
        &self.reads
    }

    /// Evaluates the condition over `claims`. Never panics on the token's content.
    pub fn evaluate(&self, claims: &Map<String, Json>) -> Outcome {
        // Converting the payload to CEL values is most of an evaluation's cost: convert only
        // what the condition can see.
        let converted = if self.whole {
            cel::to_value(claims)
        } else {
            let read: Map<String, Json> = self
                .reads
                .iter()
                .filter_map(|k| claims.get(k).map(|v| (k.clone(), v.clone())))
                .collect();
            cel::to_value(&read)
        };
        let value = match converted {
            Ok(v) => v,
            Err(e) => return Outcome::NotTrue(format!("the claims are not CEL values: {e}")),
        };
        let mut ctx = Context::with_env(Arc::clone(&self.env));
        ctx.add_variable_from_value(CLAIMS, value);
        match self.program.execute(&ctx) {
            Ok(Value::Bool(true)) => Outcome::True,
            Ok(Value::Bool(false)) => Outcome::NotTrue("false".into()),
            Ok(other) => Outcome::NotTrue(format!("a {}, not a boolean", other.type_of())),
            Err(e) => Outcome::NotTrue(format!("error: {e}")),
        }
    }

    /// Checks the profile's guard rail: on a shared issuer the condition must bind one of the
    /// profile's immutable ids with `==` or `in` at its top level, a conjunct every passing
    /// token satisfies.
    pub fn lint(&self, profile: FederationProfile) -> Result<(), ConditionError> {
        let ids = profile.immutable_ids();
        if ids.is_empty() {
            return Ok(());
        }
        let mut conjuncts = Vec::new();
        conjuncts_of(self.program.expression(), &mut conjuncts);
        if conjuncts.iter().any(|c| binds_one_of(c, ids)) {
            return Ok(());
        }
        let wanted = ids
            .iter()
            .map(|i| format!("claims.{i}"))
            .collect::<Vec<_>>()
            .join(" or ");
        Err(ConditionError(format!(
            "a {profile} condition must test {wanted} with == or in against string literals, \
             joined to the rest by && (for example claims.{} == \"123456\" && ...): anyone \
             can get a token from this issuer, and names can be re-registered by someone else",
            ids[0]
        )))
    }
}

/// Compiled conditions, by source, built once per process.
pub struct Conditions {
    env: Arc<Env>,
    compiled: Mutex<HashMap<String, Arc<Condition>>>,
}

/// The most compiled conditions kept; past it the cache starts over.
const MAX_CACHED: usize = 4096;

impl Default for Conditions {
    fn default() -> Self {
        Self::new()
    }
}

impl Conditions {
    pub fn new() -> Self {
        Self {
            env: Arc::new(Env::stdlib()),
            compiled: Mutex::new(HashMap::new()),
        }
    }

    /// The compiled form of `source`, compiled and checked on first use.
    pub fn get(&self, source: &str) -> Result<Arc<Condition>, ConditionError> {
        if let Some(c) = self.lock().get(source) {
            return Ok(Arc::clone(c));
        }
        let c = Arc::new(self.compile(source)?);
        let mut cache = self.lock();
        if cache.len() >= MAX_CACHED {
            cache.clear();
        }
        cache.insert(source.to_owned(), Arc::clone(&c));
        Ok(c)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Arc<Condition>>> {
        // The cache holds no invariant a panic could break: recover it.
        self.compiled.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Parses and checks `source` (see the module documentation).
    pub fn compile(&self, source: &str) -> Result<Condition, ConditionError> {
        let bad = |m: String| Err(ConditionError(m));
        if source.trim().is_empty() {
            return bad("the condition is empty".into());
        }
        if source.len() > MAX_CONDITION_BYTES {
            return bad(format!(
                "the condition is longer than {MAX_CONDITION_BYTES} bytes"
            ));
        }
        let program = match self.env.compile(source) {
            Ok(p) => p,
            Err(e) => {
                let first = e.errors.first().map_or_else(
                    || "a syntax error".to_owned(),
                    |e| format!("{} at line {}, column {}", e.msg, e.pos.0, e.pos.1 + 1),
                );
                return bad(format!("the condition is not valid CEL: {first}"));
            }
        };
        let mut walk = Walk::default();
        walk.expr(program.expression(), 0)?;
        if !is_boolean(program.expression()) {
            return bad(
                "the condition must be a boolean expression, such as a comparison or tests \
                 joined by && and ||"
                    .into(),
            );
        }
        Ok(Condition {
            program,
            env: Arc::clone(&self.env),
            reads: walk.reads,
            whole: walk.whole,
        })
    }
}

/// A walk over the expression that checks names, calls and nesting, and collects the claims
/// read.
#[derive(Default)]
struct Walk {
    /// Variables bound by the comprehensions around the current node.
    bound: Vec<String>,
    reads: Vec<String>,
    /// `claims` appeared other than as `claims.x` or `claims["x"]`.
    whole: bool,
}

impl Walk {
    fn expr(&mut self, e: &IdedExpr, depth: usize) -> Result<(), ConditionError> {
        let in_macro_body = depth > 0;
        let claims_here = claim_read(e).is_some()
            || matches!(&e.expr, Expr::Ident(n) if n == CLAIMS && !self.bound.contains(n));
        if in_macro_body && claims_here {
            return Err(ConditionError(
                "inside a macro (all, exists, exists_one, map, filter) the condition may use \
                 only the macro's variable and literals, not claims: that could cost too much \
                 to evaluate"
                    .into(),
            ));
        }
        if let Some(name) = claim_read(e) {
            if !self.reads.iter().any(|r| r == name) {
                self.reads.push(name.to_owned());
            }
            // Its operands are `claims` and a literal name: nothing more to check.
            return Ok(());
        }
        match &e.expr {
            Expr::Ident(name) if self.bound.contains(name) => Ok(()),
            Expr::Ident(name) if name == CLAIMS => {
                self.whole = true;
                Ok(())
            }
            Expr::Ident(name) => Err(ConditionError(format!(
                "the condition names {name:?}; the token's payload is {CLAIMS} (for example \
                 {CLAIMS}.sub)"
            ))),
            Expr::Call(call) => {
                if call.func_name == "matches"
                    && !matches!(
                        call.args.last().map(|a| &a.expr),
                        Some(Expr::Literal(LiteralValue::String(_)))
                    )
                {
                    return Err(ConditionError(
                        "matches() takes a literal pattern, such as \
                         claims.sub.matches(\"^repo:octo-org/[a-z-]+:ref:refs/heads/main$\")"
                            .into(),
                    ));
                }
                if !callable(&call.func_name) {
                    return Err(ConditionError(format!(
                        "the condition calls {:?}, which is not a standard CEL function \
                         tokenmint offers",
                        call.func_name
                    )));
                }
                if let Some(t) = &call.target {
                    self.expr(t, depth)?;
                }
                call.args.iter().try_for_each(|a| self.expr(a, depth))
            }
            Expr::Select(s) => self.expr(&s.operand, depth),
            Expr::List(l) => l.elements.iter().try_for_each(|x| self.expr(x, depth)),
            Expr::Map(m) => m.entries.iter().try_for_each(|entry| match &entry.expr {
                EntryExpr::MapEntry(me) => {
                    self.expr(&me.key, depth)?;
                    self.expr(&me.value, depth)
                }
                EntryExpr::StructField(f) => self.expr(&f.value, depth),
            }),
            Expr::Comprehension(c) => {
                if depth >= 1 {
                    return Err(ConditionError(
                        "the condition nests a macro (all, exists, exists_one, map, filter) \
                         inside another, which could cost too much to evaluate"
                            .into(),
                    ));
                }
                self.expr(&c.iter_range, depth)?;
                self.expr(&c.accu_init, depth)?;
                let before = self.bound.len();
                self.bound.push(c.iter_var.clone());
                self.bound.extend(c.iter_var2.clone());
                self.bound.push(c.accu_var.clone());
                for part in [&c.loop_cond, &c.loop_step, &c.result] {
                    self.expr(part, depth + 1)?;
                }
                self.bound.truncate(before);
                Ok(())
            }
            Expr::Literal(_) => Ok(()),
            Expr::Struct(_) | Expr::Unspecified => Err(ConditionError(
                "the condition builds a message type, which CEL over a token's claims has none of"
                    .into(),
            )),
        }
    }
}

/// `claims.x` or `claims["x"]`: the claim name.
fn claim_read(e: &IdedExpr) -> Option<&str> {
    match &e.expr {
        Expr::Select(s) if matches!(&s.operand.expr, Expr::Ident(n) if n == CLAIMS) => {
            Some(&s.field)
        }
        Expr::Call(c) if c.func_name == op::INDEX && c.args.len() == 2 => {
            match (&c.args[0].expr, &c.args[1].expr) {
                (Expr::Ident(n), Expr::Literal(LiteralValue::String(s))) if n == CLAIMS => {
                    Some(s.inner())
                }
                _ => None,
            }
        }
        _ => None,
    }
}

/// Whether the expression's shape makes its value a boolean.
fn is_boolean(e: &IdedExpr) -> bool {
    match &e.expr {
        Expr::Literal(LiteralValue::Boolean(_)) => true,
        Expr::Select(s) => s.test,
        Expr::Call(c) if c.func_name == op::CONDITIONAL && c.args.len() == 3 => {
            is_boolean(&c.args[1]) && is_boolean(&c.args[2])
        }
        Expr::Call(c) => BOOLEAN_CALLS.contains(&c.func_name.as_str()),
        // all, exists and exists_one end in a boolean; map and filter in a list.
        Expr::Comprehension(c) => is_boolean(&c.result) || is_boolean(&c.loop_step),
        _ => false,
    }
}

/// The operands of the top-level `&&`s.
fn conjuncts_of<'a>(e: &'a IdedExpr, out: &mut Vec<&'a IdedExpr>) {
    match &e.expr {
        Expr::Call(c) if c.func_name == op::LOGICAL_AND => {
            for a in &c.args {
                conjuncts_of(a, out);
            }
        }
        _ => out.push(e),
    }
}

/// `claims.id == "literal"` (either way round) or `claims.id in [literals]`, for one of `ids`.
fn binds_one_of(e: &IdedExpr, ids: &[&str]) -> bool {
    let Expr::Call(c) = &e.expr else {
        return false;
    };
    let is_id = |x: &IdedExpr| claim_read(x).is_some_and(|n| ids.contains(&n));
    // The ids of these platforms are strings in their tokens: a number never equals one.
    let is_literal = |x: &IdedExpr| matches!(x.expr, Expr::Literal(LiteralValue::String(_)));
    match (c.func_name.as_str(), c.args.as_slice()) {
        (op::EQUALS, [a, b]) => (is_id(a) && is_literal(b)) || (is_literal(a) && is_id(b)),
        (op::IN, [a, list]) => {
            is_id(a)
                && matches!(&list.expr, Expr::List(l) if !l.elements.is_empty() && l.elements.iter().all(is_literal))
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn compile(s: &str) -> Result<Condition, ConditionError> {
        Conditions::new().compile(s)
    }

    fn claims(v: Json) -> Map<String, Json> {
        match v {
            Json::Object(m) => m,
            _ => unreachable!("an object literal"),
        }
    }

    fn github() -> Map<String, Json> {
        claims(json!({
            "iss": "https://token.actions.githubusercontent.com",
            "sub": "repo:octo-org/octo-repo:ref:refs/heads/main",
            "repository": "octo-org/octo-repo",
            "repository_id": "42",
            "repository_owner_id": "7",
            "ref": "refs/heads/main",
            "event_name": "push",
            "run_attempt": "1",
            "ids": ["a", "b"],
        }))
    }

    #[test]
    fn evaluates_over_claims() {
        let c = compile(
            r#"claims.repository_id == "42" && claims.ref == "refs/heads/main" && claims.event_name != "pull_request_target""#,
        )
        .unwrap();
        assert_eq!(c.evaluate(&github()), Outcome::True);
        assert_eq!(c.reads(), ["repository_id", "ref", "event_name"]);
        let mut other = github();
        other.insert("ref".into(), json!("refs/heads/feature"));
        assert_eq!(c.evaluate(&other), Outcome::NotTrue("false".into()));
        // A missing claim is an error, which refuses.
        other.remove("ref");
        assert!(matches!(c.evaluate(&other), Outcome::NotTrue(e) if e.starts_with("error")));
        let c =
            compile(r#"claims.ids.exists(i, i == "b") && claims["repository_id"] in ["1", "42"]"#)
                .unwrap();
        assert_eq!(c.evaluate(&github()), Outcome::True);
        assert_eq!(c.reads(), ["ids", "repository_id"]);
        let c =
            compile(r#"has(claims.environment) ? claims.environment == "prod" : false"#).unwrap();
        assert_eq!(c.evaluate(&github()), Outcome::NotTrue("false".into()));
        let c = compile(r#"claims.sub.startsWith("repo:octo-org/") && claims.sub.matches("ref:refs/heads/ma.n$")"#).unwrap();
        assert_eq!(c.evaluate(&github()), Outcome::True);
    }

    #[test]
    fn refuses_what_cannot_be_a_condition() {
        let cases = [
            ("", "empty"),
            ("claims.a ==", "not valid CEL"),
            ("claims.a == \"x", "not valid CEL"),
            ("token.repository_id == \"1\"", "names \"token\""),
            ("claims.a == x", "names \"x\""),
            ("claims.repository", "boolean"),
            ("\"true\"", "boolean"),
            ("1 + 2", "boolean"),
            ("claims.ids.map(i, i)", "boolean"),
            ("claims.a.lowerAscii() == \"x\"", "not a standard"),
            ("timestamp(claims.iat) > 0", "not a standard"),
            (
                "claims.ids.all(i, claims.ids.all(j, i == j))",
                "nests a macro",
            ),
            (
                r#"claims.ids.exists(i, i in claims.more)"#,
                "only the macro's variable",
            ),
            (
                r#"claims.ids.exists(i, size(claims) > 1)"#,
                "only the macro's variable",
            ),
            (r#"claims.sub.matches(claims.pattern)"#, "literal pattern"),
        ];
        for (src, why) in cases {
            let e = compile(src).unwrap_err();
            assert!(e.0.contains(why), "{src}: {e}");
        }
        let long = format!("claims.a == \"{}\"", "x".repeat(MAX_CONDITION_BYTES));
        assert!(compile(&long).unwrap_err().0.contains("longer"));
    }

    #[test]
    fn github_conditions_must_bind_an_immutable_id() {
        let p = FederationProfile::GithubActions;
        for ok in [
            r#"claims.repository_id == "42""#,
            r#""42" == claims.repository_id && claims.ref == "refs/heads/main""#,
            r#"claims.ref == "refs/heads/main" && claims.repository_owner_id in ["7", "8"]"#,
            r#"(claims.a == "1" && claims["repository_id"] == "42") && claims.b == "2""#,
        ] {
            compile(ok).unwrap().lint(p).unwrap();
        }
        for bad in [
            r#"claims.repository == "octo-org/octo-repo""#,
            r#"claims.repository_id == "42" || claims.repository == "x""#,
            r#"claims.repository_id != "42""#,
            r#"claims.repository_id == claims.repository_owner_id"#,
            r#"!(claims.repository_id == "42")"#,
            r#"claims.repository_id in []"#,
            r#"claims.repository_id.startsWith("4")"#,
            r#"claims.repository_id == 42"#,
        ] {
            let e = compile(bad).unwrap().lint(p).unwrap_err();
            assert!(
                e.0.contains("claims.repository_id or claims.repository_owner_id"),
                "{bad}: {e}"
            );
        }
        let e = compile(r#"claims.project_path == "g/p""#)
            .unwrap()
            .lint(FederationProfile::GitlabCi)
            .unwrap_err();
        assert!(e.0.contains("claims.project_id or claims.namespace_id"));
        compile("true")
            .unwrap()
            .lint(FederationProfile::Generic)
            .unwrap();
    }

    #[test]
    fn only_what_is_read_is_bound_unless_the_whole_payload_is_used() {
        let c = compile(r#"claims.a == "1" && has(claims.b)"#).unwrap();
        assert!(!c.whole);
        let all = claims(json!({"a": "1", "b": 2, "c": 3}));
        assert_eq!(c.evaluate(&all), Outcome::True);
        let c = compile("size(claims) == 3").unwrap();
        assert!(c.whole);
        assert_eq!(c.evaluate(&all), Outcome::True);
        let c = compile(r#"claims.exists(k, k == "c")"#).unwrap();
        assert!(c.whole);
        assert_eq!(c.evaluate(&all), Outcome::True);
        // A macro variable named like a claim is its own name, not the payload's.
        let c = compile(r#"claims.ids.exists(claims, claims == "x")"#);
        assert!(c.as_ref().is_ok_and(|c| !c.whole), "{c:?}");
        assert!(c.is_ok_and(|c| c.evaluate(&claims(json!({"ids": ["x"]}))) == Outcome::True));
    }

    #[test]
    fn compiled_once() {
        let cs = Conditions::new();
        let a = cs.get("claims.a == \"1\"").unwrap();
        let b = cs.get("claims.a == \"1\"").unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        assert!(cs.get("nope(").is_err());
    }
}
