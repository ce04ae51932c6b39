//! tansu (a Kafka-compatible broker written in Rust) as a child process.
//!
//! [`Tansu::start`] runs one broker with in-memory storage on a free
//! loopback port and waits until it answers ApiVersions; dropping the handle
//! kills it. The binary is `$KAFKIT_TANSU`, else `/opt/tansu/bin/tansu`,
//! else `tansu` on the `PATH` (`.ci/run` installs it). Without a binary the
//! tests say so and return, unless `CI` or `KAFKIT_REQUIRE_TANSU` is set:
//! then they fail.
//!
//! Only std and kafkit's codecs are used, so the CLI's tests include this
//! file too (`#[path]`).
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use kafkit::protocol::frame::decode_response;
use kafkit::protocol::messages::api_versions::ApiVersionsRequest;
use kafkit::protocol::{encode_request, try_parse_frame};

/// A running tansu broker, killed on drop.
pub struct Tansu {
    child: Child,
    /// `127.0.0.1:PORT`.
    pub bootstrap: String,
    /// Where the broker's output goes.
    pub log: PathBuf,
}

fn required() -> bool {
    ["CI", "KAFKIT_REQUIRE_TANSU"]
        .iter()
        .any(|v| std::env::var_os(v).is_some_and(|s| !s.is_empty() && s != "0" && s != "false"))
}

/// The tansu binary, if there is one.
pub fn binary() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("KAFKIT_TANSU") {
        let p = PathBuf::from(p);
        return p.is_file().then_some(p);
    }
    let default = PathBuf::from("/opt/tansu/bin/tansu");
    if default.is_file() {
        return Some(default);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join("tansu"))
            .find(|p| p.is_file())
    })
}

impl Tansu {
    /// Starts a broker, or returns `None` after saying why when tansu is not
    /// installed and not required. Panics if it is required, or if it does
    /// not come up.
    pub fn start() -> Option<Self> {
        let Some(bin) = binary() else {
            assert!(
                !required(),
                "tansu is not installed (looked at $KAFKIT_TANSU, /opt/tansu/bin/tansu, PATH) \
                 and CI / KAFKIT_REQUIRE_TANSU is set: run .ci/run or set KAFKIT_TANSU"
            );
            eprintln!("tansu not installed: skipping this test (set KAFKIT_TANSU=/path/to/tansu)");
            return None;
        };
        // The port is free when asked for; another process may take it
        // before tansu binds it, so try a few.
        let mut last = String::new();
        for _ in 0..3 {
            match Self::spawn(&bin) {
                Ok(t) => return Some(t),
                Err(e) => last = e,
            }
        }
        panic!("tansu did not start: {last}");
    }

    fn spawn(bin: &Path) -> Result<Self, String> {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map_err(|e| format!("no free port: {e}"))?
            .port();
        let url = format!("tcp://127.0.0.1:{port}");
        let log = std::env::temp_dir().join(format!("kafkit-tansu-{port}.log"));
        let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let child = Command::new(bin)
            .args(["broker", "--cluster-id", "kafkit-tests"])
            .args(["--listener-url", &url, "--advertised-listener-url", &url])
            .args(["--storage-engine", "memory://tansu/"])
            .env("RUST_LOG", "warn")
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|e| format!("{}: {e}", bin.display()))?;
        let mut tansu = Self {
            child,
            bootstrap: format!("127.0.0.1:{port}"),
            log,
        };
        tansu.wait_ready(Duration::from_secs(30))?;
        Ok(tansu)
    }

    /// Waits until the broker answers an ApiVersions request.
    fn wait_ready(&mut self, timeout: Duration) -> Result<(), String> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Err(format!("tansu exited ({status}): {}", self.log_tail()));
            }
            match api_versions(&self.bootstrap) {
                Ok(()) => return Ok(()),
                Err(e) if Instant::now() > deadline => {
                    return Err(format!(
                        "no ApiVersions answer within {timeout:?}: {e}; {}",
                        self.log_tail()
                    ))
                }
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }

    /// The end of the broker's output, for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let start = text.len().saturating_sub(2000);
        let start = (start..text.len())
            .find(|&i| text.is_char_boundary(i))
            .unwrap_or(0);
        format!("log {}:\n{}", self.log.display(), &text[start..])
    }
}

impl Drop for Tansu {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if !std::thread::panicking() {
            let _ = std::fs::remove_file(&self.log);
        }
    }
}

/// One ApiVersions v0 round trip over a plain socket.
fn api_versions(addr: &str) -> Result<(), String> {
    let mut stream = TcpStream::connect(addr).map_err(|e| e.to_string())?;
    stream
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;
    let mut out = BytesMut::new();
    encode_request(
        &ApiVersionsRequest::default(),
        0,
        1,
        Some("kafkit-probe"),
        &mut out,
    )
    .map_err(|e| e.to_string())?;
    stream.write_all(&out).map_err(|e| e.to_string())?;
    let mut buf = BytesMut::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(frame) = try_parse_frame(&mut buf, 1 << 20).map_err(|e| e.to_string())? {
            let (_, resp) =
                decode_response::<ApiVersionsRequest>(frame, 0).map_err(|e| e.to_string())?;
            return if resp.error_code.is_ok() && !resp.api_keys.is_empty() {
                Ok(())
            } else {
                Err(format!("ApiVersions answered {}", resp.error_code))
            };
        }
        let n = stream.read(&mut chunk).map_err(|e| e.to_string())?;
        if n == 0 {
            return Err("connection closed".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}
