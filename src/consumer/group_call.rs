//! One group request on the coordinator connection, at the version the
//! member allows: the exchange the group driver (`group.rs`) runs for each
//! of the member's outbound requests.

use std::time::Duration;

use crate::cluster::route;
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
    /// The member judges the response (its error codes are inputs of its
    /// state machine), so this is the call path's single exchange: the
    /// version negotiated by `route::version_for` under the member's cap,
    /// no retry here (the member decides).
    async fn exchange<C: GroupCall>(&self, call: &C) -> Result<GroupResponse> {
        let version = route::version_for::<C::Request>(self.conn, self.max_version)?;
        let request = call.to_request(version).map_err(Error::from)?;
        (self.sent)(version);
        let answer = route::exchange(self.conn, &request, version, self.timeout).await?;
        Ok(C::into_response(answer.body))
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
