//! `tokenmint apply` and `tokenmint export` over the embedded store: the plan, all or
//! nothing, secrets only in `--secrets-out`, and export as the file apply reads.

use std::path::Path;
use std::process::Output;

use super::{assert_one_sentence_error, data_dir, run, serve_demo};

const JWK_SET: &str = r#"{"keys":[{"kty":"EC","crv":"P-256","kid":"k1","x":"KSexBRK64-3c_kZ4KBKLrSkDJpkZ9whgacjE32xzKDg","y":"x3h5ZOqsAOWSH7FJimD0YGdms9loUAFVjRqXTnNBUT4"}]}"#;

/// The issue's example file, with a key client and a federated one beside it.
const FILE: &str = r#"clients:
  - id: build-api
    scope: "read:builds update:builds"
    default_scope: "read:builds"
    audience: [https://builds.example.com/]
    grants: [client_credentials, token-exchange]
    ttl: 15m
    max_exchange_ttl: 48h
    introspect: false
    hook: false
    attributes: {partner_id: p-17}
  - id: keyed
    scope: read
    audience: [https://api.example.com]
    jwks: ./keyed.jwks.json
  - id: deploy
    scope: update:builds
    audience: [https://api.example.com]
    federated:
      - name: main
        issuer: https://token.actions.githubusercontent.com
        condition: 'claims.repository_id == "123456" && claims.ref == "refs/heads/main"'
issuers:
  - issuer: https://idp.example.com
    jwks_uri: https://idp.example.com/.well-known/jwks.json
    max_scope: "read:builds"
    typ: JWT
scopes:
  - scope: update:builds
    acr: [urn:example:mfa]
"#;

fn stdout(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A directory holding `file` as tokenmint.yaml, the key client's JWK Set beside it, and a
/// store under it.
fn workspace(name: &str, file: &str) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = data_dir(name);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("keyed.jwks.json"), JWK_SET).unwrap();
    std::fs::write(dir.join("tokenmint.yaml"), file).unwrap();
    let store = dir.join("store");
    (dir, store)
}

fn apply(store: &Path, file: &Path, extra: &[&str]) -> Output {
    let file = file.to_str().unwrap();
    run(store, &[&["apply", file][..], extra].concat())
}

#[tokio::test]
async fn apply_plans_writes_and_keeps_secrets_out_of_the_file() {
    let (dir, store) = workspace("apply", FILE);
    let file = dir.join("tokenmint.yaml");
    let secrets = dir.join("secrets.json");
    // In the file's order.
    let plan = "+ client build-api\n+ client keyed\n+ client deploy\n\
                + issuer https://idp.example.com\n+ scope update:builds\n";

    // A dry run needs no --secrets-out and writes nothing.
    assert_eq!(stdout(&apply(&store, &file, &["--dry-run"])), plan);
    assert_eq!(stdout(&apply(&store, &file, &["--dry-run"])), plan);
    // A secret client is created only with somewhere to put its secret.
    let o = apply(&store, &file, &[]);
    assert_one_sentence_error(&o, "build-api would be created with a secret");
    assert_eq!(String::from_utf8_lossy(&o.stdout), plan);
    assert_eq!(stdout(&run(&store, &["export"])), "{}\n");

    let out = secrets.to_str().unwrap();
    assert_eq!(stdout(&apply(&store, &file, &["--secrets-out", out])), plan);
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(&secrets).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let written: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&secrets).unwrap()).unwrap();
    let map = written.as_object().unwrap();
    assert_eq!(map.keys().collect::<Vec<_>>(), ["build-api"]);
    let secret = map["build-api"].as_str().unwrap().to_owned();

    // The store holds what the file says; the export has no secret and no hash.
    let export = stdout(&run(&store, &["export"]));
    assert!(
        !export.contains(&secret) && !export.contains("sha256"),
        "{export}"
    );
    assert!(export.contains("partner_id: p-17"), "{export}");
    // Applying again changes nothing, needs no --secrets-out, and keeps the secret.
    assert_eq!(stdout(&apply(&store, &file, &[])), "no changes\n");

    // The secret from --secrets-out gets a token from the server.
    let s = serve_demo(&store);
    let status = reqwest::Client::new()
        .post(format!("{}/oauth2/token", s.base))
        .basic_auth("build-api", Some(&secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 200);
    drop(s);

    // A change names its fields; what the file does not declare stays unless --prune.
    let changed = FILE.replace("ttl: 15m", "ttl: 30m").replace(
        "    scope: read\n    audience: [https://api.example.com]\n",
        "    scope: read write\n    audience: [https://api.example.com, https://b.example.com]\n",
    );
    std::fs::write(&file, &changed).unwrap();
    let plan = "~ client build-api: ttl\n~ client keyed: audience, scope\n";
    assert_eq!(stdout(&apply(&store, &file, &[])), plan);
    let without_deploy = changed.replace(
        &changed[changed.find("  - id: deploy").unwrap()..changed.find("issuers:").unwrap()],
        "",
    );
    std::fs::write(&file, &without_deploy).unwrap();
    assert_eq!(stdout(&apply(&store, &file, &[])), "no changes\n");
    // The demo client `serve --demo` made is not in the file either.
    assert_eq!(
        stdout(&apply(&store, &file, &["--prune"])),
        "- client demo\n- client deploy\n"
    );
    let export = stdout(&run(&store, &["export"]));
    assert!(
        !export.contains("id: deploy") && !export.contains("id: demo"),
        "{export}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn one_invalid_entry_applies_nothing_and_names_the_entry_and_the_field() {
    let (dir, store) = workspace("apply-invalid", FILE);
    let file = dir.join("tokenmint.yaml");
    let secrets = dir.join("secrets.json");
    let out = secrets.to_str().unwrap();
    let cases = [
        (
            FILE.replace("[https://builds.example.com/]", "[not a url]"),
            "client build-api: audience: \"not a url\"",
        ),
        (
            FILE.replace(
                "scope: \"read:builds update:builds\"",
                "scope: \"read\\\"x\"",
            ),
            "client build-api: scope:",
        ),
        (
            FILE.replace("    hook: false\n", "    hook: false\n    scopes: read\n"),
            "unknown field `scopes`",
        ),
        (
            FILE.replace("ttl: 15m", "ttl: soon"),
            "client build-api: ttl:",
        ),
        (
            FILE.replace("partner_id: p-17", "partner_id: p-17@write:all"),
            "client build-api: attributes:",
        ),
        (
            FILE.replace("jwks: ./keyed.jwks.json", "jwks: ./missing.json"),
            "client keyed: jwks: cannot read",
        ),
        (
            FILE.replace(r#"claims.repository_id == "123456" && "#, ""),
            "client deploy: federated[0] (main):",
        ),
        (
            FILE.replace("acr: [urn:example:mfa]", "acr: []"),
            "scope update:builds:",
        ),
        (
            FILE.replace("typ: JWT", "typ: JWS"),
            "issuer https://idp.example.com:",
        ),
        (
            FILE.replace("  - id: keyed", "  - id: build-api"),
            "declared twice",
        ),
    ];
    for (text, expected) in cases {
        std::fs::write(&file, &text).unwrap();
        let o = apply(&store, &file, &["--secrets-out", out]);
        assert_one_sentence_error(&o, expected);
        assert!(
            o.stdout.is_empty(),
            "no plan is printed for an invalid file"
        );
        assert!(!secrets.exists());
        assert_eq!(stdout(&run(&store, &["export"])), "{}\n", "{expected}");
    }
    // An existing --secrets-out is never overwritten, and nothing is applied then either.
    std::fs::write(&file, FILE).unwrap();
    std::fs::write(&secrets, "{}").unwrap();
    let o = apply(&store, &file, &["--secrets-out", out]);
    assert_one_sentence_error(&o, "exists");
    assert_eq!(stdout(&run(&store, &["export"])), "{}\n");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn export_then_apply_onto_an_empty_store_gives_the_same_text() {
    let (dir, store) = workspace("export", FILE);
    let file = dir.join("tokenmint.yaml");
    let out = dir.join("secrets.json");
    stdout(&apply(
        &store,
        &file,
        &["--secrets-out", out.to_str().unwrap()],
    ));
    // What the CLI made by hand is exported too.
    stdout(&run(
        &store,
        &[
            "client",
            "create",
            "--id",
            "by-hand",
            "--scope",
            "a b",
            "--audience",
            "https://x.example",
            "--grant",
            "token-exchange",
            "--json",
        ],
    ));
    let first = stdout(&run(&store, &["export"]));
    let exported = dir.join("exported.yaml");
    std::fs::write(&exported, &first).unwrap();

    let other = dir.join("other-store");
    let out2 = dir.join("secrets-2.json");
    stdout(&apply(
        &other,
        &exported,
        &["--secrets-out", out2.to_str().unwrap()],
    ));
    assert_eq!(stdout(&run(&other, &["export"])), first);
    assert_eq!(stdout(&apply(&other, &exported, &[])), "no changes\n");
    // JSON is YAML: the same store as a JSON file applies as is.
    let as_json: serde_json::Value = serde_yaml_ng::from_str(&first).unwrap();
    let json_file = dir.join("exported.json");
    std::fs::write(&json_file, as_json.to_string()).unwrap();
    assert_eq!(stdout(&apply(&other, &json_file, &[])), "no changes\n");
    std::fs::remove_dir_all(&dir).unwrap();
}
