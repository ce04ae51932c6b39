//! `kafkit acls list|create|delete` (DescribeAcls, CreateAcls, DeleteAcls).
//! Names are Kafka's (`--resource-type topic --operation read
//! --permission allow`, any case, `-` or `_`). One line per binding, or one
//! JSON document with `--json`; exit status 1 when any item failed.
//!
//! ```text
//! $ kafkit acls create --resource-type topic --resource orders --principal User:alice --operation read
//! created TOPIC:LITERAL:orders User:alice@* READ ALLOW
//! $ kafkit acls list --principal User:alice
//! TOPIC:LITERAL:orders User:alice@* READ ALLOW
//! ```

use clap::{Args, Subcommand};
use kafkit::admin::{
    AclBinding, AclBindingFilter, OPERATIONS, PATTERN_TYPES, PERMISSIONS, RESOURCE_TYPES,
};
use kafkit::ClientConfig;
use serde_json::{json, Value};

use crate::admin_ops::{connect, emit};
use crate::common_args::Connection;

/// `kafkit acls ...`.
#[derive(Debug, Subcommand)]
pub enum AclsCommand {
    /// The bindings matching the options (every binding without any).
    List(AclArgs),
    /// Add one binding.
    Create(AclArgs),
    /// Delete the bindings matching the options.
    Delete(AclArgs),
}

/// The binding (create) or filter (list, delete) of an `acls` command.
#[derive(Debug, Args)]
pub struct AclArgs {
    /// Brokers and properties.
    #[command(flatten)]
    pub conn: Connection,
    /// topic, group, cluster, transactional-id, delegation-token, user (any: all).
    #[arg(long = "resource-type", value_name = "TYPE")]
    pub resource_type: Option<String>,
    /// The resource name (`kafka-cluster` for the cluster).
    #[arg(long = "resource", value_name = "NAME")]
    pub resource: Option<String>,
    /// literal, prefixed (filters also: any, match). Default: literal to
    /// create, any to list or delete.
    #[arg(long = "pattern", value_name = "PATTERN")]
    pub pattern: Option<String>,
    /// The principal, e.g. User:alice.
    #[arg(long = "principal", value_name = "PRINCIPAL")]
    pub principal: Option<String>,
    /// The host. Default: `*` to create, any to list or delete.
    #[arg(long = "host", value_name = "HOST")]
    pub host: Option<String>,
    /// read, write, create, delete, alter, describe, all, idempotent-write, ...
    #[arg(long = "operation", value_name = "OP")]
    pub operation: Option<String>,
    /// allow or deny. Default: allow to create, any to list or delete.
    #[arg(long = "permission", value_name = "allow|deny")]
    pub permission: Option<String>,
    /// Print JSON.
    #[arg(long = "json")]
    pub json: bool,
}

/// The connection options of `cmd`.
pub fn acls_connection(cmd: &AclsCommand) -> &Connection {
    match cmd {
        AclsCommand::List(a) | AclsCommand::Create(a) | AclsCommand::Delete(a) => &a.conn,
    }
}

fn code(table: &[(&str, i8)], what: &str, name: Option<&str>, default: &str) -> Result<i8, String> {
    let name = name.unwrap_or(default);
    let upper = name.to_ascii_uppercase().replace('-', "_");
    table
        .iter()
        .find(|(n, _)| *n == upper)
        .map(|(_, c)| *c)
        .ok_or_else(|| {
            let known: Vec<&str> = table.iter().map(|(n, _)| *n).collect();
            format!("unknown {what} {name:?} (one of {})", known.join(", "))
        })
}

fn filter(a: &AclArgs) -> Result<AclBindingFilter, String> {
    Ok(AclBindingFilter {
        resource_type: code(
            RESOURCE_TYPES,
            "resource type",
            a.resource_type.as_deref(),
            "any",
        )?,
        resource_name: a.resource.clone(),
        pattern_type: code(PATTERN_TYPES, "pattern", a.pattern.as_deref(), "any")?,
        principal: a.principal.clone(),
        host: a.host.clone(),
        operation: code(OPERATIONS, "operation", a.operation.as_deref(), "any")?,
        permission: code(PERMISSIONS, "permission", a.permission.as_deref(), "any")?,
    })
}

