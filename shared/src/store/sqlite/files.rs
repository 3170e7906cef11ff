//! The store's files are private to their owner: in `local` signer mode the database holds
//! the plaintext signing key. A new data directory is created 0700 and a new database 0600
//! whatever the umask; SQLite's unix VFS gives the `-wal` and `-shm` files it creates the
//! database file's mode. An existing store keeps its modes, and [`permission_warning`] says
//! how to tighten them.

use std::fs::{DirBuilder, OpenOptions};
use std::io::ErrorKind;
use std::path::Path;

use crate::store::StoreError;

/// One sentence naming each path of the store at `db` (its directory, the database and its
/// `-wal` and `-shm` files) that other users may access, with its mode and the `chmod` that
/// makes it private; `None` when every existing one is private. Always `None` off Unix.
#[cfg(unix)]
pub fn permission_warning(db: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt as _;
    let mode = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| m.permissions().mode() & 0o7777)
    };
    let mut open = Vec::new();
    // The directory matters when others may write to it (replace or add files); that they
    // can list it reveals no key once the files are private, so a home directory at 0755
    // is no cause for alarm. A sticky directory such as /tmp is shared by design: telling
    // the operator to chmod it would break it, and the files in it are checked anyway.
    let dir = parent(db).and_then(|d| Some((d, mode(d)?)));
    if let Some((dir, m)) = dir.filter(|(_, m)| m & 0o022 != 0 && m & 0o1000 == 0) {
        open.push((dir.to_path_buf(), m, "700"));
    }
    for file in store_files(db) {
        if let Some(m) = mode(&file).filter(|m| m & 0o077 != 0) {
            open.push((file, m, "600"));
        }
    }
    if open.is_empty() {
        return None;
    }
    let modes: Vec<String> = open
        .iter()
        .map(|(p, m, _)| format!("{} is mode {m:04o}", p.display()))
        .collect();
    let fix: Vec<String> = open
        .iter()
        .map(|(p, _, want)| format!("chmod {want} {}", shell_word(p)))
        .collect();
    Some(format!(
        "the store is open to other users ({}) and can hold the signing key: run `{}`",
        modes.join(", "),
        fix.join(" && ")
    ))
}

/// Always `None` off Unix.
#[cfg(not(unix))]
pub fn permission_warning(_db: &Path) -> Option<String> {
    None
}

/// Creates `db`'s missing directories (0700) and `db` itself (0600, empty, which SQLite
/// takes for a new database), leaving existing ones as they are.
pub(super) fn create_private(db: &Path) -> Result<(), StoreError> {
    let cannot = |p: &Path, e: std::io::Error| {
        StoreError::unavailable_by(format!("cannot create {}: {e}", p.display()), e)
    };
    if let Some(dir) = parent(db) {
        let mut builder = DirBuilder::new();
        builder.recursive(true);
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(dir).map_err(|e| cannot(dir, e))?;
    }
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    match options.open(db) {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(cannot(db, e)),
    }
}

/// The directory `db` is in, unless it is the working directory named by an empty path.
fn parent(db: &Path) -> Option<&Path> {
    db.parent().filter(|d| !d.as_os_str().is_empty())
}

/// The database and the write-ahead log and shared-memory index SQLite keeps beside it.
#[cfg(unix)]
fn store_files(db: &Path) -> [std::path::PathBuf; 3] {
    let with = |suffix: &str| {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        std::path::PathBuf::from(name)
    };
    [db.to_path_buf(), with("-wal"), with("-shm")]
}

/// `p` as one shell word, quoted only when it needs to be, so the `chmod` can be pasted
/// (and never taken for an option).
#[cfg(unix)]
fn shell_word(p: &Path) -> String {
    let mut s = p.display().to_string();
    if s.starts_with('-') {
        s.insert_str(0, "./");
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "/._-+,:@%".contains(c);
    if !s.is_empty() && s.chars().all(plain) {
        return s;
    }
    format!("'{}'", s.replace('\'', r"'\''"))
}

#[cfg(test)]
#[cfg(unix)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn chmod(p: &Path, mode: u32) {
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn a_private_store_has_no_warning_and_an_open_one_names_each_path() {
        let dir = std::env::temp_dir().join(format!("tokenmint-files-{}", std::process::id()));
        let db = dir.join("t.db");
        create_private(&db).unwrap();
        assert_eq!(permission_warning(&db), None);
        chmod(&dir, 0o755);
        chmod(&db, 0o644);
        // Others may list the directory, not write to it: only the file is named.
        let d = dir.display();
        assert_eq!(
            permission_warning(&db).unwrap(),
            format!(
                "the store is open to other users ({d}/t.db is mode 0644) and can hold the \
                 signing key: run `chmod 600 {d}/t.db`"
            )
        );
        chmod(&dir, 0o775);
        chmod(&db, 0o644);
        let d = dir.display();
        assert_eq!(
            permission_warning(&db).unwrap(),
            format!(
                "the store is open to other users ({d} is mode 0775, {d}/t.db is mode 0644) and \
                 can hold the signing key: run `chmod 700 {d} && chmod 600 {d}/t.db`"
            )
        );
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn a_sticky_shared_directory_is_not_to_be_chmod_ed() {
        let dir = std::env::temp_dir().join(format!("tokenmint-sticky-{}", std::process::id()));
        let db = dir.join("t.db");
        create_private(&db).unwrap();
        chmod(&dir, 0o1777);
        assert_eq!(permission_warning(&db), None);
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn the_chmod_quotes_what_the_shell_would_split() {
        assert_eq!(shell_word(Path::new("/var/lib/tm.db")), "/var/lib/tm.db");
        assert_eq!(shell_word(Path::new("my store/t.db")), "'my store/t.db'");
        assert_eq!(shell_word(Path::new("it's")), r"'it'\''s'");
        assert_eq!(shell_word(Path::new("-data/t.db")), "./-data/t.db");
    }
}
