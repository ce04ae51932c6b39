//! Renew acknowledgements (KIP-1222): which leaders take them.

use crate::error::{Error, Result};
use crate::protocol::ApiKey;

/// Renew acknowledgements need ShareFetch / ShareAcknowledge v2 (KIP-1222).
pub(crate) fn renew_supported(broker: &str, share_fetch_version: i16) -> Result<()> {
    if share_fetch_version >= 2 {
        return Ok(());
    }
    Err(Error::UnsupportedVersion {
        broker: broker.to_owned(),
        api: ApiKey::SHARE_FETCH,
        version: share_fetch_version,
        what: "renew acknowledgements (KIP-1222, v2+)".into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewals_need_share_fetch_v2() {
        assert!(renew_supported("b:9092", 2).is_ok());
        let e = renew_supported("b:9092", 1).unwrap_err();
        assert_eq!(
            e.to_string(),
            "ShareFetch(78) v1 at broker b:9092 cannot carry renew acknowledgements (KIP-1222, v2+)"
        );
    }
}
