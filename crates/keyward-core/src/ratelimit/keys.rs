//! Rate limits of keys and identities in `keys.verifyKey`.
//!
//! A cached key carries its limits and its identity's ([`KeyLimit`], loaded with the key, so a
//! verification with limits does no I/O for them); a key's limit wins over its identity's of the
//! same name. A verification applies every auto-applied limit (cost 1) and each limit it names
//! (with its `cost`), or an ad-hoc one (`limit` and `duration` given: counted per key). All of a
//! verification's limits are decided together: if one rejects, none is charged.

use std::collections::BTreeMap;
use std::sync::Arc;

use keyward_store::ratelimits::LimitRecord;
use keyward_types::ErrorCode;
use keyward_types::keys::{RatelimitResponse, VerifyRatelimit, VerifyRatelimitResult};

use super::{Check, CounterKey, Decision};
use crate::error::{ApiError, ApiResult};

/// A limit of a cached key, its own or its identity's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyLimit {
    /// `rl_…`: the counter's scope.
    pub id: Arc<str>,
    pub name: Box<str>,
    pub limit: i64,
    pub duration: i64,
    pub auto_apply: bool,
    /// Who is counted: the key (its id), or every key of the identity (the identity's id).
    pub identifier: Box<str>,
}

/// The limits that apply to a key: its own, and those of `identity_id` it has no limit of the
/// same name of, by name.
pub fn key_limits(
    key_id: &str,
    identity_id: Option<&str>,
    records: Vec<LimitRecord>,
) -> Option<Box<[KeyLimit]>> {
    let mut by_name: BTreeMap<String, KeyLimit> = BTreeMap::new();
    for record in records {
        let own = record.key_id.as_deref() == Some(key_id);
        let identifier = match (own, identity_id) {
            (true, _) => key_id,
            (false, Some(identity)) if record.identity_id.as_deref() == Some(identity) => identity,
            _ => continue,
        };
        if !own && by_name.contains_key(&record.name) {
            continue;
        }
        by_name.insert(
            record.name.clone(),
            KeyLimit {
                id: Arc::from(record.id),
                name: record.name.into_boxed_str(),
                limit: record.max_requests,
                duration: record.duration,
                auto_apply: record.auto_apply,
                identifier: identifier.into(),
            },
        );
    }
    (!by_name.is_empty()).then(|| by_name.into_values().collect())
}

/// The wire form of stored limits.
pub fn views(records: &[LimitRecord]) -> Option<Vec<RatelimitResponse>> {
    (!records.is_empty()).then(|| {
        records
            .iter()
            .map(|r| RatelimitResponse {
                id: r.id.clone(),
                name: r.name.clone(),
                limit: r.max_requests,
                duration: r.duration,
                auto_apply: r.auto_apply,
            })
            .collect()
    })
}

/// One limit a verification checks.
#[derive(Debug, Clone)]
pub struct Planned {
    /// `""` for an ad-hoc limit (Unkey's answer has no id for it).
    pub id: Arc<str>,
    pub name: Box<str>,
    pub duration: i64,
    pub auto_apply: bool,
    pub check: Check,
}

/// The limits a verification of a key with `limits` checks, by name; 412 for a requested name
/// the key and its identity lack (naming both, as Unkey's detail does).
pub fn plan(
    key_id: &str,
    identity: Option<(&str, &str)>,
    limits: Option<&[KeyLimit]>,
    requested: Option<&[VerifyRatelimit]>,
) -> ApiResult<Vec<Planned>> {
    let limits = limits.unwrap_or_default();
    let mut planned: BTreeMap<&str, Planned> = BTreeMap::new();
    let configured = |limit: &KeyLimit, cost: i64| Planned {
        id: Arc::clone(&limit.id),
        name: limit.name.clone(),
        duration: limit.duration,
        auto_apply: limit.auto_apply,
        check: Check {
            key: CounterKey {
                scope: Arc::clone(&limit.id),
                identifier: limit.identifier.clone(),
                duration: limit.duration,
            },
            limit: limit.limit,
            cost,
        },
    };
    for limit in limits.iter().filter(|l| l.auto_apply) {
        planned.insert(&limit.name, configured(limit, 1));
    }
    for request in requested.unwrap_or_default() {
        let cost = request.cost.unwrap_or(1);
        if let (Some(limit), Some(duration)) = (request.limit, request.duration) {
            planned.insert(
                &request.name,
                Planned {
                    id: Arc::from(""),
                    name: request.name.clone().into_boxed_str(),
                    duration,
                    auto_apply: false,
                    check: Check {
                        key: CounterKey {
                            scope: Arc::from(format!("adhoc:{}", request.name)),
                            identifier: key_id.into(),
                            duration,
                        },
                        limit,
                        cost,
                    },
                },
            );
            continue;
        }
        let Some(limit) = limits.iter().find(|l| *l.name == *request.name) else {
            let owner = match identity {
                Some((id, external_id)) => {
                    format!("key '{key_id}' nor identity '{id}' (externalId '{external_id}')")
                }
                None => format!("key '{key_id}', which has no identity,"),
            };
            return Err(ApiError::new(
                ErrorCode::PreconditionFailed,
                format!(
                    "ratelimit '{}' was requested but neither {owner} has a limit of that name. \
                     Give it one (keys.updateKey or identities.updateIdentity ratelimits), or pass \
                     limit and duration for an ad-hoc limit.",
                    request.name
                ),
            ));
        };
        planned.insert(&limit.name, configured(limit, cost));
    }
    Ok(planned.into_values().collect())
}

/// The checks of `planned`, for [`super::Limiter::decide`].
pub fn checks(planned: &[Planned]) -> Vec<Check> {
    planned.iter().map(|p| p.check.clone()).collect()
}

/// What the answer reports of each limit after `decision`; `refunded` when the charges were
/// taken back (the verification was refused for its credits), so each passed limit has its cost
/// back.
pub fn results(
    planned: &[Planned],
    decision: &Decision,
    refunded: bool,
) -> Vec<VerifyRatelimitResult> {
    planned
        .iter()
        .zip(&decision.outcomes)
        .map(|(p, outcome)| VerifyRatelimitResult {
            exceeded: !outcome.passed,
            id: p.id.to_string(),
            name: p.name.to_string(),
            limit: p.check.limit,
            duration: p.duration,
            reset: outcome.reset,
            remaining: if refunded && outcome.passed {
                (outcome.remaining + p.check.cost).min(p.check.limit)
            } else {
                outcome.remaining
            },
            auto_apply: p.auto_apply,
        })
        .collect()
}
