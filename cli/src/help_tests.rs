//! `kafkit --help` explains every command: each subcommand, at every
//! level, has a one-line description, and its parent's help lists it with
//! that line (the binary-level check is `cli/tests/cli_help.rs`).

use clap::CommandFactory;

use crate::args::Cli;

/// Every subcommand path under `cmd` (`["topics", "create"]`, ...).
fn walk(cmd: &clap::Command, path: Vec<String>, out: &mut Vec<(Vec<String>, clap::Command)>) {
    for sub in cmd.get_subcommands() {
        let mut p = path.clone();
        p.push(sub.get_name().to_owned());
        out.push((p.clone(), sub.clone()));
        walk(sub, p, out);
    }
}

#[test]
fn every_subcommand_has_a_one_line_explanation_in_its_parents_help() {
    let mut root = Cli::command();
    root.build();
    let mut all = Vec::new();
    walk(&root, Vec::new(), &mut all);
    assert!(all.len() > 20, "{} subcommands", all.len());
    for (path, sub) in &all {
        let about = sub.get_about().map(ToString::to_string).unwrap_or_default();
        assert!(
            !about.trim().is_empty(),
            "kafkit {path:?} has no description"
        );
        assert!(!about.contains('\n'), "kafkit {path:?}: {about:?}");
        let mut parent = root.clone();
        for name in &path[..path.len() - 1] {
            parent = parent
                .find_subcommand(name)
                .cloned()
                .unwrap_or_else(|| panic!("no {name} in {path:?}"));
        }
        let help = parent.render_help().to_string();
        let line = help
            .lines()
            .find(|l| l.trim_start().starts_with(path[path.len() - 1].as_str()))
            .unwrap_or_else(|| panic!("{path:?} missing from its parent's help:\n{help}"));
        let first_words: String = about
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        assert!(
            line.contains(&first_words),
            "{path:?}: {line:?} lacks {first_words:?}"
        );
    }
}

/// Every command that is not a record stream (`produce`, `consume`,
/// `query`) takes `--json`: admin output is scriptable everywhere.
#[test]
fn every_admin_command_takes_json() {
    let mut root = Cli::command();
    root.build();
    let mut all = Vec::new();
    walk(&root, Vec::new(), &mut all);
    let streams = ["produce", "consume", "query", "help"];
    let mut leaves = 0;
    for (path, sub) in all {
        if sub.has_subcommands() || path.iter().any(|p| streams.contains(&p.as_str())) {
            continue;
        }
        leaves += 1;
        assert!(
            sub.get_arguments().any(|a| a.get_long() == Some("json")),
            "kafkit {} has no --json",
            path.join(" ")
        );
    }
    assert!(leaves > 20, "{leaves} admin commands");
}
