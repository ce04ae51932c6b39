//! kcat's mode flags where kcat users put them.
//!
//! clap takes `-L`, `-P`, `-C` and `-Q` as the subcommands `metadata`,
//! `produce`, `consume` and `query` only in first place; kcat takes them
//! anywhere (`kcat -b host -C -t topic`). Before parsing, a mode flag that
//! follows only options is moved to the front, and a command line with no
//! mode and no subcommand but `-G` (kcat's balanced-consumer mode,
//! `kcat -b host -G group topic...`) becomes `consume`.

use std::ffi::OsString;

/// kcat's mode flags.
const MODES: [&str; 4] = ["-L", "-P", "-C", "-Q"];

/// `args` (with the program name first) in the order clap expects.
pub fn kcat_order(mut args: Vec<OsString>, subcommands: &[&str]) -> Vec<OsString> {
    let is_subcommand = |a: &OsString| a.to_str().is_some_and(|a| subcommands.contains(&a));
    if args
        .get(1)
        .is_none_or(|a| is_subcommand(a) || MODES.iter().any(|m| a == m))
    {
        return args;
    }
    // The first mode flag or subcommand after the options.
    for i in 2..args.len() {
        if is_subcommand(&args[i]) {
            return args;
        }
        if MODES.iter().any(|m| args[i] == *m) {
            let mode = args.remove(i);
            args.insert(1, mode);
            return args;
        }
    }
    if args.iter().skip(1).any(|a| a == "-G") {
        args.insert(1, OsString::from("consume"));
    }
    args
}

#[cfg(test)]
mod tests {
    use super::*;

    const SUBCOMMANDS: &[&str] = &["metadata", "produce", "consume", "query", "topics"];

    fn order(args: &[&str]) -> Vec<String> {
        let args = std::iter::once("kafkit")
            .chain(args.iter().copied())
            .map(OsString::from)
            .collect();
        kcat_order(args, SUBCOMMANDS)
            .into_iter()
            .map(|a| a.into_string().unwrap())
            .collect()
    }

    #[test]
    fn a_mode_after_options_moves_to_the_front() {
        assert_eq!(
            order(&["-b", "h:1", "-C", "-t", "t", "-e"]),
            ["kafkit", "-C", "-b", "h:1", "-t", "t", "-e"]
        );
        assert_eq!(order(&["-b", "h:1", "-L"]), ["kafkit", "-L", "-b", "h:1"]);
        assert_eq!(
            order(&["-b", "h:1", "-G", "g", "t1", "t2"]),
            ["kafkit", "consume", "-b", "h:1", "-G", "g", "t1", "t2"]
        );
    }

    #[test]
    fn command_lines_clap_reads_already_stay_as_they_are() {
        for args in [
            &["-C", "-b", "h:1", "-t", "t"][..],
            &["consume", "-b", "h:1", "-t", "t", "-G", "g"],
            &["topics", "create", "-t", "-C"],
            &["-b", "h:1", "topics", "-C"],
            &["--help"],
            &[],
        ] {
            let want: Vec<String> = std::iter::once("kafkit")
                .chain(args.iter().copied())
                .map(str::to_owned)
                .collect();
            assert_eq!(order(args), want, "{args:?}");
        }
    }
}
