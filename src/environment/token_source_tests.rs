//! The order the sources count in, and what is said when one cannot be used.

use std::collections::HashMap;
use std::ffi::OsString;
use std::path::Path;

use super::*;

const VARIABLE: &str = "ATATT3xFfGF0-variable=0123ABCD";
const IN_FILE: &str = "ATATT3xFfGF0-file=0123ABCD";
const CREDENTIAL: &str = "ATATT3xFfGF0-credential=0123ABCD";

/// A temp dir with a token file and a credentials directory holding the credential.
struct Files {
    dir: tempfile::TempDir,
}

impl Files {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let token = dir.path().join("token");
        let credential = dir.path().join("credentials").join(CREDENTIAL_NAME);
        std::fs::create_dir(dir.path().join("credentials")).unwrap();
        std::fs::write(&token, format!("{IN_FILE}\n")).unwrap();
        std::fs::write(&credential, CREDENTIAL).unwrap();
        for path in [token, credential] {
            private(&path);
        }
        Self { dir }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The sources `vars` set.
    fn environment(&self, vars: &[(&str, &str)]) -> EnvironmentToken {
        let vars: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), OsString::from(v)))
            .collect();
        EnvironmentToken::from_lookup(|name| vars.get(name).cloned())
    }
}

/// Mode 0600, whatever the umask made.
#[cfg(unix)]
fn private(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}

#[cfg(not(unix))]
fn private(_: &Path) {}

fn given(resolved: Resolved) -> (String, Source) {
    match resolved {
        Resolved::Given(given) => (given.token.expose().to_owned(), given.source),
        other => panic!("no token: {other:?}"),
    }
}

#[test]
fn the_variable_then_the_file_then_the_credential_then_nothing() {
    let files = Files::new();
    let (file, credentials) = (files.path("token"), files.path("credentials"));
    let credential_path = Path::new(&credentials).join(CREDENTIAL_NAME);

    let all_but_file = files.environment(&[
        (TOKEN_ENV, VARIABLE),
        (CREDENTIALS_DIRECTORY_ENV, &credentials),
    ]);
    assert_eq!(
        given(all_but_file.resolve()),
        (VARIABLE.to_owned(), Source::Variable)
    );
    let file_and_credential = files.environment(&[
        (TOKEN_FILE_ENV, &file),
        (CREDENTIALS_DIRECTORY_ENV, &credentials),
    ]);
    assert_eq!(
        given(file_and_credential.resolve()),
        (IN_FILE.to_owned(), Source::File(file.clone().into()))
    );
    let credential = files.environment(&[(CREDENTIALS_DIRECTORY_ENV, &credentials)]);
    assert_eq!(
        given(credential.resolve()),
        (
            CREDENTIAL.to_owned(),
            Source::SystemdCredential(credential_path)
        )
    );
    // A credentials directory without ours (the service has other credentials): not set.
    let other = files.environment(&[(CREDENTIALS_DIRECTORY_ENV, &files.path(""))]);
    assert!(matches!(other.resolve(), Resolved::Nothing));
    // Empty values are unset, as for the variable.
    let empty = files.environment(&[(TOKEN_ENV, " \n"), (TOKEN_FILE_ENV, "")]);
    assert!(matches!(empty.resolve(), Resolved::Nothing));
}

#[test]
fn the_variable_and_the_file_together_give_nothing_and_say_so() {
    let files = Files::new();
    let both = files.environment(&[
        (TOKEN_ENV, VARIABLE),
        (TOKEN_FILE_ENV, &files.path("token")),
    ]);
    match both.resolve() {
        Resolved::Unusable(why) => {
            assert!(
                why.contains("both set") && why.contains("unset one"),
                "{why}"
            );
            assert!(!why.contains("ATATT"), "{why}");
        }
        other => panic!("{other:?}"),
    }
    let survey = both.survey();
    assert!(survey.both_set && survey.found.len() == 2, "{survey:?}");
    // Control: each alone gives its token.
    for vars in [
        [(TOKEN_ENV, VARIABLE)],
        [(TOKEN_FILE_ENV, &files.path("token"))],
    ] {
        assert!(matches!(
            files.environment(&vars).resolve(),
            Resolved::Given(_)
        ));
    }
}

#[test]
fn a_file_that_cannot_be_used_is_named_and_the_credential_after_it_is_not_used() {
    let files = Files::new();
    let missing = files.path("absent");
    let environment = files.environment(&[
        (TOKEN_FILE_ENV, &missing),
        (CREDENTIALS_DIRECTORY_ENV, &files.path("credentials")),
    ]);
    match environment.resolve() {
        Resolved::Unusable(why) => assert_eq!(
            why,
            format!("BITBUCKET_API_TOKEN_FILE ({missing}) is not used: {missing} does not exist")
        ),
        other => panic!("{other:?}"),
    }
    let survey = environment.survey();
    assert_eq!(survey.found.len(), 2, "the survey shows the credential too");
}

#[test]
fn a_file_keeps_every_token_out_of_the_stores_the_variable_only_its_own() {
    let files = Files::new();
    let other = Token::new("ATATT3xFfGF0-other=0123ABCD".to_owned());
    let variable = files.environment(&[(TOKEN_ENV, VARIABLE)]);
    assert!(variable.keeps_out_of_stores(&Token::new(VARIABLE.to_owned())));
    assert!(!variable.keeps_out_of_stores(&other));
    let file = files.environment(&[(TOKEN_FILE_ENV, &files.path("token"))]);
    assert!(
        file.keeps_out_of_stores(&other),
        "rotated: the file is where it lives"
    );
    let credential = files.environment(&[(CREDENTIALS_DIRECTORY_ENV, &files.path("credentials"))]);
    assert!(credential.keeps_out_of_stores(&other));
    assert!(!EnvironmentToken::default().keeps_out_of_stores(&other));
}

#[test]
fn the_source_of_a_rejected_token_is_the_one_that_holds_it_now() {
    let files = Files::new();
    let file = files.environment(&[(TOKEN_FILE_ENV, &files.path("token"))]);
    assert_eq!(
        file.source_of(&Token::new(IN_FILE.to_owned())),
        Some(Source::File(files.path("token").into()))
    );
    assert_eq!(file.source_of(&Token::new(VARIABLE.to_owned())), None);
    let how = Source::File(files.path("token").into()).how_to_replace();
    assert!(how.contains(&files.path("token")), "{how}");
    let how = Source::SystemdCredential(files.path("x").into()).how_to_replace();
    assert!(how.contains("LoadCredential="), "{how}");
}
