//! `kafkit users describe|upsert|delete`: SCRAM credentials
//! (DescribeUserScramCredentials, AlterUserScramCredentials). The password
//! is read from `--password` or, with `--password-stdin`, from the first
//! line of standard input; only its salted hash is sent. One line per user,
//! or one JSON document with `--json`; exit status 1 when any user failed.
//!
//! ```text
//! $ kafkit users upsert --user alice --mechanism SCRAM-SHA-256 --password-stdin
//! alice  upserted
//! $ kafkit users describe --user alice
//! alice  SCRAM-SHA-256 iterations=8192
//! ```

use clap::{Args, Subcommand, ValueEnum};
use kafkit::admin::{PerItem, ScramAlteration, ScramCredential, ScramMechanism};
use kafkit::ClientConfig;
use serde_json::{json, Value};

use crate::admin_ops::{connect, emit};
use crate::common_args::Connection;

/// `kafkit users ...`.
#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Which SCRAM mechanisms (and iteration counts) users have.
    Describe(UsersDescribeArgs),
    /// Create or replace users' SCRAM credentials.
    Upsert(UsersUpsertArgs),
    /// Delete users' SCRAM credentials.
    Delete(UsersDeleteArgs),
}

/// A SCRAM mechanism on the command line.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Mechanism {
    /// SCRAM-SHA-256.
    #[value(name = "SCRAM-SHA-256")]
    Sha256,
    /// SCRAM-SHA-512.
    #[value(name = "SCRAM-SHA-512")]
    Sha512,
}

impl Mechanism {
    fn scram(self) -> ScramMechanism {
        match self {
            Mechanism::Sha256 => ScramMechanism::Sha256,
            Mechanism::Sha512 => ScramMechanism::Sha512,
        }
    }
}

/// `kafkit users describe`.
#[derive(Debug, Args)]
pub struct UsersDescribeArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The user; repeatable. Default: every user with a credential.
    #[arg(long = "user", value_name = "NAME")]
    pub users: Vec<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit users upsert`.
#[derive(Debug, Args)]
pub struct UsersUpsertArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The user; repeatable (all get the same password).
    #[arg(long = "user", value_name = "NAME", required = true)]
    pub users: Vec<String>,
    /// The mechanism.
    #[arg(long = "mechanism", value_enum, default_value = "SCRAM-SHA-256")]
    pub mechanism: Mechanism,
    /// The iteration count (Kafka takes 4096 to 16384).
    #[arg(long = "iterations", default_value_t = 8192)]
    pub iterations: u32,
    /// The password (visible in the process list; see --password-stdin).
    #[arg(
        long = "password",
        value_name = "PASSWORD",
        required_unless_present = "password_stdin",
        conflicts_with = "password_stdin"
    )]
    pub password: Option<String>,
    /// Read the password from the first line of standard input.
    #[arg(long = "password-stdin")]
    pub password_stdin: bool,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// `kafkit users delete`.
#[derive(Debug, Args)]
pub struct UsersDeleteArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// The user; repeatable.
    #[arg(long = "user", value_name = "NAME", required = true)]
    pub users: Vec<String>,
    /// The mechanism.
    #[arg(long = "mechanism", value_enum, default_value = "SCRAM-SHA-256")]
    pub mechanism: Mechanism,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// The connection options of `cmd`.
pub fn users_connection(cmd: &UsersCommand) -> &Connection {
    match cmd {
        UsersCommand::Describe(a) => &a.conn,
        UsersCommand::Upsert(a) => &a.conn,
        UsersCommand::Delete(a) => &a.conn,
    }
}

fn mechanism_name(c: &ScramCredential) -> &'static str {
    c.mechanism.map_or("unknown", ScramMechanism::name)
}

/// Runs `kafkit users ...`: `Ok(false)` when a user failed.
pub async fn users(config: ClientConfig, cmd: UsersCommand) -> Result<bool, String> {
    match cmd {
        UsersCommand::Describe(a) => describe(config, a).await,
        UsersCommand::Upsert(a) => {
            let password = match (a.password, a.password_stdin) {
                (Some(p), _) => p,
                (None, _) => read_password()?,
            };
            let changes: Vec<ScramAlteration> = a
                .users
                .iter()
                .map(|u| ScramAlteration::Upsert {
                    user: u.clone(),
                    mechanism: a.mechanism.scram(),
                    iterations: a.iterations,
                    password: password.clone(),
                })
                .collect();
            alter(config, &changes, a.json, "upserted").await
        }
        UsersCommand::Delete(a) => {
            let changes: Vec<ScramAlteration> = a
                .users
                .iter()
                .map(|u| ScramAlteration::Delete {
                    user: u.clone(),
                    mechanism: a.mechanism.scram(),
                })
                .collect();
            alter(config, &changes, a.json, "deleted").await
        }
    }
}

fn read_password() -> Result<String, String> {
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .map_err(|e| format!("reading the password from stdin: {e}"))?;
    let password = line.trim_end_matches(['\r', '\n']).to_owned();
    if password.is_empty() {
        return Err("no password on stdin".to_owned());
    }
    Ok(password)
}

async fn describe(config: ClientConfig, a: UsersDescribeArgs) -> Result<bool, String> {
    let admin = connect(config).await?;
    let users = (!a.users.is_empty()).then_some(a.users.as_slice());
    let result = admin.describe_user_scram_credentials(users).await;
    admin.close();
    let results = result.map_err(|e| format!("describe users: {e}"))?;
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let mut text = Vec::new();
    let mut values = Vec::new();
    for (user, r) in &results {
        match r {
            Ok(creds) => {
                let list: Vec<String> = creds
                    .iter()
                    .map(|c| format!("{} iterations={}", mechanism_name(c), c.iterations))
                    .collect();
                text.push(format!("{user}  {}", list.join("  ")));
                let creds: Vec<Value> = creds
                    .iter()
                    .map(|c| json!({"mechanism": mechanism_name(c), "iterations": c.iterations}))
                    .collect();
                values.push(json!({"user": user, "ok": true, "credentials": creds}));
            }
            Err(e) => {
                text.push(format!("{user} failed: {e}"));
                values.push(json!({"user": user, "ok": false, "error": e.to_string()}));
            }
        }
    }
    emit(a.json, Value::Array(values), text).map(|()| ok)
}

async fn alter(
    config: ClientConfig,
    changes: &[ScramAlteration],
    json_out: bool,
    verb: &str,
) -> Result<bool, String> {
    let admin = connect(config).await?;
    let result = admin.alter_user_scram_credentials(changes).await;
    admin.close();
    let results: PerItem<String> = result.map_err(|e| format!("alter users: {e}"))?;
    let ok = results.iter().all(|(_, r)| r.is_ok());
    let text = results
        .iter()
        .map(|(u, r)| match r {
            Ok(()) => format!("{u}  {verb}"),
            Err(e) => format!("{u} failed: {e}"),
        })
        .collect();
    let value = Value::Array(
        results
            .iter()
            .map(|(u, r)| match r {
                Ok(()) => json!({"user": u, "ok": true}),
                Err(e) => json!({"user": u, "ok": false, "error": e.to_string()}),
            })
            .collect(),
    );
    emit(json_out, value, text).map(|()| ok)
}
