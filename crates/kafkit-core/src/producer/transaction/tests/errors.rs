//! The error classes: fatal, abortable, retriable, coordinator moved, and
//! the typed errors of invalid transitions.

use std::time::Instant;

use super::*;

#[test]
fn fatal_errors_make_the_producer_unusable() {
    for error in [
        ErrorCode::PRODUCER_FENCED,
        ErrorCode::INVALID_PRODUCER_EPOCH,
        ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED,
        ErrorCode::UNSUPPORTED_VERSION,
    ] {
        let t0 = Instant::now();
        let mut m = adding(t0);
        m.on_response(added("out", &[(0, ErrorCode::NONE)]), t0)
            .expect("ok");
        m.commit().expect("commit");
        m.poll_request(t0).expect("EndTxn");
        m.on_response(ended(error, -1, -1), t0).expect("answer");
        assert_eq!(m.state(), TxnState::FatalError, "{error:?}");
        let fatal = TxnError::Fatal {
            api: ApiKey::END_TXN,
            error,
        };
        assert_eq!(m.last_error(), Some(&fatal));
        assert!(fatal.to_string().contains("unusable"), "{fatal}");
        assert_eq!(m.begin_transaction(), Err(fatal.clone()));
        assert_eq!(m.abort(), Err(fatal.clone()));
        assert_eq!(m.poll_request(t0 + BACKOFF * 10), None);
        let events: Vec<_> = std::iter::from_fn(|| m.poll_event()).collect();
        assert_eq!(events.last(), Some(&TxnEvent::Failed(fatal)));
    }
}

#[test]
fn an_abortable_error_allows_only_abort_then_carries_on() {
    let t0 = Instant::now();
    let mut m = adding(t0);
    m.on_response(added("out", &[(0, ErrorCode::TRANSACTION_ABORTABLE)]), t0)
        .expect("answer");
    assert_eq!(m.state(), TxnState::AbortableError);
    let Some(TxnError::Abortable {
        api,
        error,
        partition,
    }) = m.last_error().cloned()
    else {
        panic!("{:?}", m.last_error());
    };
    assert_eq!(
        (api, error, partition),
        (
            ApiKey::ADD_PARTITIONS_TO_TXN,
            ErrorCode::TRANSACTION_ABORTABLE,
            Some(("out".to_string(), 0))
        )
    );
    assert!(matches!(m.commit(), Err(TxnError::Abortable { .. })));
    assert!(matches!(
        m.add_partition(tp("out", 1)),
        Err(TxnError::Abortable { .. })
    ));
    m.abort().expect("abort");
    assert_eq!(m.state(), TxnState::Aborting);
    end_ok(&mut m, t0, false, (-1, -1));
    assert_eq!(m.state(), TxnState::Ready);
    m.begin_transaction().expect("the producer carries on");
}

#[test]
fn a_lost_generation_fails_the_offset_commit_abortably() {
    for error in [
        ErrorCode::ILLEGAL_GENERATION,
        ErrorCode::UNKNOWN_MEMBER_ID,
        ErrorCode::FENCED_INSTANCE_ID,
    ] {
        let t0 = Instant::now();
        let mut m = ready(t0);
        m.set_transaction_version(2);
        m.begin_transaction().expect("begin");
        let group = GroupMetadata {
            group_id: "g".into(),
            generation_id: 1,
            member_id: "m".into(),
            group_instance_id: None,
        };
        m.send_offsets(Vec::new(), group).expect("offsets");
        m.commit().expect("commit queued behind the offsets");
        m.poll_request(t0).expect("TxnOffsetCommit");
        m.on_response(offsets_committed(error), t0).expect("answer");
        assert_eq!(m.state(), TxnState::AbortableError, "{error:?}");
        assert_eq!(
            m.poll_request(t0),
            None,
            "the queued EndTxn commit is dropped"
        );
    }
}

#[test]
fn invalid_transitions_are_typed_errors() {
    let mut m = manager();
    let invalid = |state, operation| Err(TxnError::InvalidTransition { state, operation });
    assert_eq!(
        m.begin_transaction(),
        invalid(TxnState::Uninitialized, "begin_transaction")
    );
    assert_eq!(m.commit(), invalid(TxnState::Uninitialized, "commit"));
    m.init_transactions().expect("init");
    assert_eq!(
        m.init_transactions(),
        invalid(TxnState::Initializing, "init_transactions")
    );
    let t0 = Instant::now();
    let mut m = ready(t0);
    assert_eq!(m.abort(), invalid(TxnState::Ready, "abort"));
    assert_eq!(
        m.add_partition(tp("t", 0)),
        invalid(TxnState::Ready, "add_partition").map(|()| false)
    );
    m.begin_transaction().expect("begin");
    assert_eq!(
        m.begin_transaction(),
        invalid(TxnState::InTransaction, "begin_transaction")
    );
    let empty = GroupMetadata {
        group_id: String::new(),
        generation_id: -1,
        member_id: String::new(),
        group_instance_id: None,
    };
    assert_eq!(
        m.send_offsets(Vec::new(), empty),
        Err(TxnError::InvalidArgument("group id is empty"))
    );
    assert!(TransactionManager::new(TxnConfig::new("")).is_err());
}

