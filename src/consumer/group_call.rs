//! One group request on the coordinator connection, at the version the
//! member allows: the exchange the group driver (`group.rs`) runs for each
//! of the member's outbound requests.

use std::time::Duration;

use crate::connection::BrokerConnection;
use crate::error::{Error, Result};
use crate::group::{GroupCall, GroupRequest, GroupResponse};

/// One group request on `conn`: at the highest version both sides support,
/// at most `max_version` (the member's cap for a broker that kept dropping
/// the connection on a higher one), waiting up to `timeout` (the member's
/// per-request deadline: a JoinGroup may wait up to the rebalance timeout,
/// longer than the connection's request timeout). `sent` hears the version
/// before the request goes out.
pub(super) struct Call<'a, F: Fn(i16)> {
    pub(super) conn: &'a BrokerConnection,
    pub(super) max_version: Option<i16>,
    pub(super) timeout: Duration,
    pub(super) sent: F,
}

impl<F: Fn(i16)> Call<'_, F> {
    async fn exchange<C: GroupCall>(&self, call: &C) -> Result<GroupResponse> {
        let version = self.version::<C::Request>()?;
        let request = call.to_request(version).map_err(Error::from)?;
        (self.sent)(version);
        Ok(C::into_response(
            self.conn
                .send_at_within(&request, version, self.timeout)
                .await?,
        ))
    }

    /// The negotiated version, lowered to the cap if the broker has one at
    /// or below it (else its lowest: the cap is a hint, not a refusal).
    fn version<R: crate::protocol::Request>(&self) -> Result<i16> {
        let negotiated = self.conn.version_for::<R>()?;
        let Some(cap) = self.max_version.filter(|cap| *cap < negotiated) else {
            return Ok(negotiated);
        };
        let theirs = self.conn.broker_versions(R::API_KEY).unwrap_or(R::VERSIONS);
        let allowed = crate::protocol::VersionRange::new(theirs.min, theirs.max.min(cap));
        Ok(R::VERSIONS
            .highest_common(&allowed)
            .unwrap_or(R::VERSIONS.min.max(theirs.min)))
    }

    pub(super) async fn any(&self, request: &GroupRequest) -> Result<GroupResponse> {
        match request {
            GroupRequest::FindCoordinator(c) => self.exchange(c).await,
            GroupRequest::JoinGroup(c) => self.exchange(c).await,
            GroupRequest::SyncGroup(c) => self.exchange(c).await,
            GroupRequest::Heartbeat(c) => self.exchange(c).await,
            GroupRequest::LeaveGroup(c) => self.exchange(c).await,
            GroupRequest::OffsetCommit(c) => self.exchange(c).await,
            GroupRequest::OffsetFetch(c) => self.exchange(c).await,
            other => Err(Error::InvalidState {
                operation: "group request",
                reason: format!("{} has no exchange in this driver", other.api_key()),
            }),
        }
    }
}
