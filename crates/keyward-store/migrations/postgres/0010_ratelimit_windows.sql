-- The shared rate-limit engine (`--ratelimit-engine database`, keyward-core's
-- ratelimit::shared): the admitted cost of each window of each counter, written by every node
-- in the decision's own statement, so a limit is exact however many nodes serve it. A window
-- weighs nothing from `expires_at` = (sequence + 2) × duration on; housekeeping deletes it then.
create table ratelimit_windows (
    scope      text not null,
    identifier text not null,
    duration   bigint not null,
    sequence   bigint not null,
    count      bigint not null,
    expires_at bigint not null,
    primary key (scope, identifier, duration, sequence)
);
create index ratelimit_windows_expiry on ratelimit_windows (expires_at);
