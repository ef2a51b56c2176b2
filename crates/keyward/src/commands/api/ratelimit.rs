//! `keyward api ratelimit …`

use keyward_types::operations as op;
use keyward_types::ratelimit::{
    LimitRequest, ListOverridesRequest, MultiLimitRequest, OverrideRequest, SetOverrideRequest,
};

use super::Ctx;
use crate::args::Json;
use crate::args::api::ratelimit::RatelimitCommand;
use crate::error::CliResult;
use crate::output::{Column, col};

const OVERRIDE_COLUMNS: &[Column] = &[
    col("ID", "/overrideId"),
    col("IDENTIFIER", "/identifier"),
    col("LIMIT", "/limit"),
    col("DURATION", "/duration"),
];

pub async fn run(ctx: &Ctx, command: RatelimitCommand) -> CliResult {
    match command {
        RatelimitCommand::Limit(a) => {
            let request = LimitRequest {
                namespace: a.namespace,
                identifier: a.identifier,
                limit: a.limit,
                duration: a.duration,
                cost: a.cost,
            };
            ctx.call::<op::Limit>(&request, &[]).await
        }
        RatelimitCommand::MultiLimit(a) => {
            let Json(limits) = a.limits_json;
            ctx.call::<op::MultiLimit>(&MultiLimitRequest(limits), &[])
                .await
        }
        RatelimitCommand::SetOverride(a) => {
            let request = SetOverrideRequest {
                namespace: a.namespace,
                identifier: a.identifier,
                limit: a.limit,
                duration: a.duration,
            };
            ctx.call::<op::SetOverride>(&request, &[]).await
        }
        RatelimitCommand::GetOverride(a) => {
            let request = OverrideRequest {
                namespace: a.namespace,
                identifier: a.identifier,
            };
            ctx.call::<op::GetOverride>(&request, &[]).await
        }
        RatelimitCommand::ListOverrides(a) => {
            let request = ListOverridesRequest {
                namespace: a.namespace,
                cursor: a.cursor,
                limit: a.limit,
            };
            ctx.call::<op::ListOverrides>(&request, OVERRIDE_COLUMNS)
                .await
        }
        RatelimitCommand::DeleteOverride(a) => {
            let request = OverrideRequest {
                namespace: a.namespace,
                identifier: a.identifier,
            };
            ctx.call::<op::DeleteOverride>(&request, &[]).await
        }
    }
}