fn binding(a: &AclArgs) -> Result<AclBinding, String> {
    let need = |v: &Option<String>, flag: &str| v.clone().ok_or(format!("{flag} is required"));
    Ok(AclBinding {
        resource_type: code(
            RESOURCE_TYPES,
            "resource type",
            a.resource_type.as_deref(),
            "",
        )?,
        resource_name: need(&a.resource, "--resource")?,
        pattern_type: code(PATTERN_TYPES, "pattern", a.pattern.as_deref(), "literal")?,
        principal: need(&a.principal, "--principal")?,
        host: a.host.clone().unwrap_or_else(|| "*".to_owned()),
        operation: code(OPERATIONS, "operation", a.operation.as_deref(), "")?,
        permission: code(PERMISSIONS, "permission", a.permission.as_deref(), "allow")?,
    })
}

fn binding_json(b: &AclBinding) -> Value {
    json!({"acl": b.describe(), "resource": b.resource_name, "principal": b.principal, "host": b.host})
}

/// Runs `kafkit acls ...`: `Ok(false)` when an item failed.
pub async fn acls(config: ClientConfig, cmd: AclsCommand) -> Result<bool, String> {
    let (json_out, result) = match &cmd {
        AclsCommand::List(a) => (a.json, list(config, a).await),
        AclsCommand::Create(a) => (a.json, create(config, a).await),
        AclsCommand::Delete(a) => (a.json, delete(config, a).await),
    };
    let (ok, value, text) = result?;
    emit(json_out, value, text).map(|()| ok)
}

type Outcome = Result<(bool, Value, Vec<String>), String>;

async fn list(config: ClientConfig, a: &AclArgs) -> Outcome {
    let f = filter(a)?;
    let admin = connect(config).await?;
    let found = admin.describe_acls(&f).await;
    admin.close();
    let found = found.map_err(|e| format!("list acls: {e}"))?;
    let value = Value::Array(found.iter().map(binding_json).collect());
    Ok((
        true,
        value,
        found.iter().map(AclBinding::describe).collect(),
    ))
}

async fn create(config: ClientConfig, a: &AclArgs) -> Outcome {
    let b = binding(a)?;
    let admin = connect(config).await?;
    let created = admin.create_acls(std::slice::from_ref(&b)).await;
    admin.close();
    let created = created.map_err(|e| format!("create acls: {e}"))?;
    let ok = created.iter().all(|(_, r)| r.is_ok());
    let mut text = Vec::new();
    let mut values = Vec::new();
    for (b, r) in &created {
        let mut v = binding_json(b);
        match r {
            Ok(()) => {
                text.push(format!("created {}", b.describe()));
                v["ok"] = json!(true);
            }
            Err(e) => {
                text.push(format!("{} failed: {e}", b.describe()));
                v["ok"] = json!(false);
                v["error"] = json!(e.to_string());
            }
        }
        values.push(v);
    }
    Ok((ok, Value::Array(values), text))
}

async fn delete(config: ClientConfig, a: &AclArgs) -> Outcome {
    let f = filter(a)?;
    let admin = connect(config).await?;
    let deleted = admin.delete_acls(std::slice::from_ref(&f)).await;
    admin.close();
    let deleted = deleted.map_err(|e| format!("delete acls: {e}"))?;
    let ok = deleted.iter().all(|(_, r)| r.is_ok());
    let mut text = Vec::new();
    let mut values = Vec::new();
    for (_, r) in &deleted {
        match r {
            Ok(gone) => {
                text.extend(gone.iter().map(|b| format!("deleted {}", b.describe())));
                let gone: Vec<Value> = gone.iter().map(binding_json).collect();
                values.push(json!({"ok": true, "deleted": gone}));
            }
            Err(e) => {
                text.push(format!("delete failed: {e}"));
                values.push(json!({"ok": false, "error": e.to_string()}));
            }
        }
    }
    Ok((ok, Value::Array(values), text))
}
