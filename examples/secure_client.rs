//! Connecting to a cluster that needs TLS and SASL, configured with the same
//! keys kcat and librdkafka take.
//!
//! ```text
//! KAFKA_BROKERS=broker:9093 KAFKA_USER=alice KAFKA_PASSWORD=... \
//!   cargo run --example secure_client -- /path/to/ca.pem
//! ```
//!
//! Without a CA path the operating system's trust store is used.

use kafkit::{Client, ClientConfig};

type BoxError = Box<dyn std::error::Error>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let var = |name: &str| std::env::var(name).map_err(|_| format!("set {name}"));
    let mut config = ClientConfig::default();
    config.set("bootstrap.servers", &var("KAFKA_BROKERS")?)?;
    config.set("security.protocol", "SASL_SSL")?;
    config.set("sasl.mechanism", "SCRAM-SHA-512")?;
    config.set("sasl.username", &var("KAFKA_USER")?)?;
    config.set("sasl.password", &var("KAFKA_PASSWORD")?)?;
    if let Some(ca) = std::env::args().nth(1) {
        config.set("ssl.ca.location", &ca)?;
    }
    // The password is not in this output: `Debug` prints it as ***.
    println!("{:?}", config.security);
    let client = Client::connect(config).await?;
    for broker in client.metadata().brokers.values() {
        println!("broker {broker:?}");
    }
    client.close();
    Ok(())
}
