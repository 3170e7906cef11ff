//! The `tokenmint` binary as an operator uses it: exit codes, one-sentence errors, JSON output,
//! and `serve` answering real requests.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

#[path = "cli/apply.rs"]
mod apply;
#[path = "cli/metrics.rs"]
mod metrics;

fn bin() -> &'static str {
    env!("CARGO_BIN_EXE_tokenmint")
}

fn data_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tokenmint-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

fn run(data: &Path, args: &[&str]) -> Output {
    Command::new(bin())
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("TOKENMINT_ISSUER")
        .env_remove("TOKENMINT_STORE")
        .output()
        .unwrap()
}

fn json(o: &Output) -> serde_json::Value {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    serde_json::from_slice(&o.stdout).unwrap()
}

/// A failure is one sentence on standard error and a non-zero exit.
fn assert_one_sentence_error(o: &Output, contains: &str) {
    assert!(!o.status.success());
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.starts_with("error: "), "{err}");
    assert!(err.contains(contains), "{err}");
}

#[test]
fn client_lifecycle() {
    let d = data_dir("lifecycle");
    let created = json(&run(
        &d,
        &[
            "client",
            "create",
            "--id",
            "ci",
            "--scope",
            "read write",
            "--audience",
            "https://api.example.com",
            "--ttl",
            "15m",
            "--json",
        ],
    ));
    assert_eq!(created["client_id"], "ci");
    let secret = created["client_secret"].as_str().unwrap().to_owned();
    assert_eq!(secret.len(), 43);

    let listed = json(&run(&d, &["client", "list", "--json"]));
    assert_eq!(listed[0]["client_id"], "ci");
    assert_eq!(listed[0]["token_ttl"], 900);
    let shown = run(&d, &["client", "show", "ci"]);
    let text = String::from_utf8_lossy(&shown.stdout).into_owned();
    assert!(
        !text.contains(&secret) && !text.contains("sha256"),
        "{text}"
    );
    assert_eq!(json(&shown)["secrets"].as_array().unwrap().len(), 1);

    let rotated = json(&run(
        &d,
        &["client", "rotate-secret", "ci", "--grace", "1h", "--json"],
    ));
    assert_ne!(rotated["client_secret"], secret.as_str());
    let shown = json(&run(&d, &["client", "show", "ci"]));
    assert_eq!(shown["secrets"].as_array().unwrap().len(), 2);

    assert!(run(&d, &["client", "disable", "ci"]).status.success());
    assert_eq!(json(&run(&d, &["client", "show", "ci"]))["disabled"], true);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn operator_mistakes_are_one_sentence() {
    let d = data_dir("mistakes");
    let create = |id: &str, scope: &str| {
        run(
            &d,
            &[
                "client",
                "create",
                "--id",
                id,
                "--scope",
                scope,
                "--audience",
                "api",
            ],
        )
    };
    assert!(create("dup", "read").status.success());
    assert_one_sentence_error(&create("dup", "read"), "already exists");
    assert_one_sentence_error(&create("bad id", "read"), "client id");
    assert_one_sentence_error(&create("x", "a\"b"), "scope");
    assert_one_sentence_error(&run(&d, &["client", "show", "ghost"]), "does not exist");
    assert_one_sentence_error(&run(&d, &["client", "disable", "ghost"]), "does not exist");
    assert_one_sentence_error(&run(&d, &["token", "decode", "not-a-jwt"]), "three");
    let wrong_env = Command::new(bin())
        .args(["--data"])
        .arg(&d)
        .args(["client", "list"])
        .env("TOKENMINT_MAX_TTL", "forever")
        .output()
        .unwrap();
    assert_one_sentence_error(&wrong_env, "TOKENMINT_MAX_TTL");
    // Missing required flags are clap's usage errors: exit 2.
    let o = run(&d, &["client", "create", "--id", "x", "--scope", "read"]);
    assert_eq!(o.status.code(), Some(2));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn data_dir_comes_from_the_environment_too() {
    let d = data_dir("env");
    let o = Command::new(bin())
        .args([
            "client",
            "create",
            "--id",
            "e",
            "--scope",
            "read",
            "--audience",
            "api",
        ])
        .env("TOKENMINT_DATA", &d)
        .env_remove("TOKENMINT_STORE")
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(d.join("tokenmint.db").exists());
    std::fs::remove_dir_all(&d).unwrap();
}

struct Serve {
    child: Child,
    base: String,
    secret: String,
    /// The metrics URL, with `--metrics-addr`.
    metrics: Option<String>,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `tokenmint serve --demo` on an ephemeral port and reads what it prints.
fn serve_demo(d: &Path) -> Serve {
    serve_demo_by(Command::new(bin()), d, &[])
}

/// [`serve_demo`] with `tokenmint` started by `cmd` (the binary itself, or a wrapper), and
/// `extra` arguments after `serve`.
fn serve_demo_by(mut cmd: Command, d: &Path, extra: &[&str]) -> Serve {
    let mut child = cmd
        .arg("--data")
        .arg(d)
        .args(["serve", "--demo", "--addr", "127.0.0.1:0"])
        .args(extra)
        .env_remove("TOKENMINT_ISSUER")
        .env_remove("TOKENMINT_STORE")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let (mut base, mut secret, mut seen) = (String::new(), String::new(), String::new());
    let mut metrics = None;
    for line in lines.by_ref() {
        let line = line.unwrap();
        seen.push_str(&line);
        seen.push('\n');
        if let Some(rest) = line.strip_prefix("demo client: demo  secret: ") {
            secret = rest.to_owned();
        }
        if let Some(rest) = line.strip_prefix("metrics at ") {
            metrics = Some(rest.to_owned());
        }
        if let Some(rest) = line.strip_prefix("tokenmint listening on ") {
            base = rest.split(' ').next().unwrap().to_owned();
            break;
        }
    }
    assert!(!base.is_empty() && !secret.is_empty(), "{seen}");
    Serve {
        child,
        base,
        secret,
        metrics,
    }
}

#[tokio::test]
async fn serve_demo_issues_tokens_that_decode_verifies() {
    let d = data_dir("serve");
    let s = serve_demo(&d);
    let r: serde_json::Value = reqwest::Client::new()
        .post(format!("{}/oauth2/token", s.base))
        .basic_auth("demo", Some(&s.secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "read")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = r["access_token"].as_str().unwrap().to_owned();
    let jwks_url = format!("{}/.well-known/jwks.json", s.base);
    let out = tokio::task::spawn_blocking({
        let (d, token, jwks_url) = (d.clone(), token.clone(), jwks_url.clone());
        move || run(&d, &["token", "decode", &token, "--jwks", &jwks_url])
    })
    .await
    .unwrap();
    let decoded = json(&out);
    assert_eq!(decoded["signature"], "verified");
    assert_eq!(decoded["claims"]["sub"], "demo");
    assert_eq!(decoded["header"]["typ"], "at+jwt");

    // A JWKS file works too, and a tampered token does not verify.
    let file = d.join("jwks.json");
    let body = reqwest::get(&jwks_url).await.unwrap().text().await.unwrap();
    std::fs::write(&file, body).unwrap();
    let mut bad = token.clone();
    bad.replace_range(token.len() - 3.., "AAA");
    let out = tokio::task::spawn_blocking({
        let (d, file) = (d.clone(), file.clone());
        move || {
            run(
                &d,
                &["token", "decode", &bad, "--jwks", file.to_str().unwrap()],
            )
        }
    })
    .await
    .unwrap();
    assert_one_sentence_error(&out, "does not verify");

    // Restarting with --demo re-keys the demo client: a new secret, the old one gone.
    let old = s.secret.clone();
    drop(s);
    let again = serve_demo(&d);
    assert_ne!(again.secret, old);
    let status = reqwest::Client::new()
        .post(format!("{}/oauth2/token", again.base))
        .basic_auth("demo", Some(&old))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn serve_on_a_public_address_needs_an_https_issuer() {
    let d = data_dir("public");
    let o = run(&d, &["serve", "--addr", "0.0.0.0:0"]);
    assert_one_sentence_error(&o, "--issuer");
    let _ = std::fs::remove_dir_all(&d);
}

/// Only a webhook has a secret: `serve` starts with the default or a Lambda hook and none,
/// whether the hook is named by flag or by TOKENMINT_HOOK.
#[test]
fn serve_needs_no_hook_secret_for_the_default_or_a_lambda_hook() {
    let lambda = "lambda:arn:aws:lambda:us-east-1:123456789012:function:x";
    for (name, hook) in [("hook-default", "default"), ("hook-lambda", lambda)] {
        let d = data_dir(name);
        let mut cmd = Command::new(bin());
        cmd.env("TOKENMINT_HOOK", hook)
            .env_remove("TOKENMINT_HOOK_SECRET")
            // The Lambda client is built at start (never called here): a region from the
            // environment keeps the SDK from asking instance metadata for one.
            .env("AWS_REGION", "us-east-1");
        drop(serve_demo_by(cmd, &d, &[]));
        let mut cmd = Command::new(bin());
        cmd.env_remove("TOKENMINT_HOOK")
            .env_remove("TOKENMINT_HOOK_SECRET")
            .env("AWS_REGION", "us-east-1");
        drop(serve_demo_by(cmd, &d, &["--hook", hook]));
        std::fs::remove_dir_all(&d).unwrap();
    }
}

/// A webhook without its secret is refused by the configuration, as one sentence naming the
/// variable, not by a usage error.
#[test]
fn serve_refuses_a_webhook_without_a_secret() {
    let d = data_dir("webhook-no-secret");
    let webhook = "https://hooks.example.com/claims";
    let by_flag = Command::new(bin())
        .arg("--data")
        .arg(&d)
        .args(["serve", "--addr", "127.0.0.1:0", "--hook", webhook])
        .env_remove("TOKENMINT_HOOK_SECRET")
        .env_remove("TOKENMINT_ISSUER")
        .env_remove("TOKENMINT_STORE")
        .output()
        .unwrap();
    let by_env = Command::new(bin())
        .arg("--data")
        .arg(&d)
        .args(["serve", "--addr", "127.0.0.1:0"])
        .env("TOKENMINT_HOOK", webhook)
        .env_remove("TOKENMINT_HOOK_SECRET")
        .env_remove("TOKENMINT_ISSUER")
        .env_remove("TOKENMINT_STORE")
        .output()
        .unwrap();
    for o in [by_flag, by_env] {
        assert_one_sentence_error(&o, "set TOKENMINT_HOOK_SECRET too");
        assert_eq!(o.status.code(), Some(1));
    }
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn store_init_creates_the_dynamodb_table() {
    let endpoint = std::env::var("AWS_ENDPOINT_URL")
        .expect("AWS_ENDPOINT_URL is not set: run infra/test, which starts moto server");
    assert!(endpoint.starts_with("http://127.0.0.1:"));
    let d = data_dir("store-init");
    let table = format!("tm-cli-{}", std::process::id());
    let with_table = |args: &[&str]| {
        Command::new(bin())
            .arg("--data")
            .arg(&d)
            .args(args)
            .env("TOKENMINT_STORE", format!("dynamodb:{table}"))
            .env("TOKENMINT_SIGNER", "kms:alias/unused-by-client-commands")
            .output()
            .unwrap()
    };
    let o = with_table(&["store", "init"]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    // The table works: a client goes in and comes back out.
    let created = json(&with_table(&[
        "client",
        "create",
        "--id",
        "ddb",
        "--scope",
        "read",
        "--audience",
        "api",
        "--json",
    ]));
    assert_eq!(created["client_id"], "ddb");
    assert_eq!(
        json(&with_table(&["client", "show", "ddb"]))["client_id"],
        "ddb"
    );
    // Creating it twice is a clear error.
    assert_one_sentence_error(&with_table(&["store", "init"]), "cannot create table");
    // The SQLite store needs no init.
    assert_one_sentence_error(&run(&d, &["store", "init"]), "dynamodb:TABLE");
    let _ = std::fs::remove_dir_all(&d);
}

#[test]
fn keys_rotate_and_list() {
    let d = data_dir("keys");
    // On a fresh store the first run gives it a key that signs, as `serve` would.
    let steps = json(&run(&d, &["keys", "rotate"]));
    assert_eq!(steps[0]["step"], "registered");
    let steps = json(&run(&d, &["keys", "rotate"]));
    assert_eq!(steps[0]["step"], "published");
    let kid = steps[0]["kid"].as_str().unwrap().to_owned();
    let keys = json(&run(&d, &["keys", "list", "--json"]));
    let next: Vec<_> = keys
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["status"] == "next")
        .collect();
    assert_eq!(next.len(), 1);
    assert_eq!(next[0]["kid"], kid.as_str());
    let text = String::from_utf8(run(&d, &["keys", "list", "--json"]).stdout).unwrap();
    assert!(!text.contains("pkcs8"), "no private material is shown");
    // Too early to promote, and a next key is already waiting: nothing to do.
    assert_eq!(json(&run(&d, &["keys", "rotate"])), serde_json::json!([]));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn delegation_grant_list_revoke() {
    let d = data_dir("delegations");
    let granted = json(&run(
        &d,
        &[
            "delegation",
            "grant",
            "--delegator",
            "minor-7",
            "--delegate",
            "user:guardian-3",
            "--scope",
            "accounts:read pay",
            "--expires",
            "2099-01-01T00:00:00Z",
            "--json",
        ],
    ));
    assert_eq!(granted["delegator"], "user:minor-7");
    assert_eq!(granted["delegate"], "user:guardian-3");
    assert_eq!(granted["scope"], "accounts:read pay");
    assert_eq!(granted["expires_at"], 4_070_908_800u64);
    let id = granted["id"].as_str().unwrap().to_owned();
    let listed = json(&run(
        &d,
        &[
            "delegation",
            "list",
            "--delegate",
            "user:guardian-3",
            "--json",
        ],
    ));
    assert_eq!(listed[0]["id"], id.as_str());
    let by_delegator = json(&run(
        &d,
        &[
            "delegation",
            "list",
            "--delegator",
            "user:minor-7",
            "--json",
        ],
    ));
    assert_eq!(by_delegator.as_array().unwrap().len(), 1);

    let revoked = run(
        &d,
        &[
            "delegation",
            "revoke",
            "--delegator",
            "minor-7",
            "--delegate",
            "user:guardian-3",
        ],
    );
    assert!(revoked.status.success());
    assert!(String::from_utf8_lossy(&revoked.stderr).contains(&id));
    let again = run(
        &d,
        &[
            "delegation",
            "revoke",
            "--delegator",
            "minor-7",
            "--delegate",
            "user:guardian-3",
        ],
    );
    assert_one_sentence_error(&again, "no delegation");

    let bad = |args: &[&str], msg: &str| {
        let mut all = vec!["delegation", "grant"];
        all.extend_from_slice(args);
        assert_one_sentence_error(&run(&d, &all), msg);
    };
    bad(
        &[
            "--delegator",
            "client:a b",
            "--delegate",
            "x",
            "--scope",
            "r",
        ],
        "--delegator",
    );
    bad(
        &["--delegator", "a", "--delegate", "a", "--scope", "r"],
        "itself",
    );
    bad(
        &[
            "--delegator",
            "a",
            "--delegate",
            "b",
            "--scope",
            "r",
            "--expires",
            "tomorrow",
        ],
        "--expires",
    );
    bad(
        &[
            "--delegator",
            "a",
            "--delegate",
            "b",
            "--scope",
            "r",
            "--expires",
            "2001-01-01T00:00:00Z",
        ],
        "past",
    );
    bad(
        &["--delegator", "a", "--delegate", "b", "--scope", " "],
        "--scope",
    );
}

#[test]
fn clients_with_a_hook_and_attributes() {
    let d = data_dir("hooked");
    let create = |extra: &[&str]| {
        let mut args = vec![
            "client",
            "create",
            "--id",
            "build-api",
            "--scope",
            "read read:reports",
            "--audience",
            "https://api.example.com",
            "--hook",
            "--json",
        ];
        args.extend_from_slice(extra);
        run(&d, &args)
    };
    assert_one_sentence_error(&create(&["--attr", "novalue"]), "name=value");
    assert_one_sentence_error(&create(&["--attr", "a=1", "--attr", "a=2"]), "twice");
    assert_one_sentence_error(&create(&["--attr", "contact=ops@example.com"]), "last @");
    assert_one_sentence_error(&create(&["--attr", "user_id=alice"]), "user_id");
    json(&create(&[
        "--attr",
        "partner_id=p-17",
        "--attr",
        "tier=gold@read:reports",
        "--attr",
        "contact=ops@example.com@read",
    ]));
    let shown = json(&run(&d, &["client", "show", "build-api"]));
    assert_eq!(shown["hook"], true);
    assert_eq!(shown["attributes"][1]["scope"], "read:reports");
    assert_eq!(shown["attributes"][2]["value"], "ops@example.com");
}

#[test]
fn exchange_clients_issuers_and_step_up_rules() {
    let d = data_dir("exchange");
    let created = run(
        &d,
        &[
            "client",
            "create",
            "--id",
            "build-api",
            "--scope",
            "update:builds",
            "--audience",
            "https://builds.example.com",
            "--grant",
            "token-exchange",
            "--grant",
            "refresh_token",
            "--max-exchange-ttl",
            "48h",
            "--json",
        ],
    );
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );
    let shown = json(&run(&d, &["client", "show", "build-api"]));
    assert_eq!(
        shown["grants"],
        serde_json::json!([
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "refresh_token"
        ])
    );
    for (args, says) in [
        (vec!["--grant", "password"], "grant \"password\""),
        (
            vec!["--grant", "refresh_token"],
            "needs the token-exchange grant",
        ),
        (
            vec!["--max-exchange-ttl", "1h"],
            "needs the token-exchange grant",
        ),
        (
            vec!["--grant", "token-exchange", "--max-exchange-ttl", "90d"],
            "TOKENMINT_MAX_EXCHANGE_TTL",
        ),
    ] {
        let mut a = vec![
            "client",
            "create",
            "--id",
            "x",
            "--scope",
            "a",
            "--audience",
            "https://a.example",
        ];
        a.extend(args);
        assert_one_sentence_error(&run(&d, &a), says);
    }

    let added = json(&run(
        &d,
        &[
            "issuer",
            "add",
            "--issuer",
            "https://tenant.auth0.example/",
            "--jwks-uri",
            "https://tenant.auth0.example/.well-known/jwks.json",
            "--scope-claim",
            "scp",
            "--max-scope",
            "read:builds",
            "--map-claim",
            "groups=roles",
            "--json",
        ],
    ));
    assert_eq!(added["scope_claim"], "scp");
    assert_eq!(added["typ"], "at+jwt");
    // A second issuer needs prefixes on both.
    let second = [
        "issuer",
        "add",
        "--issuer",
        "https://okta.example/",
        "--jwks-uri",
        "https://okta.example/keys",
        "--subject-prefix",
        "okta|",
    ];
    assert_one_sentence_error(&run(&d, &second), "has no subject prefix");
    assert_one_sentence_error(
        &run(
            &d,
            &[
                "issuer",
                "add",
                "--issuer",
                "https://x.example/",
                "--jwks-uri",
                "http://x.example/keys",
            ],
        ),
        "must be https",
    );
    let listed = json(&run(&d, &["issuer", "list", "--json"]));
    assert_eq!(listed.as_array().unwrap().len(), 1);
    assert!(
        run(&d, &["issuer", "remove", "https://tenant.auth0.example/"])
            .status
            .success()
    );
    assert_one_sentence_error(
        &run(&d, &["issuer", "remove", "https://tenant.auth0.example/"]),
        "not trusted",
    );

    let set = run(
        &d,
        &[
            "scope",
            "set",
            "accounts:transact",
            "--acr",
            "urn:example:otp",
        ],
    );
    assert!(set.status.success());
    let rules = json(&run(&d, &["scope", "list", "--json"]));
    assert_eq!(rules[0]["acr"], serde_json::json!(["urn:example:otp"]));
    assert!(
        run(&d, &["scope", "set", "accounts:transact"])
            .status
            .success()
    );
    assert_eq!(
        json(&run(&d, &["scope", "list", "--json"])),
        serde_json::json!([])
    );
}

#[test]
fn key_clients_have_no_secret() {
    // The JWK Set files sit beside the store, not in it: a data directory made by hand under
    // umask 022 is open to other users, which every command would warn about.
    let files = data_dir("key-clients");
    std::fs::create_dir_all(&files).unwrap();
    let d = files.join("store");
    let jwks = files.join("jwks.json");
    std::fs::write(
        &jwks,
        r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"KSexBRK64-3c_kZ4KBKLrSkDJpkZ9whgacjE32xzKDg","y":"x3h5ZOqsAOWSH7FJimD0YGdms9loUAFVjRqXTnNBUT4"}]}"#,
    )
    .unwrap();
    let jwks = jwks.to_str().unwrap();
    let base = [
        "client",
        "create",
        "--scope",
        "read",
        "--audience",
        "https://a.example",
    ];
    let created = json(&run(
        &d,
        &[&base[..], &["--id", "keyed", "--jwks", jwks, "--json"]].concat(),
    ));
    assert_eq!(created, serde_json::json!({"client_id": "keyed"}));
    let shown = json(&run(&d, &["client", "show", "keyed"]));
    assert_eq!(shown["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(shown["secrets"], serde_json::json!([]));
    let remote = json(&run(
        &d,
        &[
            &base[..],
            &[
                "--id",
                "remote",
                "--jwks",
                "https://keys.example/jwks.json",
                "--json",
            ],
        ]
        .concat(),
    ));
    assert_eq!(remote["client_id"], "remote");
    assert_one_sentence_error(
        &run(
            &d,
            &[&base[..], &["--id", "x1", "--jwks", "/no/such/file"]].concat(),
        ),
        "cannot read",
    );
    assert_one_sentence_error(
        &run(
            &d,
            &[
                &base[..],
                &["--id", "x2", "--jwks", "http://keys.example/jwks"],
            ]
            .concat(),
        ),
        "must be https",
    );
    let empty = files.join("empty.json");
    std::fs::write(&empty, r#"{"keys":[{"kty":"oct","k":"AAAA","kid":"h"}]}"#).unwrap();
    assert_one_sentence_error(
        &run(
            &d,
            &[
                &base[..],
                &["--id", "x3", "--jwks", empty.to_str().unwrap()],
            ]
            .concat(),
        ),
        "no usable signing key",
    );
}

/// `tokenmint` started by `sh` under umask 022, the usual default, which leaves new files
/// readable by everyone unless the program asks for less.
#[cfg(unix)]
fn under_umask_022() -> Command {
    let mut c = Command::new("sh");
    c.args(["-c", r#"umask 022; exec "$0" "$@""#, bin()]);
    c
}

#[cfg(unix)]
fn mode(p: &Path) -> String {
    use std::os::unix::fs::PermissionsExt as _;
    format!(
        "{:o}",
        std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
    )
}

/// `dir` is 0700 and every file in it 0600; returns the files' names.
#[cfg(unix)]
fn assert_private(dir: &Path) -> Vec<String> {
    assert_eq!(mode(dir), "700", "{}", dir.display());
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let p = entry.unwrap().path();
        assert_eq!(mode(&p), "600", "{}", p.display());
        names.push(p.file_name().unwrap().to_string_lossy().into_owned());
    }
    names.sort();
    names
}

/// In `local` signer mode the store holds the plaintext signing key: every command creates it
/// private to its owner, whatever the umask, and leaves existing parents alone.
#[cfg(unix)]
#[test]
fn cli_commands_create_a_private_store_under_umask_022() {
    let parent = data_dir("umask-cli");
    let d = parent.join("data");
    let tmp = mode(&std::env::temp_dir());
    for args in [
        &[
            "client",
            "create",
            "--id",
            "u",
            "--scope",
            "read",
            "--audience",
            "api",
        ][..],
        &["keys", "rotate"],
    ] {
        let o = under_umask_022()
            .arg("--data")
            .arg(&d)
            .args(args)
            .env_remove("TOKENMINT_ISSUER")
            .env_remove("TOKENMINT_STORE")
            .output()
            .unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        assert!(!String::from_utf8_lossy(&o.stderr).contains("warning"));
        // SQLite removes the -wal and -shm files as the last connection closes; any left
        // are checked too.
        assert!(assert_private(&d).contains(&"tokenmint.db".to_owned()));
    }
    assert_eq!(mode(&parent), "700", "a directory create_dir_all made");
    assert_eq!(
        mode(&std::env::temp_dir()),
        tmp,
        "an existing parent is left alone"
    );
    std::fs::remove_dir_all(&parent).unwrap();
}

#[cfg(unix)]
#[test]
fn serve_creates_a_private_store_under_umask_022() {
    let d = data_dir("umask-serve");
    let s = serve_demo_by(under_umask_022(), &d, &[]);
    // While the server runs SQLite keeps its write-ahead log and index beside the database.
    assert_eq!(
        assert_private(&d),
        ["tokenmint.db", "tokenmint.db-shm", "tokenmint.db-wal"]
    );
    drop(s);
    std::fs::remove_dir_all(&d).unwrap();
}

/// A store made before the fix, or chmod-ed since, is named on standard error with the
/// `chmod` that fixes it, even when RUST_LOG hides warnings; the command still runs.
#[cfg(unix)]
#[test]
fn a_store_open_to_other_users_is_warned_about() {
    use std::os::unix::fs::PermissionsExt;
    let d = data_dir("open-store");
    let db = d.join("tokenmint.db");
    let create = [
        "client",
        "create",
        "--id",
        "o",
        "--scope",
        "read",
        "--audience",
        "api",
    ];
    assert!(run(&d, &create).status.success());
    let chmod = |p: &Path, m: u32| std::fs::set_permissions(p, PermissionsExt::from_mode(m));
    chmod(&d, 0o775).unwrap();
    chmod(&db, 0o644).unwrap();

    let o = run(&d, &["client", "list"]);
    assert!(o.status.success());
    let err = String::from_utf8_lossy(&o.stderr).into_owned();
    let warning = err
        .lines()
        .find(|l| l.starts_with("warning: "))
        .unwrap_or_else(|| panic!("no warning on standard error: {err}"));
    let (dir, file) = (d.display(), db.display());
    assert_eq!(
        warning,
        format!(
            "warning: the store is open to other users ({dir} is mode 0775, {file} is mode \
             0644) and can hold the signing key: run `chmod 700 {dir} && chmod 600 {file}`"
        )
    );
    // The JSON log line a log shipper sees, at warn.
    assert!(
        err.lines()
            .any(|l| l.contains(r#""level":"WARN""#) && l.contains("open to other users")),
        "{err}"
    );

    let quiet = Command::new(bin())
        .arg("--data")
        .arg(&d)
        .args(["client", "list"])
        .env("RUST_LOG", "error")
        .env_remove("TOKENMINT_STORE")
        .output()
        .unwrap();
    assert_eq!(
        String::from_utf8_lossy(&quiet.stderr).trim(),
        warning,
        "only the plain sentence"
    );

    // Running the suggested command silences it.
    let fix = warning.split('`').nth(1).unwrap();
    assert!(
        Command::new("sh")
            .args(["-c", fix])
            .status()
            .unwrap()
            .success()
    );
    let o = run(&d, &["client", "list"]);
    assert!(o.status.success());
    assert!(!String::from_utf8_lossy(&o.stderr).contains("open to other users"));
    std::fs::remove_dir_all(&d).unwrap();
}

#[test]
fn mapped_claims_never_take_names_tokenmint_issues() {
    let d = data_dir("map-claim-targets");
    let add = |mapping: &str| {
        run(
            &d,
            &[
                "issuer",
                "add",
                "--issuer",
                "https://idp.example/",
                "--jwks-uri",
                "https://idp.example/jwks",
                "--map-claim",
                mapping,
            ],
        )
    };
    // `user_id` reads as "acting for this user" with no delegation; `idp` is read back by
    // refresh families.
    for mapping in ["nickname=user_id", "tenant=idp"] {
        assert_one_sentence_error(&add(mapping), "tokenmint issues and reads the claim");
    }
    let listed = run(&d, &["issuer", "list", "--json"]);
    assert_eq!(json(&listed), serde_json::json!([]), "nothing stored");
    assert!(add("tenant=tenant").status.success());
    // Nor may a client attribute take them.
    let o = run(
        &d,
        &[
            "client",
            "create",
            "--id",
            "x",
            "--scope",
            "a",
            "--audience",
            "https://a.example",
            "--hook",
            "--attr",
            "idp=https://evil.example",
        ],
    );
    assert_one_sentence_error(&o, "tokenmint issues and reads itself");
    // --id-tokens needs a ceiling to grant.
    let o = run(
        &d,
        &[
            "issuer",
            "add",
            "--issuer",
            "https://idp.example/",
            "--jwks-uri",
            "https://idp.example/jwks",
            "--id-tokens",
        ],
    );
    assert_one_sentence_error(&o, "--id-tokens needs --max-scope");
}

#[test]
fn federated_credentials_are_checked_before_anything_is_stored() {
    let d = data_dir("federated");
    let create = |extra: &[&str]| {
        let mut args = vec![
            "client",
            "create",
            "--id",
            "deploy",
            "--scope",
            "update:builds",
            "--audience",
            "https://api.example.com",
            "--federated-issuer",
            "https://token.actions.githubusercontent.com",
        ];
        args.extend_from_slice(extra);
        run(&d, &args)
    };
    // A shared issuer's condition must bind an immutable id; the error says which.
    let o = create(&["--condition", r#"claims.repository == "octo-org/app""#]);
    assert_one_sentence_error(&o, "claims.repository_id or claims.repository_owner_id");
    let o = create(&["--condition", "claims.repository_id =="]);
    assert_one_sentence_error(&o, "not valid CEL");
    let o = create(&["--condition", "claim.repository_id == \"1\""]);
    assert_one_sentence_error(&o, "the token's payload is claims");
    let o = create(&[
        "--condition",
        r#"claims.repository == "o/r""#,
        "--profile",
        "generic",
    ]);
    assert_one_sentence_error(&o, "its profile is github-actions");
    let o = run(
        &d,
        &[
            "client",
            "create",
            "--id",
            "x",
            "--scope",
            "a",
            "--audience",
            "b",
            "--condition",
            "true",
        ],
    );
    assert!(!o.status.success());
    let listed = json(&run(&d, &["client", "list", "--json"]));
    assert_eq!(listed, serde_json::json!([]), "nothing was stored");

    // A good one: no secret is made or printed.
    let o = create(&[
        "--condition",
        r#"claims.repository_id == "42" && claims.ref == "refs/heads/main""#,
        "--map-claim",
        "repository=repo",
        "--json",
    ]);
    let created = json(&o);
    assert_eq!(created, serde_json::json!({"client_id": "deploy"}));
    assert!(!String::from_utf8_lossy(&o.stderr).contains("secret:"));
    let o = run(
        &d,
        &[
            "client",
            "federate",
            "deploy",
            "--issuer",
            "https://gitlab.example",
            "--profile",
            "gitlab-ci",
            "--condition",
            r#"claims.project_id == "7""#,
            "--name",
            "gitlab",
        ],
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let creds = json(&run(&d, &["client", "federations", "deploy", "--json"]));
    let names: Vec<&str> = creds
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["github-actions", "gitlab"]);
    assert_eq!(creds[0]["profile"], "github-actions");
    assert_eq!(
        creds[0]["map_claims"],
        serde_json::json!(["repository=repo"])
    );
    let shown = json(&run(&d, &["client", "show", "deploy"]));
    assert_eq!(shown["token_endpoint_auth_method"], "private_key_jwt");
    assert_eq!(
        shown["federated_credentials"],
        serde_json::json!(["github-actions", "gitlab"])
    );
    let o = run(&d, &["client", "unfederate", "deploy", "gitlab"]);
    assert!(o.status.success());
    let o = run(&d, &["client", "unfederate", "deploy", "gitlab"]);
    assert_one_sentence_error(&o, "no federated credential named \"gitlab\"");
    // Explain needs a token of some shape; a malformed one is refused, exit 1.
    let o = run(&d, &["client", "explain", "deploy", "--token", "not-a-jwt"]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stdout).contains("token: the token is refused"));
}
