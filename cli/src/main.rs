//! `kafkit`: a kcat-style command-line tool on the pure-Rust kafkit client.
//!
//! ```sh
//! kafkit metadata -b localhost:9092 [-t TOPIC] [-O]
//! printf 'k1:v1\nk2:v2\n' | kafkit produce -b localhost:9092 -t orders -K : -H src=cli -z lz4
//! kafkit topics create -b localhost:9092 -t orders -p 6 -r 3 --config cleanup.policy=compact
//! kafkit topics list|delete ...; kafkit groups list|describe -G GROUP
//! kafkit offsets -b localhost:9092 -t orders -G billing
//! kafkit configs describe|alter --topic T|--broker N [--set K=V] [--delete K] [--json]
//! kafkit cluster; kafkit topics describe|create-partitions|delete-records ...
//! kafkit groups offsets|reset-offsets|delete-offsets ... [--json]
//! kafkit consume -b localhost:9092 -t orders [-G GROUP] [-o beginning|end|stored|OFFSET|-N] [-c COUNT] [-e] [-J] [-f FORMAT]
//! kafkit query -b localhost:9092 -t orders:0:1700000000000
//! kafkit transactions list|describe ID; kafkit producers -t orders:0 [--json]
//! kafkit -C -b localhost:9092 -t orders -e -d cgrp,protocol -v   # kcat's flags
//! ```
//!
//! kcat's mode flags `-L`, `-P`, `-C` and `-Q` are the subcommands
//! `metadata`, `produce`, `consume` and `query`. Warnings and errors from
//! the library are always printed on stderr; `-d AREAS` and `-v` print more
//! (see `logging.rs`).
//!
//! Exit status: 0 on success; 1 when a record failed, the cluster could not
//! be reached, or (`metadata -t`) the broker reported an error for the topic
//! (`topics`, `groups describe`: for any topic or group asked about);
//! 2 for a bad command line (unknown `-X` properties included).

use std::process::ExitCode;

use clap::{CommandFactory, Parser};

mod admin;
mod admin_acls;
mod admin_args;
mod admin_disks;
mod admin_json;
mod admin_ops;
mod admin_share;
mod admin_txn;
mod admin_users;
mod args;
mod common_args;
mod consume;
#[cfg(test)]
mod help_tests;
mod logging;
mod metadata;
mod metadata_json;
mod modes;
mod produce;
mod progress;
mod query;
mod settings;

use args::{Cli, Command};

fn main() -> ExitCode {
    let command = Cli::command();
    let names: Vec<&str> = command.get_subcommands().map(|c| c.get_name()).collect();
    let cli = Cli::parse_from(modes::kcat_order(std::env::args_os().collect(), &names));
    logging::init(&cli.debug, cli.verbose);
    let progress = cli.progress();
    let conn = match &cli.command {
        Command::Metadata(args) => &args.conn,
        Command::Produce(args) => &args.conn,
        Command::Topics(cmd) => admin::topics_connection(cmd),
        Command::Groups(cmd) => admin::groups_connection(cmd),
        Command::Offsets(args) => &args.conn,
        Command::Consume(args) => &args.conn,
        Command::Query(args) => &args.conn,
        Command::Configs(cmd) => admin_ops::configs_connection(cmd),
        Command::Cluster(args) => &args.conn,
        Command::LogDirs(args) => &args.conn,
        Command::Users(cmd) => admin_users::users_connection(cmd),
        Command::Acls(cmd) => admin_acls::acls_connection(cmd),
        Command::Transactions(cmd) => admin_txn::transactions_connection(cmd),
        Command::Producers(args) => &args.conn,
        Command::ShareGroups(cmd) => admin_share::share_groups_connection(cmd),
    };
    if let Command::Consume(args) = &cli.command {
        if let Err(e) = args.check() {
            Cli::command()
                .error(clap::error::ErrorKind::ArgumentConflict, e)
                .exit()
        }
    }
    let client =
        settings::client_config(conn.brokers.as_deref(), &conn.settings).unwrap_or_else(|e| {
            Cli::command()
                .error(clap::error::ErrorKind::MissingRequiredArgument, e)
                .exit()
        });
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("kafkit: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Metadata(args) => metadata::run(client, args).await,
            Command::Produce(args) => produce::run(client, args, progress)
                .await
                .map(|o| o.failed == 0),
            Command::Topics(cmd) => admin::topics(client, cmd).await,
            Command::Groups(cmd) => admin::groups(client, cmd).await,
            Command::Offsets(args) => admin::offsets(client, args).await,
            Command::Consume(args) => consume::run(client, args, progress).await,
            Command::Query(args) => query::run(client, args).await,
            Command::Configs(cmd) => admin_ops::configs(client, cmd).await,
            Command::Cluster(args) => admin_ops::cluster(client, args).await,
            Command::LogDirs(args) => admin_disks::log_dirs(client, args).await,
            Command::Users(cmd) => admin_users::users(client, cmd).await,
            Command::Acls(cmd) => admin_acls::acls(client, cmd).await,
            Command::Transactions(cmd) => admin_txn::transactions(client, cmd).await,
            Command::Producers(args) => admin_txn::producers(client, args).await,
            Command::ShareGroups(cmd) => admin_share::share_groups(client, cmd).await,
        }
    });
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("kafkit: {e}");
            ExitCode::FAILURE
        }
    }
}
