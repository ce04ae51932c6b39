//! `kafkit --help` as a user reads it: every command is listed with a
//! one-line explanation, and `kafkit <command> [<subcommand>] --help`
//! works for each of them (exit status 0, a usage line). No broker needed.

use std::process::Command;

/// Runs kafkit with `args`; (exit status, stdout).
fn kafkit(args: &[&str]) -> (Option<i32>, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_kafkit"))
        .args(args)
        .output()
        .expect("run kafkit");
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// The `Commands:` section of a help text: (name, explanation) per line.
fn commands(help: &str) -> Vec<(String, String)> {
    help.lines()
        .skip_while(|l| l.trim() != "Commands:")
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .filter_map(|l| {
            let l = l.trim();
            let (name, rest) = l.split_once(' ')?;
            let name = name.trim_end_matches(',').to_owned();
            // `metadata, -L  List ...`: drop the kcat flag.
            let rest = rest.trim_start();
            let rest = match rest.strip_prefix('-') {
                Some(flagged) => flagged.split_once(' ').map_or("", |(_, r)| r),
                None => rest,
            };
            Some((name, rest.trim().to_owned()))
        })
        .filter(|(name, _)| name != "help")
        .collect()
}

#[test]
fn every_command_is_listed_with_an_explanation_and_has_its_own_help() {
    let (code, help) = kafkit(&["--help"]);
    assert_eq!(code, Some(0), "{help}");
    let top = commands(&help);
    let names: Vec<&str> = top.iter().map(|(n, _)| n.as_str()).collect();
    for expected in [
        "metadata",
        "produce",
        "topics",
        "groups",
        "offsets",
        "consume",
        "query",
        "configs",
        "cluster",
        "logdirs",
        "users",
        "acls",
        "transactions",
        "producers",
    ] {
        assert!(names.contains(&expected), "--help lacks {expected}: {help}");
    }
    let mut checked = 0;
    for (name, about) in &top {
        assert!(about.len() > 10, "{name}: no explanation in --help: {help}");
        let (code, sub_help) = kafkit(&[name, "--help"]);
        assert_eq!(code, Some(0), "kafkit {name} --help: {sub_help}");
        assert!(sub_help.contains("Usage: kafkit"), "{sub_help}");
        checked += 1;
        for (sub, about) in commands(&sub_help) {
            assert!(about.len() > 10, "{name} {sub}: no explanation: {sub_help}");
            let (code, leaf) = kafkit(&[name, &sub, "--help"]);
            assert_eq!(code, Some(0), "kafkit {name} {sub} --help: {leaf}");
            assert!(
                leaf.contains(&format!("Usage: kafkit {name} {sub}")),
                "{leaf}"
            );
            checked += 1;
        }
    }
    assert!(checked > 25, "only {checked} commands checked");
}
