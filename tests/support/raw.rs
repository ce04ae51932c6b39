//! A raw broker connection speaking only kafkit's framing and codecs.

use std::fmt::Debug;

use bytes::{Bytes, BytesMut};
use kafkit::protocol::frame::{decode_response_strict, DEFAULT_MAX_FRAME_SIZE};
use kafkit::protocol::try_parse_frame;

use super::golden::mock_appends_extra_tag_byte;

/// A bare broker connection for tests: one TCP socket, kafkit framing and
/// codecs only, requests answered in order.
pub struct RawConnection {
    stream: tokio::net::TcpStream,
    buf: BytesMut,
    next_correlation_id: i32,
}

impl RawConnection {
    /// Connects to `addr` (`host:port`).
    pub async fn connect(addr: &str) -> std::io::Result<Self> {
        Ok(Self {
            stream: tokio::net::TcpStream::connect(addr).await?,
            buf: BytesMut::new(),
            next_correlation_id: 1,
        })
    }

    /// Sends `req` at `version` and returns the response frame body (after the
    /// size prefix), checking its correlation id.
    pub async fn round_trip<R: kafkit::protocol::Request>(
        &mut self,
        req: &R,
        version: i16,
    ) -> Bytes {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let correlation_id = self.next_correlation_id;
        self.next_correlation_id += 1;
        let mut out = BytesMut::new();
        kafkit::protocol::encode_request(
            req,
            version,
            correlation_id,
            Some("kafkit-live"),
            &mut out,
        )
        .unwrap_or_else(|e| panic!("encode {:?} v{version}: {e}", R::API_KEY));
        self.stream.write_all(&out).await.expect("send request");
        let frame = loop {
            if let Some(frame) =
                try_parse_frame(&mut self.buf, DEFAULT_MAX_FRAME_SIZE).expect("frame")
            {
                break frame;
            }
            let n = tokio::time::timeout(
                std::time::Duration::from_secs(10),
                self.stream.read_buf(&mut self.buf),
            )
            .await
            .unwrap_or_else(|_| panic!("no answer to {:?} v{version}", R::API_KEY))
            .expect("read");
            assert!(
                n > 0,
                "broker closed the connection after {:?} v{version}",
                R::API_KEY
            );
        };
        let got = kafkit::protocol::frame::peek_correlation_id(&frame).expect("correlation id");
        assert_eq!(got, correlation_id, "{:?} v{version}", R::API_KEY);
        frame
    }

    /// Sends `req` at `version` and decodes the answer strictly (no byte left
    /// over), except for the mock's known extra tag byte, which must be exactly
    /// one zero byte.
    pub async fn call<R: kafkit::protocol::Request>(&mut self, req: &R, version: i16) -> R::Response
    where
        R::Response: Debug,
    {
        let mut frame = self.round_trip(req, version).await;
        if mock_appends_extra_tag_byte(R::API_KEY.0, version) {
            assert_eq!(
                frame.last(),
                Some(&0),
                "{:?} v{version}: extra tag byte",
                R::API_KEY
            );
            frame = frame.slice(..frame.len() - 1);
        }
        decode_response_strict::<R::Response>(frame, version)
            .unwrap_or_else(|e| panic!("decode {:?} v{version} response: {e}", R::API_KEY))
            .1
    }
}
