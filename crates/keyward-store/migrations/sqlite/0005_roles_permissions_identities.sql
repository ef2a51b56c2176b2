-- Roles and permissions of keys, identities that can be deleted, root keys that can be disabled,
-- expire and say when they were last used.

-- Permissions your keys can hold, named by a slug (`documents.read`) that verifyKey's permission
-- query matches exactly. A slug is unique in its workspace whatever its case (Unkey's rule):
-- `Documents.Read` and `documents.read` are one permission. Erased when deleted (as Unkey does),
-- and with them every link to keys and roles; audit events keep their names.
create table permissions (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    name          text not null,
    slug          text not null,
    description   text,
    created_at    integer not null,
    updated_at    integer
);
create unique index permissions_by_slug on permissions (workspace_id, lower(slug));
create index permissions_by_workspace on permissions (workspace_id, id);

-- Named sets of permissions; a key holds its direct permissions and those of its roles.
create table roles (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    name          text not null,
    description   text,
    created_at    integer not null,
    updated_at    integer
);
create unique index roles_by_name on roles (workspace_id, name);
create index roles_by_workspace on roles (workspace_id, id);

create table roles_permissions (
    role_id        text not null references roles (id) on delete cascade,
    permission_id  text not null references permissions (id) on delete cascade,
    created_at     integer not null,
    primary key (role_id, permission_id)
);
create index roles_permissions_by_permission on roles_permissions (permission_id);

create table keys_permissions (
    key_id         text not null references keys (id) on delete cascade,
    permission_id  text not null references permissions (id) on delete cascade,
    created_at     integer not null,
    primary key (key_id, permission_id)
);
create index keys_permissions_by_permission on keys_permissions (permission_id);

create table keys_roles (
    key_id      text not null references keys (id) on delete cascade,
    role_id     text not null references roles (id) on delete cascade,
    created_at  integer not null,
    primary key (key_id, role_id)
);
create index keys_roles_by_role on keys_roles (role_id);

-- Identities are soft-deleted (`deleted_at`), and a deleted identity's externalId can be given
-- to a new one at once: the externalId is unique among live identities only. SQLite cannot drop
-- the table's `unique (workspace_id, external_id)`, so the table is rebuilt with the same ids.
-- `keys.identity_id` references it by name: with foreign-key checks deferred to the commit, the
-- old table is dropped and its rows inserted into the new one, which satisfies those references
-- again before the commit checks them.
pragma defer_foreign_keys = on;
create table identities_0005 as
    select id, workspace_id, external_id, meta, created_at, updated_at from identities;
drop table identities;
create table identities (
    id            text primary key,
    workspace_id  text not null references workspaces (id),
    external_id   text not null,
    meta          text,
    created_at    integer not null,
    updated_at    integer,
    deleted_at    integer
);
insert into identities (id, workspace_id, external_id, meta, created_at, updated_at)
    select id, workspace_id, external_id, meta, created_at, updated_at from identities_0005;
drop table identities_0005;
create unique index identities_by_external_id on identities (workspace_id, external_id)
    where deleted_at is null;
create index identities_by_workspace on identities (workspace_id, id);

-- Root keys can be disabled (403 while so), expire (unix ms), and record when they last
-- authenticated a request (unix ms, to the minute).
alter table root_keys add column enabled boolean not null default true;
alter table root_keys add column expires_at integer;
alter table root_keys add column updated_at integer;
alter table root_keys add column last_used_at integer;
