//! `status` and `logout --all` find every entry the store holds, whatever the metadata file
//! says (issue 10): the store itself is listed, on every store, each private to its test (a
//! listing sees the whole store). And no secret that is not an API token is shown in part.

use crate::rig::{Rig, StoreUnderTest};
use crate::support::fake_api_token;

fn status_and_logout_all_find_entries_the_metadata_does_not_know(store: StoreUnderTest) {
    let Some(mut rig) = Rig::private(store) else {
        return;
    };
    let host = rig.server.host();
    let known = rig.token.clone();
    rig.cli(&["login", "--stdin"], &known).assert_success();
    // Left by another tool or an older version: no metadata record.
    let planted = rig.secret(fake_api_token());
    rig.plant_as(&format!("{host}/acme"), &planted);
    let typed = rig.secret("HUNTER2-correct-horse-2024".to_owned());
    rig.plant_as(&format!("{host}/typed"), &typed);
    let metadata = rig
        .env
        .home()
        .join(".local/share/git-credential-bitbucket/metadata");
    std::fs::write(&metadata, "garbage\n").expect("corrupt the metadata");

    let out = rig.cli(&["status"], "");
    out.assert_success();
    let rows: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with(&host))
        .collect();
    assert_eq!(rows.len(), 3, "{out:?}");
    assert!(
        rows.iter().any(|r| r.contains("(all workspaces)")),
        "control: {out:?}"
    );
    let acme = rows
        .iter()
        .find(|r| r.contains(" acme "))
        .expect("acme listed");
    assert!(acme.contains(&format!("ATATT…{}", &planted[planted.len() - 4..])));
    let typed_row = rows
        .iter()
        .find(|r| r.contains(" typed "))
        .expect("typed listed");
    assert!(typed_row.contains("hash:"), "{typed_row}");
    for part in ["HUNTE", "HUNT", "2024"] {
        assert!(
            !typed_row.contains(part),
            "{typed_row} shows part of the password"
        );
    }

    let out = rig.cli(&["logout", "--all"], "");
    out.assert_success();
    assert_eq!(out.stdout.matches("Removed").count(), 3, "{out:?}");
    let out = rig.cli(&["status"], "");
    assert!(out.stdout.contains("no tokens stored"), "{out:?}");
}

on_every_store!(status_and_logout_all_find_entries_the_metadata_does_not_know);