#[test]
fn a_transaction_that_sent_nothing_ends_locally() {
    let t0 = Instant::now();
    let mut m = ready(t0);
    m.begin_transaction().expect("begin");
    m.commit().expect("commit");
    assert_eq!(m.state(), TxnState::Ready);
    assert_eq!(m.poll_event(), Some(TxnEvent::Committed));
    assert_eq!(m.poll_request(t0), None, "no EndTxn");
    m.begin_transaction().expect("begin");
    m.abort().expect("abort");
    assert_eq!(m.poll_event(), Some(TxnEvent::Aborted));
}

#[test]
fn a_response_to_nothing_in_flight_is_rejected() {
    let t0 = Instant::now();
    let mut m = adding(t0);
    assert_eq!(
        m.on_response(ended(ErrorCode::NONE, -1, -1), t0),
        Err(TxnError::UnexpectedResponse {
            expected: Some(ApiKey::ADD_PARTITIONS_TO_TXN),
            got: ApiKey::END_TXN
        })
    );
    assert!(m.has_in_flight(), "the request in flight still waits");
    m.on_response(added("out", &[(0, ErrorCode::NONE)]), t0)
        .expect("ok");
}

#[test]
fn a_lost_connection_looks_up_the_coordinator_again() {
    let t0 = Instant::now();
    let mut m = adding(t0);
    m.on_request_failed(t0);
    assert_eq!(m.poll_request(t0), None);
    let again = m.poll_request(t0 + BACKOFF).expect("retry");
    assert!(matches!(again.request, TxnRequest::AddPartitionsToTxn(_)));
    assert!(again.rediscover, "find the coordinator again");
}

#[test]
fn a_failed_lookup_retries_or_fails_as_the_java_client_does() {
    let t0 = Instant::now();
    let mut m = adding(t0);
    m.on_coordinator_error(ErrorCode::COORDINATOR_NOT_AVAILABLE, t0);
    assert_eq!(m.state(), TxnState::InTransaction);
    assert_eq!(m.poll_request(t0), None, "backing off");
    let again = m.poll_request(t0 + BACKOFF).expect("retry");
    assert!(matches!(again.request, TxnRequest::AddPartitionsToTxn(_)));
    m.on_coordinator_error(ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, t0);
    assert_eq!(m.state(), TxnState::FatalError);
    assert_eq!(
        m.last_error(),
        Some(&TxnError::Fatal {
            api: ApiKey::FIND_COORDINATOR,
            error: ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED
        })
    );
}

#[test]
fn produce_errors_fail_the_transaction_or_the_producer() {
    let t0 = Instant::now();
    let mut m = adding(t0);
    m.on_produce_error(&tp("out", 0), ErrorCode::TOPIC_AUTHORIZATION_FAILED);
    assert_eq!(m.state(), TxnState::AbortableError);
    let mut m = adding(t0);
    m.on_produce_error(&tp("out", 0), ErrorCode::PRODUCER_FENCED);
    assert_eq!(m.state(), TxnState::FatalError);
}

#[test]
fn an_abort_drops_an_add_that_must_be_retried() {
    let t0 = Instant::now();
    let mut m = adding(t0);
    m.abort().expect("abort while the add is in flight");
    m.on_response(added("out", &[(0, ErrorCode::CONCURRENT_TRANSACTIONS)]), t0)
        .expect("answer");
    let out = m.poll_request(t0 + BACKOFF).expect("EndTxn, not the add");
    assert!(matches!(
        out.request,
        TxnRequest::EndTxn(EndTxnRequest {
            committed: false,
            ..
        })
    ));
}

#[test]
fn errors_are_classified_as_the_java_client_does() {
    use ErrorClass::*;
    let add = ApiKey::ADD_PARTITIONS_TO_TXN;
    let commit = ApiKey::TXN_OFFSET_COMMIT;
    for (api, code, class) in [
        (add, ErrorCode::NONE, None),
        (add, ErrorCode::NOT_COORDINATOR, CoordinatorMoved),
        (add, ErrorCode::COORDINATOR_NOT_AVAILABLE, CoordinatorMoved),
        (
            add,
            ErrorCode::COORDINATOR_LOAD_IN_PROGRESS,
            RetryAfterBackoff,
        ),
        (add, ErrorCode::CONCURRENT_TRANSACTIONS, RetryAfterBackoff),
        (add, ErrorCode::PRODUCER_FENCED, Fatal),
        (add, ErrorCode::INVALID_PRODUCER_EPOCH, Fatal),
        (add, ErrorCode::TRANSACTIONAL_ID_AUTHORIZATION_FAILED, Fatal),
        (add, ErrorCode::UNSUPPORTED_VERSION, Fatal),
        (add, ErrorCode::INVALID_TXN_STATE, Fatal),
        (add, ErrorCode::TRANSACTION_ABORTABLE, Abortable),
        (add, ErrorCode::TOPIC_AUTHORIZATION_FAILED, Abortable),
        (add, ErrorCode::ILLEGAL_GENERATION, Fatal),
        (commit, ErrorCode::ILLEGAL_GENERATION, Abortable),
        (commit, ErrorCode::GROUP_AUTHORIZATION_FAILED, Abortable),
    ] {
        assert_eq!(classify(api, code), class, "{api:?} {code:?}");
    }
}
